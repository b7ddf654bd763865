"""The local AWS emulator: Lambda executor, S3 notifications, Step Functions, HTTP API data plane.

One emulator subprocess for the module (session fixture); handlers use only the stdlib.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from botocore.exceptions import ClientError
from support.emulator import Emulator, http, wait_for

pytestmark = pytest.mark.integration

COUNTER_APP = """
import os, time
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("invocation", COUNT, context.aws_request_id)
    if event.get("fail"):
        raise ValueError("boom: " + str(event["fail"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("gate"):  # wait (within the timeout) until the test opens the gate
        end = time.monotonic() + 1.8
        while not os.path.exists(event["gate"]) and time.monotonic() < end:
            time.sleep(0.02)
    if event.get("marker"):
        with open(event["marker"], "w") as fh:
            fh.write(str(COUNT))
    return {
        "count": COUNT,
        "pid": os.getpid(),
        "event": event,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "remainingMs": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in (
            "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_TIMEOUT", "PYTHONPATH", "APP_SETTING")},
    }
"""


def _invoke(emulator: Emulator, name: str, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = emulator.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), **kwargs
    )
    response["Body"] = json.loads(response["Payload"].read() or b"null")
    return dict(response)


@pytest.fixture(scope="module")
def counter_fn(emulator: Emulator) -> str:
    emulator.create_function(
        "counter", {"app.py": COUNTER_APP}, timeout=2, env={"APP_SETTING": "on"}
    )
    return "counter"


def test_invoke_request_response_reuses_warm_worker(emulator: Emulator, counter_fn: str) -> None:
    first = _invoke(emulator, counter_fn, {"n": 1})
    second = _invoke(emulator, counter_fn, {"n": 2})
    assert first["StatusCode"] == 200
    assert "FunctionError" not in first
    assert first["Body"]["event"] == {"n": 1}
    assert second["Body"]["count"] == first["Body"]["count"] + 1
    assert second["Body"]["pid"] == first["Body"]["pid"]
    body = second["Body"]
    assert body["functionName"] == counter_fn
    assert body["memory"] == 256
    assert body["arn"].endswith(":function:counter")
    assert 0 < body["remainingMs"] <= 2000
    env = body["env"]
    assert env["AWS_ENDPOINT_URL"] == emulator.url
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == "test"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == counter_fn
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "2"
    assert env["APP_SETTING"] == "on"
    assert env["PYTHONPATH"].startswith(str(emulator.state_dir))


def test_warm_invoke_is_fast(emulator: Emulator, counter_fn: str) -> None:
    _invoke(emulator, counter_fn, {})
    started = time.perf_counter()
    for _ in range(10):
        _invoke(emulator, counter_fn, {})
    assert (time.perf_counter() - started) / 10 < 0.25


def test_handler_exception_is_a_function_error(emulator: Emulator, counter_fn: str) -> None:
    response = _invoke(emulator, counter_fn, {"fail": "x"}, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "ValueError"
    assert response["Body"]["errorMessage"] == "boom: x"
    assert any("raise ValueError" in frame for frame in response["Body"]["stackTrace"])
    assert "_worker.py" not in json.dumps(response["Body"]["stackTrace"])
    import base64

    assert "ValueError: boom: x" in base64.b64decode(response["LogResult"]).decode()
    # The worker survives a handled exception.
    assert "FunctionError" not in _invoke(emulator, counter_fn, {})


def test_timeout_kills_worker_and_next_invoke_works(emulator: Emulator, counter_fn: str) -> None:
    before = _invoke(emulator, counter_fn, {})["Body"]["pid"]
    started = time.perf_counter()
    response = _invoke(emulator, counter_fn, {"sleep": 10})
    elapsed = time.perf_counter() - started
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in response["Body"]["errorMessage"]
    assert 1.9 < elapsed < 5
    after = _invoke(emulator, counter_fn, {})
    assert "FunctionError" not in after
    assert after["Body"]["pid"] != before or after["Body"]["count"] == 1


SPAWNER_APP = """
import subprocess, time

def handler(event, context):
    child = subprocess.Popen(["sleep", "30"])
    with open(event["pidfile"], "w") as fh:
        fh.write(str(child.pid))
    time.sleep(30)
"""


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_timeout_also_kills_processes_the_handler_started(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.create_function("spawner", {"app.py": SPAWNER_APP}, timeout=1)
    pidfile = tmp_path / "child.pid"
    response = _invoke(emulator, "spawner", {"pidfile": str(pidfile)})
    assert response["Body"]["errorType"] == "Sandbox.Timedout"
    child = int(pidfile.read_text())
    wait_for(lambda: not _running(child), timeout=5)


def test_missing_dependency_surfaces_as_import_error(emulator: Emulator) -> None:
    # boto3 and requests are installed in the emulator's venv, but not in this zip.
    emulator.create_function(
        "badpkg", {"app.py": "import boto3\n\ndef handler(event, context):\n    return 1\n"}
    )
    response = _invoke(emulator, "badpkg", {})
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'boto3'" in response["Body"]["errorMessage"]


def test_event_invoke_returns_202_and_runs(
    emulator: Emulator, counter_fn: str, tmp_path: Path
) -> None:
    # The handler cannot finish before the test opens its gate, so a 202 with the marker still
    # missing shows the invoke returned before the function ran (no wall-clock assertion).
    marker, gate = tmp_path / "event.txt", tmp_path / "gate"
    response = _invoke(
        emulator, counter_fn, {"gate": str(gate), "marker": str(marker)}, InvocationType="Event"
    )
    assert response["StatusCode"] == 202
    assert not marker.exists()
    gate.touch()
    idle = http("GET", f"{emulator.url}/_local_aws/lambda/wait-idle?timeout=10")
    assert idle.status_code == 200
    assert idle.json()["pendingAsync"] == 0
    assert marker.exists()


ASYNC_FAILING_APP = """
import os, uuid

def handler(event, context):
    path = os.path.join(os.environ["MARKER_DIR"], uuid.uuid4().hex)
    with open(path, "w") as fh:
        fh.write(context.aws_request_id)
    raise RuntimeError("always fails")
"""


def test_event_invoke_retries_twice_on_error(emulator: Emulator, tmp_path: Path) -> None:
    emulator.create_function(
        "asyncfail", {"app.py": ASYNC_FAILING_APP}, env={"MARKER_DIR": str(tmp_path)}
    )
    emulator.client("lambda").invoke(
        FunctionName="asyncfail", InvocationType="Event", Payload=b"{}"
    )
    wait_for(lambda: len(list(tmp_path.iterdir())) >= 3, timeout=10)
    time.sleep(0.6)  # no fourth attempt (retry delay is 0.2 s in these tests)
    attempts = list(tmp_path.iterdir())
    assert len(attempts) == 3
    assert len({p.read_text() for p in attempts}) == 1  # same request id on every attempt


def test_concurrent_invokes_use_at_most_four_workers(emulator: Emulator) -> None:
    emulator.create_function("parallel", {"app.py": COUNTER_APP}, timeout=10)
    with ThreadPoolExecutor(8) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda _: _invoke(emulator, "parallel", {"sleep": 0.5}), range(8)))
        elapsed = time.perf_counter() - started
    pids = {r["Body"]["pid"] for r in results}
    assert all("FunctionError" not in r for r in results)
    assert 1 < len(pids) <= 4
    assert 0.9 < elapsed < 6


S3_APP = """
import json, os, urllib.parse, urllib.request

def handler(event, context):
    record = event["Records"][0]
    bucket = record["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    # Call back into the emulator (unsigned path-style PUT) while S3 invoked us.
    url = f"{os.environ['AWS_ENDPOINT_URL']}/{bucket}/markers/{urllib.parse.quote(key, safe='')}"
    body = json.dumps(event).encode()
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return {"ok": True}
"""


def _deny_insecure_transport(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def test_bucket_policy_conditions(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    bucket = f"policy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    policy = _deny_insecure_transport(bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")  # the emulator counts as HTTPS
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 1
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=bucket, Key="k")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_list_object_versions_honours_url_encoding(emulator: Emulator) -> None:
    """The AWS provider empties a force_destroy bucket through ListObjectVersions with
    encoding-type=url and decodes the keys; raw keys made `terraform destroy` loop for ever."""
    s3 = emulator.client("s3")
    bucket = f"versions-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    keys = {"uploads/a b+c%41.jpg", "uploads/plain.jpg", "uploads/caf\u00e9 #1.png"}
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listed = s3.list_object_versions(Bucket=bucket, Prefix="uploads/", EncodingType="url")
    assert listed["EncodingType"] == "url"
    assert {unquote(v["Key"]) for v in listed["Versions"]} == keys
    assert "uploads/a%20b%2Bc%2541.jpg" in {v["Key"] for v in listed["Versions"]}
    # Without the parameter the keys stay raw.
    raw = s3.list_object_versions(Bucket=bucket)
    assert {v["Key"] for v in raw["Versions"]} == keys


def test_presigned_post_policy_is_enforced(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    bucket = f"post-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    post = s3.generate_presigned_post(
        Bucket=bucket,
        Key="uploads/s/j/f/a.jpg",
        Fields={"Content-Type": "image/jpeg"},
        Conditions=[{"Content-Type": "image/jpeg"}, ["content-length-range", 1, 10]],
        ExpiresIn=60,
    )

    def upload(data: bytes, **override: str) -> requests.Response:
        fields = {**post["fields"], **override}
        return requests.post(post["url"], data=fields, files={"file": ("a", data)}, timeout=30)

    too_big = upload(b"x" * 11)
    assert (too_big.status_code, "EntityTooLarge" in too_big.text) == (400, True)
    wrong_type = upload(b"x", **{"Content-Type": "text/html"})
    assert wrong_type.status_code == 403
    wrong_key = upload(b"x", key="uploads/other/a.jpg")
    assert wrong_key.status_code == 403
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # nothing stored
    assert upload(b"x" * 10).status_code == 204
    assert s3.head_object(Bucket=bucket, Key="uploads/s/j/f/a.jpg")["ContentLength"] == 10


def test_s3_notification_invokes_function_asynchronously(emulator: Emulator) -> None:
    arn = emulator.create_function("s3handler", {"app.py": S3_APP})
    s3 = emulator.client("s3")
    bucket = f"notify-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_deny_insecure_transport(bucket)))
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )
    started = time.perf_counter()
    s3.put_object(Bucket=bucket, Key="uploads/a b.jpg", Body=b"x" * 10)
    assert time.perf_counter() - started < 1.0
    s3.put_object(Bucket=bucket, Key="other/ignored.jpg", Body=b"y")
    # A presigned POST (the page's small-file upload) and a multipart upload notify too.
    post = s3.generate_presigned_post(Bucket=bucket, Key="uploads/posted.bin")
    posted = http("POST", post["url"], data=post["fields"], files={"file": b"p" * 5})
    assert posted.status_code == 204
    part_size = 5 * 1024 * 1024
    upload = s3.create_multipart_upload(Bucket=bucket, Key="uploads/multi.bin")
    parts = []
    for number in (1, 2):
        etag = s3.upload_part(
            Bucket=bucket,
            Key="uploads/multi.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=b"m" * part_size,
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="uploads/multi.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )

    def markers() -> dict[str, dict[str, Any]] | None:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="markers/").get("Contents", [])
        if len(listed) < 3:
            return None
        found = {}
        for item in listed:
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            record = json.loads(body)["Records"][0]
            found[record["eventName"]] = record
        return found

    records = wait_for(markers, timeout=15)
    assert set(records) == {
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:CompleteMultipartUpload",
    }
    record = records["ObjectCreated:Put"]
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == "uploads/a+b.jpg"
    assert record["s3"]["object"]["size"] == 10
    assert records["ObjectCreated:CompleteMultipartUpload"]["s3"]["object"]["size"] == 2 * part_size
    time.sleep(0.5)
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="markers/")["Contents"]
    )
    # Exactly one invocation per matching upload; "other/" does not match the prefix filter.
    assert keys == [
        "markers/uploads/a b.jpg",
        "markers/uploads/multi.bin",
        "markers/uploads/posted.bin",
    ]


SFN_APP = """
def handler(event, context):
    if event.get("explode"):
        raise KeyError("explode")
    return {"pk": "item-" + event["id"], "doubled": event["value"] * 2}
"""


def _run_execution(
    emulator: Emulator, definition: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any]:
    sfn = emulator.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], input=json.dumps(payload)
    )

    def finished() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        return None if described["status"] == "RUNNING" else dict(described)

    return dict(wait_for(finished, timeout=30, interval=0.1))


def _table(ddb: Any) -> str:
    """A fresh table keyed by the string ``pk``; its name."""
    table = f"sfn-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return table


def test_step_functions_lambda_and_dynamodb_tasks(emulator: Emulator) -> None:
    arn = emulator.create_function("sfnstep", {"app.py": SFN_APP})
    ddb = emulator.client("dynamodb")
    table = _table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "item-7"}, "label": {"S": "seven"}})
    definition = {
        "StartAt": "Compute",
        "States": {
            "Compute": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                "ResultSelector": {"result.$": "$.Payload"},
                "ResultPath": "$.compute",
                "Next": "Lookup",
            },
            "Lookup": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": table, "Key": {"pk": {"S.$": "$.compute.result.pk"}}},
                "ResultSelector": {"label.$": "$.Item.label.S"},
                "ResultPath": "$.lookup",
                "End": True,
            },
        },
    }
    execution = _run_execution(emulator, definition, {"id": "7", "value": 21})
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["compute"]["result"] == {"pk": "item-7", "doubled": 42}
    assert output["lookup"] == {"label": "seven"}


def test_step_functions_catch_sees_the_lambda_error_type(emulator: Emulator) -> None:
    arn = emulator.create_function("sfnfail", {"app.py": SFN_APP})
    definition = {
        "StartAt": "Compute",
        "States": {
            "Compute": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["KeyError"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["KeyError"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    execution = _run_execution(emulator, definition, {"explode": True})
    assert execution["status"] == "SUCCEEDED", execution
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "KeyError"
    assert json.loads(error["Cause"])["errorType"] == "KeyError"


def test_stopping_an_execution_that_waits_for_a_task_token_aborts_it(emulator: Emulator) -> None:
    sfn = emulator.client("stepfunctions")
    ddb = emulator.client("dynamodb")
    table = _table(ddb)
    definition = {
        "StartAt": "Sleep",
        "States": {
            "Sleep": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
                "Parameters": {
                    "TableName": table,
                    "Item": {"pk": {"S": "sleeper"}, "token": {"S.$": "$$.Task.Token"}},
                },
                "TimeoutSeconds": 120,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    wait_for(lambda: ddb.get_item(TableName=table, Key={"pk": {"S": "sleeper"}}).get("Item"))
    sfn.stop_execution(executionArn=arn, cause="cancelled")

    def finished() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=arn)
        return None if described["status"] == "RUNNING" else dict(described)

    # At once (well before the 120 s timeout), and ABORTED, not FAILED by the cut-short task.
    assert wait_for(finished, timeout=10, interval=0.1)["status"] == "ABORTED"
    events = sfn.get_execution_history(executionArn=arn)["events"]
    assert events[-1]["type"] == "ExecutionAborted"
    assert "Caught" not in json.dumps(events, default=str)


def test_step_functions_context_timestamps_compare_like_aws(emulator: Emulator) -> None:
    definition = {
        "StartAt": "Stamp",
        "States": {
            "Stamp": {
                "Type": "Pass",
                "Parameters": {
                    "entered.$": "$$.State.EnteredTime",
                    "started.$": "$$.Execution.StartTime",
                    "deadline.$": "$.deadline",
                },
                "Next": "Compare",
            },
            "Compare": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$$.State.EnteredTime",
                        "TimestampGreaterThanPath": "$.deadline",
                        "Next": "Late",
                    }
                ],
                "Default": "InTime",
            },
            "Late": {"Type": "Pass", "Result": "late", "ResultPath": "$.verdict", "End": True},
            "InTime": {"Type": "Pass", "Result": "in time", "ResultPath": "$.verdict", "End": True},
        },
    }
    stamp = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
    for deadline, verdict in (
        ("2000-01-01T00:00:00Z", "late"),
        ("2999-01-01T00:00:00.5+02:00", "in time"),
    ):
        execution = _run_execution(emulator, definition, {"deadline": deadline})
        assert execution["status"] == "SUCCEEDED", execution
        output = json.loads(execution["output"])
        assert output["verdict"] == verdict
        assert re.match(stamp, output["entered"]), output
        assert re.match(stamp, output["started"]), output


def test_validate_state_machine_definition_and_list_versions(emulator: Emulator) -> None:
    sfn = emulator.client("stepfunctions")
    good = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    ok = sfn.validate_state_machine_definition(definition=json.dumps(good))
    assert ok["result"] == "OK"
    assert ok["diagnostics"] == []
    for bad in ("{not json", json.dumps({"States": {}}), json.dumps({"StartAt": "A"})):
        failed = sfn.validate_state_machine_definition(definition=bad)
        assert failed["result"] == "FAIL"
        assert failed["diagnostics"][0]["severity"] == "ERROR"
    machine = sfn.create_state_machine(
        name=f"versions-{uuid.uuid4().hex[:6]}",
        definition=json.dumps(good),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )
    versions = sfn.list_state_machine_versions(stateMachineArn=machine["stateMachineArn"])
    assert versions["stateMachineVersions"] == []


ECHO_APP = """
import json

def handler(event, context):
    if event["rawPath"].endswith("/boom"):
        raise RuntimeError("boom")
    if event["rawPath"].endswith("/plain"):
        return {"plain": True}
    return {
        "statusCode": 201 if event["requestContext"]["http"]["method"] == "POST" else 200,
        "headers": {"content-type": "application/json", "x-echo": "1"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": json.dumps(event),
    }
"""


@pytest.fixture(scope="module")
def http_api(emulator: Emulator) -> str:
    arn = emulator.create_function("echo", {"app.py": ECHO_APP})
    apigw = emulator.client("apigatewayv2")
    api = apigw.create_api(
        Name="echo-api",
        ProtocolType="HTTP",
        CorsConfiguration={
            "AllowOrigins": ["http://localhost:8000"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type", "authorization"],
            "ExposeHeaders": ["x-echo"],
            "MaxAge": 300,
        },
    )
    api_id = api["ApiId"]
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri, PayloadFormatVersion="2.0"
    )
    for key in (
        "POST /api/triage/init",
        "GET /api/triage/{jobId}/results",
        "ANY /api/triage/{jobId}/results",
        "GET /api/static/{proxy+}",
        "GET /api/boom",
        "GET /api/plain",
    ):
        apigw.create_route(
            ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}"
        )
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    apigw.create_stage(ApiId=api_id, StageName="v1", AutoDeploy=True)
    return str(api_id)


def test_http_api_post_route_payload_v2(emulator: Emulator, http_api: str) -> None:
    url = f"{emulator.url}/_aws/execute-api/{http_api}/api/triage/init?x=1&x=2&y="
    response = http(
        "POST",
        url,
        json={"expected": 3},
        headers={"Cookie": "session=abc; theme=dark", "User-Agent": "pytest", "X-Custom": "v"},
    )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "1"
    assert response.headers["apigw-requestid"]
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2"]
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /api/triage/init"
    assert event["rawPath"] == "/api/triage/init"
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["headers"]["x-custom"] == "v"
    assert event["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in event["headers"])
    assert json.loads(event["body"]) == {"expected": 3}
    assert event["isBase64Encoded"] is False
    assert "pathParameters" not in event
    ctx = event["requestContext"]
    assert ctx["apiId"] == http_api
    assert ctx["accountId"] == "123456789012"
    assert ctx["stage"] == "$default"
    assert ctx["routeKey"] == "POST /api/triage/init"
    assert ctx["requestId"] == response.headers["apigw-requestid"]
    assert ctx["http"] == {
        "method": "POST",
        "path": "/api/triage/init",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert abs(ctx["timeEpoch"] / 1000 - time.time()) < 60
    assert ctx["domainName"]
    assert ctx["time"]


def test_http_api_path_parameters_and_method_precedence(emulator: Emulator, http_api: str) -> None:
    response = http("GET", f"{emulator.url}/_aws/execute-api/{http_api}/api/triage/job-42/results")
    assert response.status_code == 200
    event = response.json()
    assert event["routeKey"] == "GET /api/triage/{jobId}/results"
    assert event["pathParameters"] == {"jobId": "job-42"}
    assert "body" not in event
    deleted = http("DELETE", f"{emulator.url}/_aws/execute-api/{http_api}/api/triage/j/results")
    assert deleted.json()["routeKey"] == "ANY /api/triage/{jobId}/results"
    greedy = http("GET", f"{emulator.url}/_aws/execute-api/{http_api}/api/static/a/b/c.js")
    assert greedy.json()["pathParameters"] == {"proxy": "a/b/c.js"}


def test_http_api_named_stage_and_host_header_form(emulator: Emulator, http_api: str) -> None:
    staged = http("GET", f"{emulator.url}/_aws/execute-api/{http_api}/v1/api/triage/j1/results")
    event = staged.json()
    assert event["requestContext"]["stage"] == "v1"
    assert event["rawPath"] == "/v1/api/triage/j1/results"
    assert event["pathParameters"] == {"jobId": "j1"}
    by_host = http(
        "GET",
        f"{emulator.url}/api/triage/j2/results",
        headers={"Host": f"{http_api}.execute-api.localhost.localstack.cloud:{emulator.port}"},
    )
    assert by_host.status_code == 200
    assert by_host.json()["pathParameters"] == {"jobId": "j2"}


def test_http_api_unknown_route_and_errors(emulator: Emulator, http_api: str) -> None:
    base = f"{emulator.url}/_aws/execute-api/{http_api}"
    missing = http("GET", f"{base}/api/nope")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found"}
    assert http("PUT", f"{base}/api/triage/init").status_code == 404
    assert http("GET", f"{emulator.url}/_aws/execute-api/nosuchapi/x").status_code == 404
    boom = http("GET", f"{base}/api/boom")
    assert boom.status_code == 500
    assert boom.json() == {"message": "Internal Server Error"}
    plain = http("GET", f"{base}/api/plain")
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json() == {"plain": True}


def test_http_api_cors(emulator: Emulator, http_api: str) -> None:
    base = f"{emulator.url}/_aws/execute-api/{http_api}"
    preflight = http(
        "OPTIONS",
        f"{base}/api/triage/init",
        headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8000"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-max-age"] == "300"
    actual = http(
        "POST", f"{base}/api/triage/init", json={}, headers={"Origin": "http://localhost:8000"}
    )
    assert actual.headers["access-control-allow-origin"] == "http://localhost:8000"
    assert actual.headers["access-control-expose-headers"] == "x-echo"
    foreign = http(
        "POST", f"{base}/api/triage/init", json={}, headers={"Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in foreign.headers


def test_function_logs_reach_emulator_log_and_state_dir(
    emulator: Emulator, counter_fn: str
) -> None:
    request_id = _invoke(emulator, counter_fn, {"log": 1})["Body"]["requestId"]
    log_file = emulator.state_dir / "logs" / f"{counter_fn}.log"
    wait_for(lambda: request_id in log_file.read_text(), timeout=5)
    assert f"[{counter_fn}] invocation" in emulator.log_text()
    assert os.path.isdir(emulator.state_dir / "code")
