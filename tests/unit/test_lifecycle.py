"""Issue 13 item 4: a live job whose execution ended (its timeout) gets one successor execution
``<jobId>-r<n>`` from whoever shows a sign of life; the decision and the race, with the fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.fakes import FakeExecutions, FakeJobRepository, RecordingWaker

from media_triage_shared import lifecycle
from media_triage_shared.lifecycle import Resume
from media_triage_shared.models import JobRow, JobStatus, TriageInput, iso

NOW = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
S, J = "s1", "j1"


def _job(**kw: object) -> JobRow:
    values: dict[str, object] = {
        "session_id": S,
        "job_id": J,
        "expected_file_count": 2,
        "token_hash": "h" * 64,
        "created_at": iso(NOW - timedelta(hours=1)),
        "updated_at": iso(NOW),
        "stall_deadline": iso(NOW + timedelta(minutes=10)),
        "execution_arn": "arn:x",
        "expires_at": 2_000_000_000,
        **kw,
    }
    return JobRow.model_validate(values)


@pytest.mark.parametrize(
    ("changes", "execution", "expected"),
    [
        ({}, "RUNNING", Resume.NOTHING),
        ({}, "TIMED_OUT", Resume.START_SUCCESSOR),
        ({"status": JobStatus.PROCESSING}, "TIMED_OUT", Resume.START_SUCCESSOR),
        ({}, "ABORTED", Resume.START_SUCCESSOR),
        ({}, "FAILED", Resume.START_SUCCESSOR),
        ({}, None, Resume.START_NAMED),  # reserved, never started (a crash in between)
        ({"execution_arn": None}, None, Resume.NOTHING),  # init has not started it yet
        ({"status": JobStatus.ANALYZING}, "TIMED_OUT", Resume.NOTHING),
        ({"status": JobStatus.COMPLETE}, "SUCCEEDED", Resume.NOTHING),
        ({"status": JobStatus.FAILED}, "TIMED_OUT", Resume.NOTHING),  # retry's business
        ({"status": JobStatus.CANCELLED}, "ABORTED", Resume.NOTHING),
        ({"stall_deadline": iso(NOW - timedelta(seconds=1))}, "TIMED_OUT", Resume.NOTHING),
    ],
)
def test_decide(changes: dict[str, object], execution: str | None, expected: Resume) -> None:
    job = _job().model_copy(update=changes)
    assert lifecycle.decide(job, execution, NOW) is expected


class Stack:
    def __init__(self) -> None:
        self.jobs = FakeJobRepository()
        self.executions = FakeExecutions()
        self.jobs.create_job(_job(execution_arn=None))
        self.jobs.set_execution(S, J, self.executions.start(J, TriageInput(session_id=S, job_id=J)))

    def read(self) -> JobRow:
        job = self.jobs.get_job(S, J)
        assert job is not None
        return job

    def keep_running(self, job: JobRow) -> str | None:
        return lifecycle.keep_running(job, jobs=self.jobs, executions=self.executions, now=NOW)


def test_a_timed_out_execution_gets_one_successor_however_many_callers_race() -> None:
    stack = Stack()
    stack.executions.ended[J] = "TIMED_OUT"
    first, second = stack.read(), stack.read()  # two callers read the same row
    assert stack.keep_running(first) == f"{J}-r1"
    assert stack.keep_running(second) is None  # its reservation (executionCount 1 -> 2) fails
    assert list(stack.executions.started) == [J, f"{J}-r1"]
    job = stack.read()
    assert job.execution_count == 2
    assert job.execution_arn == stack.executions.arn(f"{J}-r1")
    # The successor runs: further signs of life leave it alone.
    assert stack.keep_running(job) is None
    # It times out too: the next one is -r2 (the retry naming continues).
    stack.executions.ended[f"{J}-r1"] = "TIMED_OUT"
    assert stack.keep_running(stack.read()) == f"{J}-r2"
    assert stack.read().execution_count == 3


def test_a_reservation_whose_start_failed_is_started_by_the_next_caller() -> None:
    stack = Stack()
    stack.executions.ended[J] = "TIMED_OUT"
    stack.executions.fail_next = 1  # StartExecution throttled after the reservation
    assert stack.keep_running(stack.read()) is None  # logged, not raised
    assert stack.read().execution_count == 2
    assert f"{J}-r1" not in stack.executions.started
    assert stack.keep_running(stack.read()) == f"{J}-r1"  # the same name, no -r2
    assert list(stack.executions.started) == [J, f"{J}-r1"]


def test_a_job_that_is_not_live_costs_no_describe_execution() -> None:
    stack = Stack()
    stack.executions.ended[J] = "TIMED_OUT"
    stack.jobs.set_status(S, J, JobStatus.ANALYZING, "analyzing")
    assert stack.keep_running(stack.read()) is None
    past = _job(stall_deadline=iso(NOW - timedelta(minutes=1)))
    assert stack.keep_running(past) is None
    assert stack.executions.status_calls == 0
    assert list(stack.executions.started) == [J]


def test_a_cancel_between_the_read_and_the_reservation_starts_nothing() -> None:
    stack = Stack()
    stack.executions.ended[J] = "TIMED_OUT"
    job = stack.read()
    stack.jobs.cancel(S, J)
    assert stack.keep_running(job) is None
    assert list(stack.executions.started) == [J]


def _count_to(stack: Stack, n: int) -> None:
    for _ in range(n):
        stack.jobs.count(S, J, iso(NOW + timedelta(minutes=10)))


def test_the_count_that_makes_the_job_ready_starts_a_successor_instead_of_waking() -> None:
    stack, waker = Stack(), RecordingWaker()

    def after_count() -> None:
        lifecycle.after_count(
            S, J, jobs=stack.jobs, executions=stack.executions, waker=waker, now=NOW
        )

    stack.executions.ended[J] = "TIMED_OUT"
    _count_to(stack, 1)
    after_count()  # 1 of 2: nothing to do yet, and no DescribeExecution for it
    assert stack.executions.status_calls == 0
    assert waker.calls == []
    _count_to(stack, 1)
    after_count()  # 2 of 2, the execution timed out: the successor triages
    assert list(stack.executions.started) == [J, f"{J}-r1"]
    assert waker.calls == []


def test_the_count_that_makes_the_job_ready_wakes_a_running_execution() -> None:
    stack, waker = Stack(), RecordingWaker()
    _count_to(stack, 2)
    lifecycle.after_count(S, J, jobs=stack.jobs, executions=stack.executions, waker=waker, now=NOW)
    assert waker.calls == [(S, J)]
    assert list(stack.executions.started) == [J]
