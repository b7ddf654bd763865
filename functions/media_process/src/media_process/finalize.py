"""Counting a finished file exactly once, as the row its job's status calls for, and what a
cancelled job leaves behind (nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from media_process.context import DERIVED_NAMES, Ctx
from media_triage_shared import keys
from media_triage_shared.errors import JobCancelled, JobStateChanged
from media_triage_shared.keys import UploadKey
from media_triage_shared.logging import get_logger
from media_triage_shared.models import (
    CLOSED_JOB_STATUSES,
    FileError,
    FileRow,
    FileStatus,
    JobStatus,
)
from media_triage_shared.ports import JobReader

LATE = "late"  # the error code of a file finalised after its job's triage started
LATE_MESSAGE = (
    "the file arrived after this job's triage had started, so it was not judged; "
    "upload it again in a new job"
)
# Finalise attempts while the job's status moves (open -> closed, or a failed job retried).
_FINALIZE_TRIES = 4

log = get_logger()


@dataclass(frozen=True, slots=True)
class Outcome:
    row: FileRow
    counted: bool
    job_cancelled: bool = False  # skipped (or not finalised): the job was cancelled
    already_counted: bool = False  # an earlier (or concurrent) delivery counted the file

    @property
    def settled(self) -> bool:
        """The file is final and counted, by this delivery or an earlier one: whoever sees it
        settled checks whether the job is ready (a retry after a crash between the count and
        the wake-up must wake the state machine too)."""
        return self.counted or self.already_counted


def finalize(ctx: Ctx, final: FileRow, stall_deadline: str) -> Outcome:
    """Count the file once, as the row its job's status calls for: ``final`` while the job is
    open, a ``late`` row once its triage started (the guarded transaction says which)."""
    row, closed = final, False
    for _ in range(_FINALIZE_TRIES):
        try:
            counted = ctx.files.finalize(row, stall_deadline=stall_deadline, job_closed=closed)
        except JobCancelled:  # cancelled while we worked: nothing is counted, nothing stays
            log.info("media.job_cancelled", stage="after")
            discard(ctx)
            return Outcome(row, counted=False, job_cancelled=True)
        except JobStateChanged as exc:
            closed = exc.status in {s.value for s in CLOSED_JOB_STATUSES}
            row = _late(final) if closed else final
            continue
        break
    else:
        raise RuntimeError(f"job {final.job_id} kept changing status while a file was counted")
    if not counted:  # a concurrent delivery counted it first
        if cancelled(ctx.jobs, ctx.upload):  # ...and DELETE swept since: ours must go too
            log.info("media.job_cancelled", stage="after_count")
            discard(ctx)
            return Outcome(row, counted=False, job_cancelled=True)
        return Outcome(row, counted=False, already_counted=True)
    if closed:
        log.info("media.late", status=final.status.value)
    if row.status is FileStatus.INVALID and row.error is not None:
        log.info("media.invalid", code=row.error.code, message=row.error.message)
    return Outcome(row, counted)


def _late(row: FileRow) -> FileRow:
    """The row of a file that arrived after its job's triage started: triage will never judge
    it, so it must not show ``valid`` (or ``duplicate``) without a verdict. A file already
    invalid keeps its own, more telling, reason."""
    if row.status is FileStatus.INVALID:
        return row
    late = row.model_copy(update={"duplicate_of": None})
    return late.model_copy(
        update={"status": FileStatus.INVALID, "error": FileError(code=LATE, message=LATE_MESSAGE)}
    )


def discard(ctx: Ctx) -> None:
    """Delete the file's original and every derived object MediaProcess may have written for
    it: the job was cancelled and DELETE's sweep may already be over. Deleting a key that is
    not there is a no-op, so no listing is needed (media-process has no s3:ListBucket)."""
    up = ctx.upload
    doomed = [
        up.key,
        *(keys.derived_key(up.session_id, up.job_id, up.file_id, name) for name in DERIVED_NAMES),
    ]
    ctx.store.delete_keys(doomed)
    log.info("media.cancelled_objects_deleted", keys=len(doomed))


def storable(row: FileRow) -> FileRow:
    """The row validated again (``model_copy`` does not validate): a value DynamoDB cannot
    store fails here, as a value error, not inside the counting transaction."""
    return FileRow.model_validate(row.model_dump())


def cancelled(jobs: JobReader, upload: UploadKey) -> bool:
    """The job was cancelled (its objects deleted). A job row not there yet is not cancelled:
    an upload may land before init's write, and is counted once the job exists."""
    job = jobs.get_job(upload.session_id, upload.job_id)
    return job is not None and job.status is JobStatus.CANCELLED
