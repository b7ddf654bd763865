"""The job's life through the deployed state machine, driven through the HTTP API.

Stalls are simulated by writing the job row's ``stallDeadline`` into the past with the
DynamoDB client (what a real stall looks like to the Poll state, minus the 10-minute wait):
fast and deterministic, no redeploy with a short ``stall_timeout_seconds``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from support.stack import Stack
from support.stack_api import fspec, jpeg, results, s3_event

pytestmark = pytest.mark.integration

PAST = "2000-01-01T00:00:00Z"


def _stall_now(stack: Stack, init: dict[str, Any]) -> None:
    stack.client("dynamodb").update_item(
        TableName=stack.sessions_table,
        Key={"pk": {"S": f"SESSION#{init['sessionId']}"}, "sk": {"S": f"JOB#{init['jobId']}"}},
        UpdateExpression="SET stallDeadline = :past",
        ExpressionAttributeValues={":past": {"S": PAST}},
    )


def _wait_processed(stack: Stack, init: dict[str, Any], count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.job_row(init["sessionId"], init["jobId"]).get("processedCount", 0) >= count:
            return
        time.sleep(0.3)
    raise TimeoutError(
        f"{count} files never processed: {stack.job_row(init['sessionId'], init['jobId'])}"
    )


def _states(stack: Stack, execution_arn: str) -> list[str]:
    sfn = stack.client("stepfunctions")
    names: list[str] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        names += [
            e["stateEnteredEventDetails"]["name"]
            for e in page["events"]
            if "stateEnteredEventDetails" in e
        ]
    return names


def _wait_execution(stack: Stack, arn: str, timeout: float = 60) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = dict(sfn.describe_execution(executionArn=arn))
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.3)
    raise TimeoutError(f"execution {arn} still running")


def test_status_follows_pending_processing_analyzing_complete(stack: Stack) -> None:
    data = [jpeg(100), jpeg(101)]
    init = stack.init(2, [fspec("a.jpg", data[0]), fspec("b.jpg", data[1])])
    assert stack.job_row(init["sessionId"], init["jobId"])["status"] == "pending"
    stack.upload(init["uploads"][0], data[0])
    _wait_processed(stack, init, 1)
    assert stack.job_row(init["sessionId"], init["jobId"])["status"] == "processing"
    stack.upload(init["uploads"][1], data[1])
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"})
    assert job["status"] == "complete", job
    assert not job.get("partial")
    execution = stack.execution(init["jobId"])
    assert execution["status"] == "SUCCEEDED"
    assert "MarkAnalyzing" in _states(stack, execution["executionArn"])
    # MediaProcess's count of the last file woke the sleeping machine (ADR 0007).
    assert "TaskSucceeded" in stack.sleep_endings(execution["executionArn"])


def test_lowered_expected_count_after_a_failed_upload_finishes_without_the_stall(
    stack: Stack,
) -> None:
    data = [jpeg(110), jpeg(111)]
    init = stack.init(
        3, [fspec(f"{i}.jpg", d) for i, d in enumerate(data)] + [fspec("gone.jpg", b"x")]
    )
    for target, blob in zip(init["uploads"], data, strict=False):
        stack.upload(target, blob)
    _wait_processed(stack, init, 2)
    started = time.monotonic()
    patched = stack.api(
        "PATCH",
        f"/api/triage/{init['jobId']}",
        json={"expectedFileCount": 2},
        token=init["sessionToken"],
    )
    assert patched.status_code == 200, patched.text
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=90)
    elapsed = time.monotonic() - started
    assert job["status"] == "complete", job
    assert not job.get("partial")
    assert elapsed < 60  # the stall timeout (600 s by default) played no part
    # The PATCH woke the machine; it did not wait out its sleep.
    arn = stack.execution(init["jobId"])["executionArn"]
    assert "TaskSucceeded" in stack.sleep_endings(arn)  # only the PATCH could wake it
    files = {f["filename"]: f for f in results(stack, init).json()["files"]}
    assert files["gone.jpg"]["status"] == "invalid"
    assert files["gone.jpg"]["error"]["code"] == "not_uploaded"
    late = stack.api(
        "PATCH",
        f"/api/triage/{init['jobId']}",
        json={"expectedFileCount": 3},
        token=init["sessionToken"],
    )
    assert late.status_code == 409


def test_stall_with_some_files_triages_what_arrived(stack: Stack) -> None:
    data = jpeg(120)
    init = stack.init(3, [fspec("only.jpg", data), fspec("b.jpg", b"x"), fspec("c.jpg", b"x")])
    stack.upload(init["uploads"][0], data)
    _wait_processed(stack, init, 1)
    _stall_now(stack, init)
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=90)
    assert job["status"] == "complete", job
    assert job["partial"] is True
    body = results(stack, init).json()
    assert body["partial"] is True
    assert body["processedCount"] == 1
    assert "StalledWithFiles" in _states(stack, stack.execution(init["jobId"])["executionArn"])


def test_stall_with_no_file_fails(stack: Stack) -> None:
    init = stack.init(2, [fspec("a.jpg", b"x"), fspec("b.jpg", b"x")])
    _stall_now(stack, init)
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=90)
    assert job["status"] == "failed", job
    assert "stall" in job["error"]
    execution = _wait_execution(stack, stack.execution(init["jobId"])["executionArn"])
    assert execution["status"] == "FAILED"
    body = results(stack, init).json()
    assert body["status"] == "failed"
    assert body["error"] == job["error"]


def test_cancel_mid_upload(stack: Stack) -> None:
    data = [jpeg(130), jpeg(131)]
    init = stack.init(3, [fspec("a.jpg", data[0]), fspec("b.jpg", data[1]), fspec("c.jpg", b"x")])
    stack.upload(init["uploads"][0], data[0])
    _wait_processed(stack, init, 1)
    resp = stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "cancelled"
    assert resp.json()["deletedObjects"] >= 1

    execution = _wait_execution(stack, stack.execution(init["jobId"])["executionArn"], 30)
    assert execution["status"] in {"ABORTED", "SUCCEEDED"}  # stopped, or ended via Cancelled
    s3 = stack.client("s3")
    for prefix in ("uploads", "derived"):
        listed = s3.list_objects_v2(
            Bucket=stack.bucket, Prefix=f"{prefix}/{init['sessionId']}/{init['jobId']}/"
        )
        assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
    assert stack.job_row(init["sessionId"], init["jobId"])["status"] == "cancelled"
    assert results(stack, init).json()["status"] == "cancelled"
    more = stack.api(
        "POST",
        f"/api/triage/{init['jobId']}/uploads",
        json={"files": [fspec("d.jpg", b"x")]},
        token=init["sessionToken"],
    )
    assert more.status_code == 409

    # b.jpg's presigned POST outlives the cancel: a late upload still lands. MediaProcess
    # (delivered synchronously here, so we know it ran) skips it: no derived object, no count.
    late = init["uploads"][1]
    stack.upload(late, data[1])
    resp = stack.client("lambda").invoke(
        FunctionName=stack.functions["media_process"],
        Payload=json.dumps(s3_event(stack.bucket, late["key"], len(data[1]))).encode(),
    )
    answer = json.loads(resp["Payload"].read())
    assert answer["processed"][0]["fileId"] == late["fileId"], answer
    assert answer["processed"][0]["skipped"] == "job_cancelled"
    derived = s3.list_objects_v2(
        Bucket=stack.bucket, Prefix=f"derived/{init['sessionId']}/{init['jobId']}/"
    )
    assert derived.get("KeyCount", 0) == 0, derived.get("Contents")
    assert stack.job_row(init["sessionId"], init["jobId"])["processedCount"] == 1


def test_retry_after_a_failed_triage_run(stack: Stack) -> None:
    """TriageRun fails for real: its function is redeployed with a bad setting (ANALYZER is not
    an analyzer), so it dies at cold start and the state machine's Catch marks the job failed.
    Once the setting is repaired, retry runs triage again in a new execution `<jobId>-r1`."""
    lam = stack.client("lambda")
    name = stack.functions["triage_run"]
    env = dict(lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"])

    def configure(variables: dict[str, str]) -> None:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)

    data = jpeg(140)
    init = stack.init(1, [fspec("a.jpg", data)])
    configure({**env, "ANALYZER": "not-an-analyzer"})
    try:
        stack.upload(init["uploads"][0], data)
        job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=120)
    finally:
        configure(env)
    assert job["status"] == "failed", job
    assert job["error"]
    shown = results(stack, init).json()["error"]  # what the page shows: readable, no traceback
    assert shown
    assert "stackTrace" not in shown
    assert len(shown) <= 300
    assert stack.execution(init["jobId"])["status"] in {"FAILED", "RUNNING"}

    refused = stack.api(
        "PATCH",
        f"/api/triage/{init['jobId']}",
        json={"expectedFileCount": 1},
        token=init["sessionToken"],
    )
    assert refused.status_code == 409
    resp = stack.api("POST", f"/api/triage/{init['jobId']}/retry", token=init["sessionToken"])
    assert resp.status_code == 202, resp.text
    assert resp.json()["executionName"] == f"{init['jobId']}-r1"
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=120)
    assert job["status"] == "complete", job
    assert job["executionCount"] == 2
    again = stack.api("POST", f"/api/triage/{init['jobId']}/retry", token=init["sessionToken"])
    assert again.status_code == 409
    body = results(stack, init).json()
    assert body["status"] == "complete"
    assert "verdicts" in body


def test_a_job_whose_execution_ended_behind_its_back_fails_on_the_next_poll(stack: Stack) -> None:
    """The execution stops without the job row being told (as the execution-timeout backstop
    does): the page's next poll, once the stall deadline is long past, fails the job instead
    of showing `pending` forever, and retry starts a new execution that finishes it."""
    data = jpeg(150)
    init = stack.init(1, [fspec("a.jpg", data)])
    arn = stack.execution(init["jobId"])["executionArn"]
    stack.client("stepfunctions").stop_execution(executionArn=arn, cause="operator")
    _wait_execution(stack, arn, 30)
    assert stack.job_row(init["sessionId"], init["jobId"])["status"] == "pending"
    _stall_now(stack, init)

    body = results(stack, init).json()
    assert body["status"] == "failed", body
    assert "ABORTED" in body["error"]

    retry = stack.api("POST", f"/api/triage/{init['jobId']}/retry", token=init["sessionToken"])
    assert retry.status_code == 202, retry.text
    stack.upload(init["uploads"][0], data)
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=120)
    assert job["status"] == "complete", job
