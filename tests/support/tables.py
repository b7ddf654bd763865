"""The application's DynamoDB key schema (``pk``/``sk`` strings, on-demand), for tests that
create its tables on moto themselves instead of through Terraform."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws


def create_app_tables(dynamodb: Any, *names: str) -> None:
    for name in names:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )


REGION = "us-east-1"
BUCKET, SESSIONS, FILES = "media-triage-unit-media", "unit-sessions", "unit-files"


@dataclass(frozen=True)
class MotoApp:
    """Clients of an in-process moto account holding the app's tables (and bucket)."""

    ddb: Any
    s3: Any


@contextmanager
def moto_app(monkeypatch: pytest.MonkeyPatch, *, bucket: bool = True) -> Iterator[MotoApp]:
    """moto in-process with fake credentials (never a real endpoint: AWS_ENDPOINT_URL is
    dropped), the sessions and files tables, and the media bucket unless ``bucket=False``."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_app_tables(ddb, SESSIONS, FILES)
        s3 = boto3.client("s3", region_name=REGION)
        if bucket:
            s3.create_bucket(Bucket=BUCKET)
        yield MotoApp(ddb=ddb, s3=s3)


def waiting_state_machine() -> tuple[Any, str]:
    """A Step Functions client and a state machine that only waits (inside ``moto_app``)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name="unit-triage",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/unit",
    )["stateMachineArn"]
    return sfn, str(arn)
