"""Fault injection through ``/_local_aws/faults``: failing AWS requests and killed workers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support.emulator import REGION, Emulator, http, wait_for

pytestmark = pytest.mark.integration

STAGED_APP = """
import os, time

def handler(event, context):
    if event.get("marker_dir"):
        path = os.path.join(event["marker_dir"], context.aws_request_id + "-" + str(time.time()))
        open(path, "w").close()
    print("stage-1 started", context.aws_request_id)
    time.sleep(event.get("sleep", 0.5))
    print("stage-2 done")
    return {"pid": os.getpid()}
"""


@pytest.fixture
def faults(emulator: Emulator) -> Iterator[str]:
    url = f"{emulator.url}/_local_aws/faults"
    http("DELETE", url)
    try:
        yield url
    finally:
        http("DELETE", url)


def _client(emulator: Emulator, service: str) -> Any:
    """A client that makes one attempt: every injected error reaches the test."""
    return boto3.client(
        service,
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _add(url: str, *rules: dict[str, Any]) -> list[dict[str, Any]]:
    resp = http("POST", url, json=list(rules))
    assert resp.status_code == 201, resp.text
    return list(resp.json()["faults"])


def _code(exc: ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_rules_are_listed_counted_and_cleared(emulator: Emulator, faults: str) -> None:
    added = _add(
        faults,
        {"service": "dynamodb", "operation": "PutItem", "count": 2, "match": {"table": "t"}},
        {"lambda": "fn", "kill": "timeout", "onLog": "x"},
    )
    assert [rule["remaining"] for rule in added] == [2, 1]
    assert added[0]["error"] == "InternalServerError"  # the default for status 500
    listed = http("GET", faults).json()["faults"]
    assert {rule["id"] for rule in listed} == {rule["id"] for rule in added}
    assert http("DELETE", faults).json() == {"cleared": 2}
    assert http("GET", faults).json() == {"faults": []}


@pytest.mark.parametrize(
    "rule",
    [
        {},
        {"service": "s3", "count": 0},
        {"service": "s3", "status": 200},
        {"service": "s3", "when": "later"},
        {"service": "s3", "match": {"column": "x"}},
        {"service": "s3", "surprise": True},
        {"lambda": "fn", "kill": "gently"},
        {"lambda": "fn", "afterMs": -1},
    ],
)
def test_bad_rules_are_refused_and_none_installed(faults: str, rule: dict[str, Any]) -> None:
    resp = http("POST", faults, json=[{"service": "s3"}, rule])
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"]
    assert http("GET", faults).json() == {"faults": []}  # all or nothing


def _table(emulator: Emulator, name: str) -> None:
    ddb = emulator.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _transact_add(ddb: Any, table: str) -> None:
    ddb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "job"}},
                    "UpdateExpression": "ADD processedCount :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ]
    )


def _processed(ddb: Any, table: str) -> int:
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "job"}}, ConsistentRead=True)
    return int(item.get("Item", {}).get("processedCount", {"N": "0"})["N"])


def test_dynamodb_transaction_throttled_then_through(emulator: Emulator, faults: str) -> None:
    table, other = f"jobs-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    _table(emulator, table)
    _table(emulator, other)
    ddb = _client(emulator, "dynamodb")
    _add(
        faults,
        {
            "service": "dynamodb",
            "operation": "TransactWriteItems",
            "error": "ProvisionedThroughputExceededException",
            "status": 400,
            "count": 2,
            "match": {"table": table},
        },
    )
    _transact_add(ddb, other)  # another table: untouched
    ddb.put_item(TableName=table, Item={"pk": {"S": "x"}})  # another operation: untouched
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            _transact_add(ddb, table)
        assert _code(caught.value) == ("ProvisionedThroughputExceededException", 400)
    assert _processed(ddb, table) == 0  # "before": nothing was written
    _transact_add(ddb, table)  # used up
    assert _processed(ddb, table) == 1
    assert http("GET", faults).json()["faults"][0]["hits"] == 2


def test_dynamodb_error_after_the_write_loses_only_the_answer(
    emulator: Emulator, faults: str
) -> None:
    table = f"jobs-{uuid.uuid4().hex[:6]}"
    _table(emulator, table)
    ddb = _client(emulator, "dynamodb")
    _add(faults, {"service": "dynamodb", "operation": "TransactWriteItems", "when": "after"})
    with pytest.raises(ClientError) as caught:
        _transact_add(ddb, table)
    assert _code(caught.value) == ("InternalServerError", 500)
    assert _processed(ddb, table) == 1  # carried out all the same


def test_sdk_retry_after_a_lost_answer_is_the_same_transaction(
    emulator: Emulator, faults: str
) -> None:
    """The answer of a committed transaction is lost (a 500 after the write); the SDK's retry
    carries the same ClientRequestToken, and DynamoDB answers it as the same transaction:
    success, nothing written twice, the item's condition not evaluated again."""
    table = f"jobs-{uuid.uuid4().hex[:6]}"
    _table(emulator, table)
    retrying = boto3.client(
        "dynamodb",
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )
    _add(faults, {"service": "dynamodb", "operation": "TransactWriteItems", "when": "after"})
    once = {
        "Put": {
            "TableName": table,
            "Item": {"pk": {"S": "file-1"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    count = {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": "job"}},
            "UpdateExpression": "ADD processedCount :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    retrying.transact_write_items(TransactItems=[once, count])  # no error: the retry succeeded
    assert _processed(retrying, table) == 1
    assert http("GET", faults).json()["faults"][0]["hits"] == 1

    # A new call (a new token) is a new transaction: its condition fails.
    with pytest.raises(ClientError) as caught:
        retrying.transact_write_items(TransactItems=[once, count])
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    # The same token with other items: refused.
    token = str(uuid.uuid4())
    retrying.transact_write_items(TransactItems=[count], ClientRequestToken=token)
    with pytest.raises(ClientError) as caught:
        retrying.transact_write_items(TransactItems=[count, once], ClientRequestToken=token)
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    retrying.transact_write_items(TransactItems=[count], ClientRequestToken=token)  # a replay
    assert _processed(retrying, table) == 2


def test_s3_put_under_a_prefix_answers_503(emulator: Emulator, faults: str) -> None:
    s3 = _client(emulator, "s3")
    bucket = f"faults-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    _add(
        faults,
        {"service": "s3", "operation": "PutObject", "keyPrefix": "derived/", "status": 503},
    )
    s3.put_object(Bucket=bucket, Key="uploads/a.jpg", Body=b"a")  # other prefix
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="derived/a/thumb.jpg", Body=b"t")
    assert _code(caught.value) == ("SlowDown", 503)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="derived/a/thumb.jpg")  # not written
    s3.put_object(Bucket=bucket, Key="derived/a/thumb.jpg", Body=b"t")  # count 1: used up
    assert s3.get_object(Bucket=bucket, Key="derived/a/thumb.jpg")["Body"].read() == b"t"


def _invoke(emulator: Emulator, name: str, event: dict[str, Any]) -> dict[str, Any]:
    response = emulator.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event).encode()
    )
    return {
        "error": response.get("FunctionError"),
        "body": json.loads(response["Payload"].read() or b"null"),
    }


