"""MediaProcess core: one uploaded object -> one final file row, counted exactly once.

Takes models and ports, returns models; no boto3, no environment, no logging setup. Order of
work, cheapest first, so a bad file is judged before anything expensive runs:

1. a final row already? -> a duplicate delivery: nothing to do (no second count);
2. the ``processing`` row (visible to the page at once) and the job's ``processing`` status;
3. HEAD (missing, empty), 4 KiB ranged GET -> type from content, size limits;
4. photos: decode + derive in memory; videos: ffprobe + one thumbnail frame, from a presigned
   URL (streamed);
5. the fingerprint claim (``FP#<hash>`` item, conditional put): a second identical file in the
   job becomes ``duplicate`` of the first and skips the expensive rest (display copy, proxy);
6. derived objects under ``derived/.../<fileId>/`` (never the original), then one transaction:
   final row + ``ADD processedCount 1``, guarded so it counts once per fileId.

Bad content is a value (``invalid`` + code). Metadata read from the file (EXIF, container tags)
is untrusted: a field the row refuses (NaN, inf, negative, wrong type) is dropped with a
warning, never fails the file. Transient infrastructure errors (throttling, 5xx, connection
errors; the ``transient`` predicate the handler passes) raise, so Lambda retries the event and
the guarded writes keep the retry harmless. Anything else - and a transient error on the last
attempt (the row counts MediaProcess's attempts) - finalises the file ``invalid`` with code
``internal``, counted once like any other: one bad file never costs the batch its wait
(ADR 0012).

A cancelled job leaves nothing behind (issue 13 item 6): an invocation that finds its job
cancelled - before it starts (a late upload through a still-valid presigned POST), when its
count is refused (DELETE swept while it worked), or after a concurrent delivery counted the
file - deletes the file's original and every derived object it may have written. A file that
arrives after the job's triage started is stored ``invalid`` with code ``late`` and counted,
never ``valid`` without a verdict (ADR 0003).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from media_process.context import Ctx, Limits
from media_process.finalize import (
    LATE,
    LATE_MESSAGE,
    Outcome,
    cancelled,
    discard,
    finalize,
    storable,
)
from media_process.steps import examine, invalid
from media_triage_shared.deadline import Deadline
from media_triage_shared.keys import UploadKey
from media_triage_shared.logging import get_logger
from media_triage_shared.media import MediaErrorCode
from media_triage_shared.models import FileRow, FileStatus, iso, ttl_epoch
from media_triage_shared.ports import MediaFiles, MediaJobs, MediaTool, ObjectStore

__all__ = ["LATE", "LATE_MESSAGE", "Deadline", "Limits", "Outcome", "process_upload"]

log = get_logger()

INTERNAL_MESSAGE = "processing failed unexpectedly (internal error); the original file is kept"


def never_transient(exc: Exception) -> bool:
    """The default ``transient`` predicate: no error is worth a retry (unit tests)."""
    return False


def process_upload(
    upload: UploadKey,
    *,
    store: ObjectStore,
    files: MediaFiles,
    jobs: MediaJobs,
    media: MediaTool,
    limits: Limits,
    now: datetime,
    deadline: Deadline,
    transient: Callable[[Exception], bool] = never_transient,
) -> Outcome:
    stall_deadline = iso(now + timedelta(seconds=limits.stall_timeout_seconds))
    existing = files.get_file(upload.job_id, upload.file_id)
    if existing is not None and existing.is_final:
        log.info("media.already_final", status=existing.status.value)
        # a duplicate delivery, or Lambda's retry after a crash past the count: nothing to
        # redo, but the handler still checks whether the job is ready (the wake-up)
        return Outcome(existing, counted=False, already_counted=True)
    base = _processing_row(upload, existing, limits, now)
    ctx = Ctx(upload, store, files, jobs, media, limits, deadline)
    if cancelled(jobs, upload):  # a late upload to a cancelled job: its URL was still valid
        log.info("media.job_cancelled", stage="before")  # no work, no row
        discard(ctx)  # the late original (and what an earlier attempt may have written)
        return Outcome(existing or base, counted=False, job_cancelled=True)
    if not files.start_processing(base):  # a concurrent delivery finalised it meanwhile
        current = files.get_file(upload.job_id, upload.file_id)
        return Outcome(current or base, counted=False, already_counted=True)
    jobs.mark_processing(upload.session_id, upload.job_id, stall_deadline)

    try:
        final = storable(examine(ctx, base).model_copy(update={"updated_at": iso(now)}))
        return finalize(ctx, final, stall_deadline)
    except Exception as exc:
        attempt, last = base.attempts or 1, limits.max_attempts
        if transient(exc) and attempt < last:
            log.warning(
                "media.retrying", error_type=type(exc).__name__, attempt=attempt, max_attempts=last
            )
            raise  # Lambda retries the event; the guarded writes make the retry harmless
        log.exception(
            "media.internal_error",
            error_type=type(exc).__name__,
            attempt=attempt,
            max_attempts=last,
            transient=transient(exc),
        )
    failed = invalid(base, MediaErrorCode.INTERNAL, INTERNAL_MESSAGE)
    return finalize(ctx, failed.model_copy(update={"updated_at": iso(now)}), stall_deadline)


def _processing_row(
    upload: UploadKey, existing: FileRow | None, limits: Limits, now: datetime
) -> FileRow:
    if existing is not None:  # init's ``uploading`` row: keep its name, size, type, uploadId
        return existing.model_copy(
            update={
                "status": FileStatus.PROCESSING,
                "original_key": upload.key,
                "updated_at": iso(now),
                "attempts": (existing.attempts or 0) + 1,
            }
        )
    return FileRow(
        job_id=upload.job_id,
        file_id=upload.file_id,
        session_id=upload.session_id,
        filename=upload.filename,
        original_key=upload.key,
        status=FileStatus.PROCESSING,
        created_at=iso(now),
        updated_at=iso(now),
        expires_at=ttl_epoch(now, limits.ttl_hours),
        attempts=1,
    )
