"""What the page reads: a job's state with its file rows (the results poll) and one file's
media URLs. ``api.views`` renders the poll (body, ETag, 304).

The poll writes in one case, ``settle_orphan`` (ADR 0015): the page only polls, so the poll is
where a job whose workflow ended behind its back is failed."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from init_session.api.models import MediaResponse
from init_session.services import ApiConfig
from init_session.uploads import DEFAULT_CONTENT_TYPE
from media_triage_shared import keys
from media_triage_shared.errors import NotFound
from media_triage_shared.lifecycle import execution_name
from media_triage_shared.models import (
    LIVE_JOB_STATUSES,
    UNFINISHED_JOB_STATUSES,
    FileRow,
    FileStatus,
    JobPhase,
    JobRow,
    JobStatus,
    MediaType,
    iso,
)
from media_triage_shared.ports import Executions, FileRepository, JobRepository, ObjectStore

# Past the stall deadline the workflow acts within seconds (or is in TriageRun); this much later
# an unfinished job is worth one DescribeExecution per poll.
ORPHAN_GRACE_SECONDS = 120


class ResultsPorts(Protocol):
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def files(self) -> FileRepository: ...
    @property
    def executions(self) -> Executions: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def cfg(self) -> ApiConfig: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A job and its file rows as one poll read them."""

    job: JobRow
    files: list[FileRow]
    # file id -> thumbnail key, only keys in the job's own derived/ prefix; none once cancelled
    thumbnails: dict[str, str]
    # True: ``files`` holds only the rows stamped after the client's copy (ADR 0022)
    delta: bool = False


def settle_orphan(job: JobRow, svc: ResultsPorts, now: datetime) -> JobRow:
    """A job whose workflow ended without finishing it (the execution-timeout backstop, an
    execution stopped by hand) would otherwise be polled forever: once its stall deadline is
    well past, an execution that is no longer running fails the job, guarded by the status
    read, so a job that completes meanwhile stays complete. ``retry`` can then start anew."""
    if job.status not in UNFINISHED_JOB_STATUSES:
        return job
    if iso(now - timedelta(seconds=ORPHAN_GRACE_SECONDS)) <= job.stall_deadline:
        return job
    status = svc.executions.status(execution_name(job))
    if status == "RUNNING":
        return job
    cause = (
        f"the triage workflow ended ({status or 'not found'}) without finishing this job; "
        "retry runs it again"
    )
    svc.jobs.set_status(
        job.session_id,
        job.job_id,
        JobStatus.FAILED,
        JobPhase.FAILED,
        error=cause,
        expect=job.status,
    )
    return svc.jobs.get_job(job.session_id, job.job_id) or job


def delta_from(job: JobRow, since: tuple[int, int] | None, window: int) -> int | None:
    """The version a delta answer may start from: the client's copy, named by its cursor
    (version, thumbnail URL window), when every row it lacks is stamped above that version
    (ADR 0022). None (a whole list) when there is no cursor; when the job is not pending or
    processing (a row's rendering depends on the status: `uploading` becomes `not_uploaded`,
    verdicts appear, thumbnails go); when the copy's URLs were re-signed since (another
    window); when a row was deleted since (it has no stamp); or for a cursor the job never
    had."""
    if since is None or job.status not in LIVE_JOB_STATUSES:
        return None
    version, seen_window = since
    if seen_window not in (0, window) or version > job.version:
        return None  # (a copy of window 0 had no thumbnail URL to go stale)
    if job.removed_version is not None and job.removed_version > version:
        return None
    return version


def snapshot(job: JobRow, svc: ResultsPorts, since: int | None = None) -> Snapshot:
    """The page's poll once its ETag did not match: the job (settled first, ``settle_orphan``)
    and one paginated Query of its file rows, only those stamped after ``since`` when given
    (``delta_from``)."""
    rows = svc.files.list_files(job.job_id, since)
    derived = keys.derived_prefix(job.session_id, job.job_id)
    thumbs = {
        row.file_id: row.thumbnail_key
        for row in rows
        if row.thumbnail_key
        and row.thumbnail_key.startswith(derived)
        and job.status is not JobStatus.CANCELLED
    }
    return Snapshot(job, rows, thumbs, delta=since is not None)


# ---------------------------------------------------------------------------- one file's media

# Photo types every browser the page supports shows in an <img> as they are.
BROWSER_PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
VIEWABLE_STATUSES = frozenset({FileStatus.VALID, FileStatus.DUPLICATE})
# An ``invalid`` row with this code has no original any more (MediaProcess found it gone).
ORIGINAL_GONE = "missing"


def content_disposition(kind: str, filename: str) -> str:
    """``inline``/``attachment`` with the original filename (RFC 6266): its last path part
    without control characters, an ASCII fallback and ``filename*`` for anything else."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip() or "file"
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in name)
    header = f'{kind}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def _original_exists(row: FileRow) -> bool:
    """What the row tells about the original, without asking S3: it landed once MediaProcess
    started on it, and it stays until the job is cancelled (or the bucket's lifecycle rule)."""
    if row.status is FileStatus.UPLOADING:
        return False  # maybe on its way: not worth a HEAD per click; it shows once processing
    return not (row.error is not None and row.error.code == ORIGINAL_GONE)


def media(job: JobRow, file_id: str, svc: ResultsPorts, now: datetime) -> MediaResponse:
    """Presigned GET URLs of one file's objects, for the page's full view of it.

    Decided from the file row alone (no S3 call): thumbnailUrl, displayUrl and proxyUrl when
    MediaProcess recorded the object, originalUrl once the upload landed. While the file is
    ``uploading`` every URL is null, while ``processing`` only originalUrl is set; a cancelled
    job's objects are deleted, so its files have none. Every key is checked to lie in the
    job's own prefixes before it is signed."""
    row = svc.files.get_file(job.job_id, file_id)
    uploads = keys.upload_prefix(job.session_id, job.job_id)
    if row is None or row.session_id != job.session_id or not row.original_key.startswith(uploads):
        raise NotFound("file not found", details=[{"field": "path.fileId", "message": "unknown"}])
    expiry = svc.cfg.media_expiry_seconds
    derived = keys.derived_prefix(job.session_id, job.job_id) + f"{row.file_id}/"
    live = job.status is not JobStatus.CANCELLED

    def derived_url(key: str | None) -> str | None:
        ok = live and key is not None and key.startswith(derived)
        return svc.store.presign_get(key, expiry) if ok and key is not None else None

    original_url = None
    if live and _original_exists(row):
        known = row.mime_type is not None and row.media_type is not None
        original_url = svc.store.presign_get(
            row.original_key,
            expiry,
            content_type=row.mime_type if known else DEFAULT_CONTENT_TYPE,
            content_disposition=content_disposition(
                "inline" if known else "attachment", row.filename
            ),
        )
    display_url = None
    if row.media_type is MediaType.PHOTO and row.status in VIEWABLE_STATUSES:
        display_url = derived_url(row.display_key)
        if display_url is None and row.mime_type in BROWSER_PHOTO_TYPES:
            display_url = original_url
    return MediaResponse(
        file_id=row.file_id,
        filename=row.filename,
        media_type=row.media_type,
        thumbnail_url=derived_url(row.thumbnail_key),
        display_url=display_url,
        proxy_url=derived_url(row.proxy_key) if row.media_type is MediaType.VIDEO else None,
        original_url=original_url,
        expires_at=iso(now + timedelta(seconds=expiry)),
    )