def test_worker_killed_when_the_handler_logs_a_line(emulator: Emulator, faults: str) -> None:
    emulator.create_function("staged", {"app.py": STAGED_APP})
    _add(faults, {"lambda": "staged", "kill": "mid-invocation", "onLog": "stage-1"})
    started = time.perf_counter()
    killed = _invoke(emulator, "staged", {"sleep": 5})
    assert time.perf_counter() - started < 4  # killed, not slept through
    assert killed["error"] == "Unhandled"
    assert killed["body"]["errorType"] == "Runtime.ExitError"
    assert "stage-2 done" not in emulator.log_text().split("stage-1 started")[-1]
    again = _invoke(emulator, "staged", {"sleep": 0})  # count 1: used up
    assert again["error"] is None, again


def test_kill_as_a_timeout_and_after_a_delay(emulator: Emulator, faults: str) -> None:
    emulator.create_function("staged-timeout", {"app.py": STAGED_APP}, timeout=30)
    _add(faults, {"lambda": "staged-timeout", "kill": "timeout", "afterMs": 300})
    started = time.perf_counter()
    timed_out = _invoke(emulator, "staged-timeout", {"sleep": 10})
    assert 0.25 < time.perf_counter() - started < 5
    assert timed_out["body"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 30.00 seconds" in timed_out["body"]["errorMessage"]


def test_async_invocation_killed_once_is_retried(
    emulator: Emulator, faults: str, tmp_path: Path
) -> None:
    emulator.create_function("staged-async", {"app.py": STAGED_APP})
    _add(faults, {"lambda": "staged-async", "kill": "mid-invocation", "onLog": "stage-1"})
    emulator.client("lambda").invoke(
        FunctionName="staged-async",
        InvocationType="Event",
        Payload=json.dumps({"marker_dir": str(tmp_path), "sleep": 0.2}).encode(),
    )
    idle = http("GET", f"{emulator.url}/_local_aws/lambda/wait-idle?timeout=20")
    assert idle.status_code == 200
    markers = wait_for(lambda: sorted(p.name for p in tmp_path.iterdir()), timeout=5)
    assert len(markers) == 2  # the killed attempt and its retry, same request id
    assert len({name.rsplit("-", 1)[0] for name in markers}) == 1
    assert http("GET", faults).json()["faults"][0]["remaining"] == 0


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("PUT", "/b/derived/k", "", {}, "PutObject"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, "UploadPart"),
        ("PUT", "/b/k", "", {"HTTP_X_AMZ_COPY_SOURCE": "/b/o"}, "CopyObject"),
        ("PUT", "/b/k", "tagging", {}, ""),
        ("POST", "/b/k", "uploads", {}, "CreateMultipartUpload"),
        ("POST", "/b/k", "uploadId=u", {}, "CompleteMultipartUpload"),
        ("GET", "/b/k", "", {}, "GetObject"),
        ("HEAD", "/b/k", "", {}, "HeadObject"),
        ("DELETE", "/b/k", "uploadId=u", {}, "AbortMultipartUpload"),
        ("GET", "/b", "list-type=2", {}, "ListObjectsV2"),
        ("POST", "/b", "delete", {}, "DeleteObjects"),
        ("PUT", "/k", "", {"HTTP_HOST": "b.s3.localhost.localstack.cloud:4566"}, "PutObject"),
    ],
)
def test_s3_operation_names(
    method: str, path: str, query: str, headers: dict[str, str], operation: str
) -> None:
    from local_aws import faults as module

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, **headers}
    assert module.s3_operation(environ) == operation


