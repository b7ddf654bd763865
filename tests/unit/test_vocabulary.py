"""The job status sets partition the statuses the way every reader of a job row assumes."""

from __future__ import annotations

from media_triage_shared.vocabulary import (
    CLOSED_JOB_STATUSES,
    LIVE_JOB_STATUSES,
    OPEN_JOB_STATUSES,
    TERMINAL_JOB_STATUSES,
    UNFINISHED_JOB_STATUSES,
    JobStatus,
)


def test_a_finalised_file_meets_an_open_a_closed_or_a_cancelled_job() -> None:
    assert not OPEN_JOB_STATUSES & CLOSED_JOB_STATUSES
    assert OPEN_JOB_STATUSES | CLOSED_JOB_STATUSES | {JobStatus.CANCELLED} == set(JobStatus)


def test_unfinished_and_terminal_statuses_split_every_status() -> None:
    assert not UNFINISHED_JOB_STATUSES & TERMINAL_JOB_STATUSES
    assert set(JobStatus) == UNFINISHED_JOB_STATUSES | TERMINAL_JOB_STATUSES


def test_a_live_job_is_unfinished_and_open() -> None:
    assert LIVE_JOB_STATUSES <= UNFINISHED_JOB_STATUSES & OPEN_JOB_STATUSES
