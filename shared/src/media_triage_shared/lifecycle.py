"""Keep a live job's workflow running past the execution timeout (issue 13 item 4, ADR 0007).

The state machine's execution timeout (``execution_timeout_seconds``, 3,600 s by default) is a
backstop, but a session whose uploads keep it alive (keep-alive PATCHes, more upload targets,
files still being counted) can outlive it. Whoever shows such a sign of life - the PATCH, the
upload-target call, the count of a file that makes the job ready - calls ``keep_running``: if
the job is still ``pending``/``processing``, not past its stall deadline, and its execution has
ended, it starts a successor ``<jobId>-r<n>`` (the retry naming). The successor's Poll sees the
counters and waits, or goes straight to TriageRun when the job is ready.

Exactly one successor, however many callers race: the successor is reserved by bumping the job
row's ``executionCount`` from the value the caller read (a conditional update, so a second
caller's reservation fails), and started by its deterministic name (``StartExecution`` of an
existing name returns that execution). A reservation whose start never happened (a crash in
between) shows as "no execution of that name" to the next caller, who starts it.

Pure: ports in, no boto3. Best effort: an error is logged and the next sign of life tries again.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from media_triage_shared.logging import get_logger
from media_triage_shared.models import LIVE_JOB_STATUSES, JobRow, TriageInput, iso
from media_triage_shared.ports import Executions, JobExecutions, JobLifecycle, Waker

log = get_logger()

RUNNING = "RUNNING"


class Resume(Enum):
    NOTHING = "nothing"  # running, or not ours to run (moved on, stalled, not started yet)
    START_NAMED = "start_named"  # the row names an execution that does not exist: start it
    START_SUCCESSOR = "start_successor"  # the execution ended under a live job: the next one


def execution_name(job: JobRow) -> str:
    """``<jobId>`` for the first execution, ``<jobId>-r<n>`` for the n-th retry or successor."""
    return job.job_id if job.execution_count <= 1 else f"{job.job_id}-r{job.execution_count - 1}"


def is_live(job: JobRow, now: datetime) -> bool:
    """Files are still expected: pending/processing and not past the stall deadline (past it,
    the stall path owns the job: the Poll triages or fails it, or the results poll does once
    the execution has ended)."""
    return job.status in LIVE_JOB_STATUSES and iso(now) <= job.stall_deadline


def decide(job: JobRow, execution_status: str | None, now: datetime) -> Resume:
    """What a sign of life does about the job's execution (``execution_status`` of the
    execution named after the row's ``executionCount``; None when there is none)."""
    if not is_live(job, now) or execution_status == RUNNING:
        return Resume.NOTHING
    if execution_status is None:
        # Reserved (executionCount bumped by a successor or a retry) but not started yet, or
        # never started at all. Before init recorded its first execution there is nothing to
        # name: init (or its idempotent replay) starts it.
        return Resume.START_NAMED if job.execution_arn is not None else Resume.NOTHING
    return Resume.START_SUCCESSOR  # TIMED_OUT (the usual case), ABORTED, FAILED, SUCCEEDED


def keep_running(
    job: JobRow, *, jobs: JobExecutions, executions: Executions, now: datetime
) -> str | None:
    """Start the execution a live job lacks; its name, or None when nothing was started.

    ``job`` is the row as the caller just read or updated it (its stall deadline already pushed
    by the sign of life). One ``DescribeExecution`` per call on a live job; nothing on others."""
    if not is_live(job, now):
        return None
    name = execution_name(job)
    try:
        status = executions.status(name)
        action = decide(job, status, now)
        if action is Resume.NOTHING:
            return None
        if action is Resume.START_SUCCESSOR:
            count = jobs.begin_successor(job.session_id, job.job_id, job.execution_count)
            if count is None:  # another caller reserved it (or a retry), or the job moved on
                return None
            name = execution_name(job.model_copy(update={"execution_count": count}))
        arn = executions.start(name, TriageInput(session_id=job.session_id, job_id=job.job_id))
        jobs.set_execution(job.session_id, job.job_id, arn)
    except Exception as exc:
        log.warning("job.resume_failed", execution=name, error=type(exc).__name__)
        return None
    log.info("job.execution_resumed", execution=name, previous_status=status)
    return name


def after_count(
    session_id: str,
    job_id: str,
    *,
    jobs: JobLifecycle,
    executions: Executions,
    waker: Waker,
    now: datetime,
) -> None:
    """MediaProcess counted a file. If that made the job ready, its state machine must run
    TriageRun now: start a successor when the execution has ended (the last file arrived
    after the execution timeout, with no API call since), else wake the sleeping one.
    A count that leaves the job waiting costs nothing here: no ``DescribeExecution`` per file."""
    job = jobs.get_job(session_id, job_id)
    if job is None or not 0 < job.expected_file_count <= job.processed_count:
        return
    if keep_running(job, jobs=jobs, executions=executions, now=now) is None:
        waker.wake_if_ready(session_id, job_id)
