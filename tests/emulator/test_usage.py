"""``/_local_aws/usage``: the emulator's tally of what it served, in the units AWS bills
(``make cost`` prices it). Item sizes follow DynamoDB's documented rules."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from support.emulator import Emulator, http

from local_aws.ddb_units import attribute_size, item_size, read_units, write_units

APP = """
def handler(event, context):
    print("x" * 99)
    return {"ok": True}
"""


# ---------------------------------------------------------------------------- sizes (no emulator)


def test_item_size_follows_dynamodbs_rules() -> None:
    assert attribute_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert attribute_size({"N": "12345"}) == 4  # 5 digits -> 3 bytes + 1
    assert attribute_size({"BOOL": True}) == 1
    assert attribute_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert attribute_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert item_size({"pk": {"S": "JOB#1"}, "n": {"N": "7"}}) == 2 + 5 + 1 + 2


def test_request_units_round_up_per_kb_and_per_4kb() -> None:
    assert write_units(0) == 1  # a write of nothing still costs one unit
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert read_units(4096, consistent=True) == 1
    assert read_units(4097, consistent=True) == 2
    assert read_units(4097, consistent=False) == 1  # eventually consistent: half


# ---------------------------------------------------------------------------- on the emulator


@pytest.fixture
def usage(emulator: Emulator) -> str:
    url = f"{emulator.url}/_local_aws/usage"
    http("DELETE", url)
    return url


def _tally(url: str) -> dict[str, Any]:
    resp = http("GET", url)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.mark.integration
def test_dynamodb_units_from_stored_item_sizes(emulator: Emulator, usage: str) -> None:
    ddb = emulator.client("dynamodb")
    table = f"usage-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    http("DELETE", usage)
    big = "x" * 3000  # ~3 KB: 3 WRU to write, 1 RRU to read
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "blob": {"S": big}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET small = :s",
        ExpressionAttributeValues={":s": {"S": "y"}},
    )  # the whole item is rewritten: 3 WRU again
    ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)
    ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ProjectionExpression="pk")
    counted = _tally(usage)["dynamodb"][table]
    assert counted["requests"] == 4
    assert counted["wru"] == 6
    assert counted["rru"] == 1 + 0.5  # a projection still reads (and bills) the whole item


@pytest.mark.integration
def test_s3_requests_by_class_and_presigned_bytes_out(emulator: Emulator, usage: str) -> None:
    s3 = emulator.client("s3")
    bucket = f"usage-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    http("DELETE", usage)
    s3.put_object(Bucket=bucket, Key="a.bin", Body=b"z" * 5000)
    s3.head_object(Bucket=bucket, Key="a.bin")
    s3.get_object(Bucket=bucket, Key="a.bin")["Body"].read()  # in-region: no transfer out
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.bin"})
    assert len(requests.get(url, timeout=10).content) == 5000
    s3.list_objects_v2(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="a.bin")
    counted = _tally(usage)["s3"][bucket]
    assert (counted["tier1"], counted["tier2"], counted["free"]) == (2, 3, 1)
    assert counted["presigned_get_bytes"] == 5000


@pytest.mark.integration
def test_lambda_invocations_with_memory_billed_time_and_log_bytes(
    emulator: Emulator, usage: str
) -> None:
    name = f"usage-{uuid.uuid4().hex[:8]}"
    emulator.create_function(name, {"app.py": APP})
    lam = emulator.client("lambda")
    for _ in range(2):
        out = lam.invoke(FunctionName=name, Payload=json.dumps({}).encode())
        assert json.loads(out["Payload"].read()) == {"ok": True}
    counted = _tally(usage)["lambda"][name]
    assert counted["invocations"] == 2
    assert counted["memory_mb"] == 256
    assert counted["cold_starts"] == 1
    assert counted["billed_ms"] >= counted["init_ms"] > 0
    assert counted["log_bytes"] >= 2 * 100  # the two printed lines, at least
    reset = http("DELETE", usage).json()
    assert reset["lambda"][name]["invocations"] == 2  # DELETE returns the tally, then resets
    assert name not in _tally(usage)["lambda"]
