"""A job's lifecycle after its init: PATCH (expected count, keep-alive), retry, cancel.

Each returns rows and counts; ``api.views`` turns them into the response bodies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from init_session import tokens
from init_session.api.models import PatchJobRequest
from init_session.limits import LimitPorts, admit_job, take_start_token
from init_session.ports import UploadSigner
from init_session.services import ApiConfig
from init_session.sessions import require_active
from media_triage_shared import keys, lifecycle
from media_triage_shared.errors import ApiErrorCode, Conflict
from media_triage_shared.lifecycle import execution_name
from media_triage_shared.models import JobPhase, JobRow, JobStatus, TriageInput, iso
from media_triage_shared.ports import Executions, JobRepository, ObjectStore, Waker

DELETE_BATCH = 1000


class PatchPorts(Protocol):
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def executions(self) -> Executions: ...
    @property
    def waker(self) -> Waker | None: ...
    @property
    def cfg(self) -> ApiConfig: ...


class RetryPorts(LimitPorts, Protocol):
    @property
    def executions(self) -> Executions: ...
    @property
    def secrets(self) -> tokens.TokenSecrets: ...


class CancelPorts(Protocol):
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def executions(self) -> Executions: ...
    @property
    def uploads(self) -> UploadSigner: ...
    @property
    def store(self) -> ObjectStore: ...


@dataclass(frozen=True, slots=True)
class Retried:
    job: JobRow  # as the retry left it (status, phase, execution count)
    execution_name: str


@dataclass(frozen=True, slots=True)
class Cancelled:
    job: JobRow
    deleted_objects: int
    aborted_uploads: int


def patch_job(job: JobRow, req: PatchJobRequest, svc: PatchPorts, now: datetime) -> JobRow:
    """Change expectedFileCount while files are still expected. Lowering it below
    processedCount is allowed: the next poll moves on to triage. It also counts as a sign of
    life: the stall deadline moves forward, and a job whose execution ended at its timeout
    gets a successor execution (the keep-alive of a session longer than that timeout)."""
    require_active(job, "change expectedFileCount")
    deadline = iso(now + timedelta(seconds=svc.cfg.stall_timeout_seconds))
    updated = svc.jobs.set_expected_count(
        job.session_id, job.job_id, req.expected_file_count, deadline
    )
    if updated is None:  # moved on between the read and the write
        current = svc.jobs.get_job(job.session_id, job.job_id) or job
        require_active(current, "change expectedFileCount")
        raise Conflict("the job changed concurrently; try again", code=ApiErrorCode.CONFLICT)
    resumed = lifecycle.keep_running(updated, jobs=svc.jobs, executions=svc.executions, now=now)
    if (
        resumed is None
        and svc.waker is not None
        and updated.processed_count >= updated.expected_file_count
    ):
        svc.waker.wake_if_ready(job.session_id, job.job_id)  # triage now, not at the timeout
    return updated


def retry(job: JobRow, client: str, svc: RetryPorts, now: datetime) -> Retried:
    """Re-run a failed job in a new execution ``<jobId>-r<n>`` (n from an atomic counter).

    With files already processed the new execution triages them at once (the stall deadline
    is set to now); with none it waits a full stall timeout for uploads again."""
    if job.status is not JobStatus.FAILED:
        raise Conflict(
            f"only a failed job can be retried; this one is {job.status.value}",
            code=ApiErrorCode.JOB_NOT_FAILED,
            details=[{"field": "status", "message": job.status.value}],
        )
    client = tokens.client_hash(svc.secrets.current, client)
    take_start_token(client, svc, now)
    admit_job(client, job, svc, now)
    has_files = job.processed_count > 0
    wait = 0 if has_files else svc.cfg.stall_timeout_seconds
    status = JobStatus.PROCESSING if has_files else JobStatus.PENDING
    phase = JobPhase.PROCESSING_FILES if has_files else JobPhase.WAITING_FOR_FILES
    attempt = svc.jobs.begin_retry(
        job.session_id, job.job_id, status, phase, iso(now + timedelta(seconds=wait))
    )
    if attempt is None:
        raise Conflict("the job is being retried already", code=ApiErrorCode.JOB_NOT_FAILED)
    retried = job.model_copy(update={"execution_count": attempt, "status": status, "phase": phase})
    name = execution_name(retried)
    try:
        arn = svc.executions.start(name, TriageInput(session_id=job.session_id, job_id=job.job_id))
    except Exception:
        svc.jobs.set_status(
            job.session_id,
            job.job_id,
            JobStatus.FAILED,
            JobPhase.FAILED,
            error=f"retry {name} could not start",
        )
        raise
    svc.jobs.set_execution(job.session_id, job.job_id, arn)
    return Retried(retried, name)


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def cancel(job: JobRow, svc: CancelPorts) -> Cancelled:
    """Cancel and delete: status ``cancelled``, the execution stopped, in-flight multipart
    uploads aborted and every object under the job's uploads/ and derived/ prefixes deleted.
    Repeating it is harmless (it finds nothing left to delete)."""
    if svc.jobs.cancel(job.session_id, job.job_id) and job.status not in {
        JobStatus.COMPLETE,
        JobStatus.FAILED,
    }:
        svc.executions.stop(execution_name(job), "cancelled by the user")
    uploads = keys.upload_prefix(job.session_id, job.job_id)
    aborted = sum(
        svc.uploads.abort_multipart(key, upload_id)
        for key, upload_id in list(svc.uploads.list_multipart(uploads))
    )
    deleted = 0
    for prefix in (uploads, keys.derived_prefix(job.session_id, job.job_id)):
        # list first, then delete: deleting while paging a listing can skip keys
        for chunk in _chunks(list(svc.store.list_keys(prefix)), DELETE_BATCH):
            deleted += svc.store.delete_keys(chunk)
    current = svc.jobs.get_job(job.session_id, job.job_id) or job
    return Cancelled(current, deleted_objects=deleted, aborted_uploads=aborted)