def test_tables_of_every_request_form() -> None:
    from local_aws.faults import _tables_of

    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "files", "Item": {"TableName": {"S": "not-a-table"}}}},
            {"Update": {"TableName": "sessions", "Key": {"pk": {"S": "x"}}}},
        ]
    }
    assert _tables_of(json.dumps(transaction).encode()) == {"files", "sessions"}
    batch = {"RequestItems": {"a": [{"PutRequest": {"Item": {}}}], "b": []}}
    assert _tables_of(json.dumps(batch).encode()) == {"a", "b"}
    assert _tables_of(b"not json") == set()


def test_expressions_of_every_request_form() -> None:
    from local_aws.faults import _expressions_of

    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "files", "Item": {"e": {"S": "ADD not-an-expression"}}}},
            {
                "Update": {
                    "TableName": "sessions",
                    "UpdateExpression": "ADD processedCount :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":x": {"S": "SET hidden"}},
                }
            },
        ]
    }
    assert _expressions_of(json.dumps(transaction).encode()) == {
        "ADD processedCount :one",
        "attribute_exists(pk)",
    }
    assert _expressions_of(b"not json") == set()


def test_an_expression_filter_fails_only_the_transactions_that_write_it(
    emulator: Emulator, faults: str
) -> None:
    table = f"jobs-{uuid.uuid4().hex[:6]}"
    _table(emulator, table)
    ddb = _client(emulator, "dynamodb")
    _add(
        faults,
        {
            "service": "dynamodb",
            "operation": "TransactWriteItems",
            "error": "ProvisionedThroughputExceededException",
            "status": 400,
            "match": {"table": table, "expression": "processedCount"},
        },
    )
    bump = {"Update": {"TableName": table, "Key": {"pk": {"S": "job"}}}}
    bump["Update"]["UpdateExpression"] = "ADD version :one"
    bump["Update"]["ExpressionAttributeValues"] = {":one": {"N": "1"}}
    ddb.transact_write_items(TransactItems=[bump])  # another expression: untouched
    with pytest.raises(ClientError) as caught:
        _transact_add(ddb, table)
    assert _code(caught.value) == ("ProvisionedThroughputExceededException", 400)
    assert _processed(ddb, table) == 0
    rule = http("GET", faults).json()["faults"][0]
    assert (rule["hits"], rule["match"]["expression"]) == (1, "processedCount")


def test_missing_key_403_switched_at_run_time(emulator: Emulator) -> None:
    """PUT /_local_aws/s3/missing-key-403: a module of tests can have S3's answer to a caller
    without s3:ListBucket (403 for a missing key) on a shared emulator, then give it back."""
    switch = f"{emulator.url}/_local_aws/s3/missing-key-403"
    s3 = _client(emulator, "s3")
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="there.jpg", Body=b"abc")

    def code() -> str:
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=bucket, Key="gone.jpg")
        return str(caught.value.response["Error"]["Code"])

    assert code() == "NoSuchKey"
    try:
        assert http("PUT", switch, json={"enabled": True}).json() == {"enabled": True}
        assert code() == "AccessDenied"
        assert s3.get_object(Bucket=bucket, Key="there.jpg")["Body"].read() == b"abc"
        assert http("PUT", switch, json={"enabled": "yes"}).status_code == 400
        assert http("GET", switch).json() == {"enabled": True}  # a bad PUT changed nothing
    finally:
        assert http("PUT", switch, json={"enabled": None}).json() == {"enabled": False}
    assert code() == "NoSuchKey"
