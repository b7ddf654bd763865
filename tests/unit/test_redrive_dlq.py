"""devtools/redrive_dlq.py against an SQS queue in moto (in-process): failure records are
re-invoked with the original S3 event and deleted; anything else stays; --dry-run touches
nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devtools"))

from redrive_dlq import redrive  # noqa: E402 - devtools/ is not a package

EVENT = json.loads((ROOT / "tests" / "fixtures" / "events" / "s3_object_created.json").read_text())
FUNCTION = "media-triage-prod-media-process"


def failure_record(event: dict[str, Any]) -> str:
    """What Lambda sends to an on-failure destination after the retries are exhausted."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-28T12:00:00.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-4c5e-b2a1-2e5bbd9d1b5f",
                "functionArn": f"arn:aws:lambda:eu-west-1:123456789012:function:{FUNCTION}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": "An error occurred (ProvisionedThroughputExceededException)",
                "errorType": "ClientError",
            },
        }
    )


class FakeLambda:
    """Captures invocations; answers like Lambda's asynchronous Invoke (202)."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"StatusCode": self.status}


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="media-triage-prod-media-process-dlq")["QueueUrl"]
        yield sqs, url


def _bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [m["Body"] for m in messages.get("Messages", [])]


def _second_event() -> dict[str, Any]:
    event = json.loads(json.dumps(EVENT))
    event["Records"][0]["s3"]["object"]["key"] = "uploads/s-2/j-2/f-2/clip+1.mov"
    return event


def test_failure_records_are_reinvoked_with_the_original_event_then_deleted(
    queue: tuple[Any, str],
) -> None:
    sqs, url = queue
    for event in (EVENT, _second_event()):
        sqs.send_message(QueueUrl=url, MessageBody=failure_record(event))
    sqs.send_message(QueueUrl=url, MessageBody='{"not": "a failure record"}')
    fake = FakeLambda()

    report = redrive(sqs, fake, url, FUNCTION)

    assert len(fake.calls) == 2
    assert {c["FunctionName"] for c in fake.calls} == {FUNCTION}
    assert {c["InvocationType"] for c in fake.calls} == {"Event"}
    payloads = sorted((json.loads(c["Payload"]) for c in fake.calls), key=json.dumps)
    assert payloads == sorted([EVENT, _second_event()], key=json.dumps)
    assert len(report.redriven) == 2
    assert any("clip+1.mov" in line and "RetriesExhausted" in line for line in report.redriven)
    assert len(report.kept) == 1
    assert "not a Lambda failure record" in report.kept[0]
    assert not report.ok
    # Only the unrecognised message is left (invisible until its timeout runs out).
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    total = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
    assert total == 1


def test_a_failed_invocation_keeps_the_message(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=failure_record(EVENT))
    fake = FakeLambda(status=500)

    report = redrive(sqs, fake, url, FUNCTION)

    assert len(fake.calls) == 1
    assert report.redriven == []
    assert len(report.kept) == 1
    assert "invoke answered" in report.kept[0]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # still there


def test_dry_run_invokes_and_deletes_nothing(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=failure_record(EVENT))
    sqs.send_message(QueueUrl=url, MessageBody=failure_record(_second_event()))
    fake = FakeLambda()

    report = redrive(sqs, fake, url, FUNCTION, dry_run=True)

    assert fake.calls == []
    assert len(report.would_redrive) == 2
    assert report.redriven == []
    # Both messages are visible again at once for the real run.
    assert len(_bodies(sqs, url)) == 2


def test_max_messages_bounds_one_run(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=failure_record(EVENT))
    fake = FakeLambda()

    report = redrive(sqs, fake, url, FUNCTION, max_messages=2)

    assert len(fake.calls) == 2
    assert len(report.redriven) == 2
