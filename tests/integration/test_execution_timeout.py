"""Issue 13 item 4 on the deployed stack: a session longer than the state machine's execution
timeout is still triaged. The stack is re-applied with a 20 s timeout (instead of 3,600 s),
the job is kept alive past it by keep-alive PATCHes, and the last file arrives after a second
execution has timed out too, with no API call since: its count must start the next one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.stack import Stack
from support.stack_api import fspec, jpeg, results

pytestmark = pytest.mark.integration

TIMEOUT = 20


def _arn(stack: Stack, name: str) -> str:
    return stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def _status(stack: Stack, name: str) -> str:
    described = stack.client("stepfunctions").describe_execution(executionArn=_arn(stack, name))
    return str(described["status"])


def _wait_ended(stack: Stack, name: str, timeout: float = TIMEOUT * 3) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(stack, name)
        if status != "RUNNING":
            return status
        time.sleep(0.5)
    raise TimeoutError(f"execution {name} still running after {timeout}s")


def _wait_processed(stack: Stack, init: dict[str, Any], count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.job_row(init["sessionId"], init["jobId"]).get("processedCount", 0) >= count:
            return
        time.sleep(0.3)
    raise TimeoutError(f"{count} files never processed")


def _executions_of(stack: Stack, job_id: str) -> set[str]:
    pages = (
        stack.client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=stack.state_machine_arn)
    )
    return {
        e["name"]
        for page in pages
        for e in page["executions"]
        if e["name"] == job_id or e["name"].startswith(f"{job_id}-r")
    }


def test_a_session_longer_than_the_execution_timeout_is_still_triaged(stack: Stack) -> None:
    stack.apply(f"-var=execution_timeout_seconds={TIMEOUT}")
    try:
        data = [jpeg(170), jpeg(171)]
        init = stack.init(2, [fspec("first.jpg", data[0]), fspec("last.jpg", data[1])])
        sid, jid, token = init["sessionId"], init["jobId"], init["sessionToken"]
        stack.upload(init["uploads"][0], data[0])
        _wait_processed(stack, init, 1)

        # Keep-alives while the first execution runs into its timeout.
        deadline = time.monotonic() + TIMEOUT * 3
        while _status(stack, jid) == "RUNNING":
            assert time.monotonic() < deadline, "the first execution never timed out"
            keep_alive = stack.api(
                "PATCH", f"/api/triage/{jid}", json={"expectedFileCount": 2}, token=token
            )
            assert keep_alive.status_code == 200, keep_alive.text
            time.sleep(3)
        assert _status(stack, jid) == "TIMED_OUT"
        assert stack.job_row(sid, jid)["status"] == "processing"

        # The first keep-alive after the timeout starts the successor -r1.
        keep_alive = stack.api(
            "PATCH", f"/api/triage/{jid}", json={"expectedFileCount": 2}, token=token
        )
        assert keep_alive.status_code == 200, keep_alive.text
        row = stack.job_row(sid, jid)
        assert row["executionCount"] == 2, row
        assert row["executionArn"] == _arn(stack, f"{jid}-r1")
        assert _status(stack, f"{jid}-r1") == "RUNNING"

        # -r1 times out too, and nobody calls the API; then the last file lands. Its count
        # finds the job ready with no execution running: MediaProcess starts -r2.
        assert _wait_ended(stack, f"{jid}-r1") == "TIMED_OUT"
        assert stack.job_row(sid, jid)["status"] == "processing"
        stack.upload(init["uploads"][1], data[1])
        job = stack.wait_job(sid, jid, {"complete", "failed"}, timeout=TIMEOUT * 4)
        assert job["status"] == "complete", job
        assert not job.get("partial")
        assert job["executionCount"] == 3
        assert _status(stack, f"{jid}-r2") == "SUCCEEDED"
        assert _executions_of(stack, jid) == {jid, f"{jid}-r1", f"{jid}-r2"}  # one each

        body = results(stack, init).json()
        assert body["status"] == "complete"
        judged = [v["filename"] for kind in ("keep", "discard") for v in body["verdicts"][kind]]
        assert sorted(judged) == ["first.jpg", "last.jpg"]
    finally:
        stack.apply()  # back to the defaults for the other tests
