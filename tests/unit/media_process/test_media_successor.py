"""Issue 13 item 4 in MediaProcess: the last file, counted after the job's execution timed out
(and no API call since), starts the successor execution instead of waking nobody."""

from __future__ import annotations

from typing import Any

from conftest import JOB, SESSION, Env
from support.corpus import BY_NAME
from test_media_handler import Context, _event

from media_triage_shared.models import TriageInput


def _job_with_execution(env: Env, expected: int) -> None:
    env.create_job(expected)
    arn = env.executions.start(JOB, TriageInput(session_id=SESSION, job_id=JOB))
    env.jobs.set_execution(SESSION, JOB, arn)


def test_the_last_count_after_the_timeout_starts_the_successor(env: Env, handler: Any) -> None:
    _job_with_execution(env, 2)
    env.executions.ended[JOB] = "TIMED_OUT"
    first = env.put("a.jpg", BY_NAME["jpeg_exif"].data())
    handler(_event(first.key), Context())
    assert list(env.executions.started) == [JOB]  # 1 of 2: not ready, nothing described
    assert env.executions.status_calls == 0
    last = env.put("b.jpg", BY_NAME["jpeg_rotated"].data())
    handler(_event(last.key), Context())
    assert list(env.executions.started) == [JOB, f"{JOB}-r1"]
    job = env.jobs.get_job(SESSION, JOB)
    assert job is not None
    assert job.execution_count == 2
    assert env.waker.calls == []  # the successor's first Poll sees the job ready


def test_the_last_count_wakes_a_running_execution(env: Env, handler: Any) -> None:
    _job_with_execution(env, 1)
    upload = env.put("a.jpg", BY_NAME["jpeg_exif"].data())
    handler(_event(upload.key), Context())
    assert list(env.executions.started) == [JOB]
    assert env.waker.calls == [(SESSION, JOB)]
