"""Issue 13 item 13: faults injected into the deployed local stack (``/_local_aws/faults``).

Each test runs a small job through a fault and checks the same end state: every file row is
final and counted, ``processedCount`` equals the number of files (counted exactly once, whatever
was retried), and the job is complete - or failed with a readable cause that a retry clears.

The SDK in the functions makes 6 attempts (botocore's ``max_attempts: 5`` counts retries) before
an error reaches the code, so a rule that must reach MediaProcess's own handling (and Lambda's
retry of the S3 event) fails 6 requests per invocation it is meant to break; the SDK's back-off
(up to 1 + 2 + 4 + 8 + 16 s) makes those tests the slow ones of the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.stack import Stack
from support.stack_api import fspec, jpeg, results, s3_event

pytestmark = pytest.mark.integration

FINAL = {"valid", "invalid", "duplicate"}
# media_triage_shared.aws: retries={"mode": "standard", "max_attempts": 5}: 1 + 5 retries.
SDK_ATTEMPTS = 6


@pytest.fixture
def faults(stack: Stack) -> Iterator[str]:
    url = f"{stack.endpoint}/_local_aws/faults"
    if requests.get(url, timeout=10).status_code != 200:
        pytest.skip("the endpoint injects no faults (AWS_ENDPOINT_URL is not local-aws)")
    requests.delete(url, timeout=10)
    try:
        yield url
    finally:
        requests.delete(url, timeout=10)


def _inject(url: str, *rules: dict[str, Any]) -> None:
    resp = requests.post(url, json=list(rules), timeout=10)
    assert resp.status_code == 201, resp.text


def _hits(url: str) -> list[int]:
    return [rule["hits"] for rule in requests.get(url, timeout=10).json()["faults"]]


def _start(stack: Stack, seed: int, count: int) -> tuple[dict[str, Any], list[bytes]]:
    photos = [jpeg(seed + i) for i in range(count)]
    init = stack.init(count, [fspec(f"p{i}.jpg", data) for i, data in enumerate(photos)])
    return init, photos


def _wait_idle(stack: Stack) -> None:
    resp = requests.get(f"{stack.endpoint}/_local_aws/lambda/wait-idle?timeout=90", timeout=100)
    assert resp.status_code == 200, resp.text


def _wait_processed(stack: Stack, init: dict[str, Any], count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while stack.job_row(init["sessionId"], init["jobId"]).get("processedCount", 0) < count:
        assert time.monotonic() < deadline, f"{count} file(s) never processed"
        time.sleep(0.3)


def _counted_once(
    stack: Stack, init: dict[str, Any], count: int, timeout: float = 90
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The job once complete/failed, and its file rows by name: all final, counted once."""
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout)
    _wait_idle(stack)  # nothing still in flight that could count again
    rows = {row["filename"]: row for row in stack.file_rows(init["jobId"])}
    assert len(rows) == count
    assert {name: row["status"] for name, row in rows.items() if row["status"] not in FINAL} == {}
    assert all(row.get("counted") for row in rows.values()), rows
    job = stack.job_row(init["sessionId"], init["jobId"])
    assert job["processedCount"] == count, job
    return job, rows


# ---------------------------------------------------------------------------- (a) DynamoDB


def test_counting_transaction_throttled_past_the_sdk_retries(stack: Stack, faults: str) -> None:
    """The last file's counting transaction is throttled on all 6 of the SDK's attempts:
    MediaProcess re-raises the transient error (its first attempt of 3), Lambda retries the S3
    event, and the second invocation counts the file, once."""
    init, photos = _start(stack, 300, 2)
    stack.upload(init["uploads"][0], photos[0])
    _wait_processed(stack, init, 1)
    _inject(
        faults,
        {
            "service": "dynamodb",
            "operation": "TransactWriteItems",
            "error": "ProvisionedThroughputExceededException",
            "status": 400,
            "count": SDK_ATTEMPTS,
            # the counting transaction alone: the job version's bumps share the table
            "match": {"table": stack.sessions_table, "expression": "processedCount"},
        },
    )
    stack.upload(init["uploads"][1], photos[1])
    job, rows = _counted_once(stack, init, 2)
    assert job["status"] == "complete", job
    assert {row["status"] for row in rows.values()} == {"valid"}
    assert (rows["p0.jpg"]["attempts"], rows["p1.jpg"]["attempts"]) == (1, 2)
    assert _hits(faults) == [SDK_ATTEMPTS]


def test_counting_transaction_answer_lost_after_the_commit(stack: Stack, faults: str) -> None:
    """The last file's counting transaction commits but its answer is lost (a 500 after the
    write). The SDK's retry carries the same ClientRequestToken: DynamoDB answers it as the same
    transaction (success, nothing counted twice), so MediaProcess knows it counted and wakes
    the sleeping workflow at once instead of leaving it to its 30 s poll timeout."""
    init, photos = _start(stack, 310, 2)
    stack.upload(init["uploads"][0], photos[0])
    _wait_processed(stack, init, 1)
    _inject(
        faults,
        {
            "service": "dynamodb",
            "operation": "TransactWriteItems",
            "status": 500,
            "when": "after",
            "match": {"table": stack.sessions_table},
        },
    )
    stack.upload(init["uploads"][1], photos[1])
    job, rows = _counted_once(stack, init, 2, timeout=20)  # well under the 30 s poll timeout
    assert job["status"] == "complete", job
    assert sorted(row["attempts"] for row in rows.values()) == [1, 1]  # no Lambda retry
    assert _hits(faults) == [1]
    endings = stack.sleep_endings(stack.execution(init["jobId"])["executionArn"])
    assert endings[-1] == "TaskSucceeded", endings  # woken by the count, not timed out


