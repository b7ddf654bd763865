"""Presentation: rows -> API bodies, the results poll's weak ETag (304) and the public text of
a job's failure. The use cases return rows; the routes call these to answer."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from init_session.api.models import (
    CancelResponse,
    FileStatusView,
    JobView,
    ResultsResponse,
    RetryResponse,
    Verdict,
    Verdicts,
)
from init_session.jobs import Cancelled, Retried
from init_session.results import Snapshot
from media_triage_shared.models import (
    LIVE_JOB_STATUSES,
    FileError,
    FileRow,
    FileStatus,
    JobRow,
    JobStatus,
    VerdictKind,
)
from media_triage_shared.ports import ObjectStore

NOT_UPLOADED = FileError(code="not_uploaded", message="the file never arrived")


def job_view(job: JobRow) -> JobView:
    return JobView(
        job_id=job.job_id,
        session_id=job.session_id,
        status=job.status,
        phase=job.phase,
        expected_file_count=job.expected_file_count,
        processed_count=job.processed_count,
    )


def retry_view(retried: Retried) -> RetryResponse:
    return RetryResponse(
        **job_view(retried.job).model_dump(), execution_name=retried.execution_name
    )


def cancel_view(cancelled: Cancelled) -> CancelResponse:
    return CancelResponse(
        **job_view(cancelled.job).model_dump(),
        deleted_objects=cancelled.deleted_objects,
        aborted_uploads=cancelled.aborted_uploads,
    )


def _file_view(row: FileRow, job: JobRow) -> FileStatusView:
    status, error = row.status, row.error
    if status is FileStatus.UPLOADING and job.status not in LIVE_JOB_STATUSES:
        status, error = FileStatus.INVALID, NOT_UPLOADED  # the job moved on without it
    return FileStatusView(
        file_id=row.file_id,
        filename=row.filename,
        status=status,
        media_type=row.media_type,
        width=row.width,
        height=row.height,
        duration_seconds=row.duration_seconds,
        converted=row.converted,
        error=error,
        duplicate_of=row.duplicate_of,
    )


def _verdicts(rows: list[FileRow]) -> Verdicts:
    out: dict[VerdictKind, list[Verdict]] = {VerdictKind.KEEP: [], VerdictKind.DISCARD: []}
    for row in rows:
        if row.verdict is not None:
            out[row.verdict].append(
                Verdict(
                    file_id=row.file_id,
                    filename=row.filename,
                    verdict=row.verdict,
                    reason=row.reason,
                    score=row.score,
                    issues=row.issues or [],
                )
            )
    return Verdicts(keep=out[VerdictKind.KEEP], discard=out[VerdictKind.DISCARD])


def weak_match(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


PUBLIC_ERROR_CHARS = 300


def public_error(cause: str | None) -> str | None:
    """The job's failure as the page shows it. The row keeps the whole cause for operators;
    a Lambda failure's cause is Step Functions' JSON with a ``stackTrace``, which is internal:
    the page gets ``<errorType>: <errorMessage>``, cut to a readable length."""
    if not cause:
        return cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        kind = parsed.get("errorType")
        cause = (
            f"{kind}: {parsed['errorMessage']}" if isinstance(kind, str) else parsed["errorMessage"]
        )
    cause = " ".join(cause.split())
    if len(cause) > PUBLIC_ERROR_CHARS:
        cause = cause[: PUBLIC_ERROR_CHARS - 3].rstrip() + "..."
    return cause


# Changes when the document's shape or rules change (a deploy must not answer 304 to a copy
# rendered by the previous code).
RESULTS_FORMAT = 2


def url_window(job: JobRow, expiry: int, now: datetime) -> int:
    """While the job may have thumbnails, the current signing window of their URLs (``expiry
    // 3`` seconds long); 0 before any file was processed and once cancelled."""
    thumbs = job.processed_count > 0 and job.status is not JobStatus.CANCELLED
    return int(now.timestamp()) // max(1, expiry // 3) if thumbs else 0


def results_etag(job: JobRow, expiry: int, now: datetime) -> str:
    """The poll's weak ETag, from the job row alone (ADR 0019): its ``version``, which every
    write the document shows bumps, and, as a second guard, the fields of the job the document
    shows. It also carries the URL signing window (``url_window``), so a client's copy is
    replaced (fresh URLs) well before they expire."""
    basis = (
        RESULTS_FORMAT,
        job.job_id,
        job.version,
        str(job.status),
        str(job.phase),
        job.expected_file_count,
        job.processed_count,
        url_window(job, expiry, now),
    )
    return f'W/"{hashlib.sha256(repr(basis).encode()).hexdigest()[:32]}"'


def cursor(job: JobRow, window: int) -> str | None:
    """The body's ``cursor`` (ADR 0022): the version and URL window of the copy it renders,
    while the job is pending or processing (later answers are whole)."""
    return f"{job.version}.{window}" if job.status in LIVE_JOB_STATUSES else None


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    """``?since=`` (already checked against CURSOR_PATTERN) -> (version, window)."""
    if not text:
        return None
    version, window = text.split(".")
    return int(version), int(window)


def results_view(
    snap: Snapshot, store: ObjectStore, expiry: int, cursor: str | None = None
) -> ResultsResponse:
    """The poll's body: job, per-file statuses (all of them, or the changed ones of a delta),
    verdicts when complete, thumbnail URLs presigned locally for ``expiry`` seconds."""
    job, rows, thumbs = snap.job, snap.files, snap.thumbnails
    judged = job.summary if job.status is JobStatus.COMPLETE else None
    return ResultsResponse(
        **job_view(job).model_dump(),
        files=[
            _file_view(row, job).model_copy(
                update={"thumbnail_url": store.presign_get(thumbs[row.file_id], expiry)}
            )
            if row.file_id in thumbs
            else _file_view(row, job)
            for row in rows
        ],
        verdicts=_verdicts(rows) if job.status is JobStatus.COMPLETE else None,
        partial=job.partial,
        error=public_error(job.error),
        analyzer=judged.analyzer if judged else None,
        model=judged.model if judged else None,
        delta=snap.delta,
        cursor=cursor,
    )