# ---------------------------------------------------------------------------- (b) S3


def test_derived_write_answered_503(stack: Stack, faults: str) -> None:
    """S3 answers 503 SlowDown to the last file's thumbnail write on all 6 SDK attempts: the
    invocation fails, Lambda retries it, the retry writes the derived objects and counts the
    file, once."""
    init, photos = _start(stack, 320, 2)
    stack.upload(init["uploads"][0], photos[0])
    _wait_processed(stack, init, 1)
    _inject(
        faults,
        {
            "service": "s3",
            "operation": "PutObject",
            "keyPrefix": "derived/",
            "status": 503,
            "count": SDK_ATTEMPTS,
        },
    )
    stack.upload(init["uploads"][1], photos[1])
    job, rows = _counted_once(stack, init, 2)
    assert job["status"] == "complete", job
    assert (rows["p0.jpg"]["attempts"], rows["p1.jpg"]["attempts"]) == (1, 2)
    s3 = stack.client("s3")
    for row in rows.values():
        assert row["status"] == "valid"
        s3.head_object(Bucket=stack.bucket, Key=row["thumbnailKey"])
    assert _hits(faults) == [SDK_ATTEMPTS]


# ---------------------------------------------------------------------------- (c) Lambda


def _kill_media_process(stack: Stack, faults: str, count: int) -> None:
    _inject(
        faults,
        {
            "lambda": stack.functions["media_process"],
            "kill": "mid-invocation",
            "onLog": "media.type_detected",  # after the processing row, mid-way through
            "count": count,
        },
    )


def test_worker_killed_mid_file_once(stack: Stack, faults: str) -> None:
    init, photos = _start(stack, 330, 2)
    stack.upload(init["uploads"][0], photos[0])
    _wait_processed(stack, init, 1)
    _kill_media_process(stack, faults, 1)
    stack.upload(init["uploads"][1], photos[1])
    job, rows = _counted_once(stack, init, 2)
    assert job["status"] == "complete", job
    assert rows["p1.jpg"]["attempts"] == 2  # the killed one, then Lambda's retry
    assert rows["p1.jpg"]["status"] == "valid"
    assert _hits(faults) == [1]


def test_worker_killed_on_every_attempt_waits_for_the_redrive(stack: Stack, faults: str) -> None:
    """Killed on all 3 attempts, MediaProcess never gets to catch anything (ADR 0012): the
    event fails for good (the DLQ on AWS), the file stays `processing` with attempts 3, and
    is not counted. The operator's redrive (docs/runbook.md) then counts it, once."""
    init, photos = _start(stack, 340, 2)
    stack.upload(init["uploads"][0], photos[0])
    _wait_processed(stack, init, 1)
    _kill_media_process(stack, faults, 3)
    stack.upload(init["uploads"][1], photos[1])
    _wait_idle(stack)
    assert _hits(faults) == [3]
    row = {r["filename"]: r for r in stack.file_rows(init["jobId"])}["p1.jpg"]
    assert (row["status"], row["attempts"], row.get("counted")) == ("processing", 3, None)
    job = stack.job_row(init["sessionId"], init["jobId"])
    assert (job["status"], job["processedCount"]) == ("processing", 1)

    # The redrive: the same S3 event, invoked again (devtools/redrive_dlq.py does this).
    stack.client("lambda").invoke(
        FunctionName=stack.functions["media_process"],
        InvocationType="Event",
        Payload=json.dumps(s3_event(stack.bucket, row["originalKey"], len(photos[1]))),
    )
    job, rows = _counted_once(stack, init, 2)
    assert job["status"] == "complete", job
    assert rows["p1.jpg"]["status"] == "valid"
    assert rows["p1.jpg"]["attempts"] == 4


# ---------------------------------------------------------------------------- (d) TriageRun


def test_triage_run_timing_out_fails_the_job_with_a_cause_and_retry_completes_it(
    stack: Stack, faults: str
) -> None:
    """TriageRun's Lambda times out (``Sandbox.Timedout``, what Lambda reports when the
    function's timeout expires): not retried by the state machine (a second run would likely
    time out too, after the full timeout), the job fails with a readable cause, every file is
    still counted once, and the user's retry triages it."""
    init, photos = _start(stack, 350, 2)
    _inject(faults, {"lambda": stack.functions["triage_run"], "kill": "timeout", "count": 1})
    for target, data in zip(init["uploads"], photos, strict=True):
        stack.upload(target, data)
    job, _ = _counted_once(stack, init, 2)
    assert job["status"] == "failed", job
    shown = results(stack, init).json()["error"]
    assert "timed out" in shown.lower(), shown
    assert "stackTrace" not in shown
    assert len(shown) <= 300
    assert _hits(faults) == [1]

    retry = stack.api("POST", f"/api/triage/{init['jobId']}/retry", token=init["sessionToken"])
    assert retry.status_code == 202, retry.text
    stack.wait_job(init["sessionId"], init["jobId"], {"complete"}, timeout=60)
    job, rows = _counted_once(stack, init, 2)
    assert job["status"] == "complete", job
    body = results(stack, init).json()
    judged = {v["filename"] for kind in ("keep", "discard") for v in body["verdicts"][kind]}
    assert judged == set(rows)
