"""JobWaker against a real (moto) job row: when it sends the token, and that a stale token or a
network failure never fails the caller (MediaProcess or the PATCH).

The happy path through a running state machine is in test_asl.py. moto accepts any token in
SendTaskSuccess, so the answers AWS gives for stale tokens come from botocore's Stubber, which
checks the request against the real service model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws
from support.tables import create_app_tables

from media_triage_shared.adapters.wake import JobWaker
from media_triage_shared.models import JobRow, JobStatus

REGION = "us-east-1"
TABLE = "unit-sessions"
KEY = {"pk": {"S": "SESSION#s1"}, "sk": {"S": "JOB#j1"}}


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_app_tables(client, TABLE)
        yield client


def _job(ddb: Any, status: str, expected: int, processed: int, token: str | None = None) -> None:
    """A whole job row (the waker reads it as a ``JobRow``), as init and the state machine
    leave it."""
    row = JobRow(
        session_id="s1",
        job_id="j1",
        status=JobStatus(status),
        expected_file_count=expected,
        processed_count=processed,
        token_hash="h",
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
        stall_deadline="2026-01-01T00:10:00Z",
        expires_at=2_000_000_000,
        progress_token=token,
    )
    item = row.to_item()
    assert {k: item[k] for k in KEY} == KEY
    ddb.put_item(TableName=TABLE, Item=item)


@pytest.fixture
def sfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("stepfunctions", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("status", "expected", "processed", "token"),
    [
        ("processing", 3, 2, "tok"),  # a file still to come
        ("analyzing", 2, 2, "tok"),  # already moving on
        ("cancelled", 2, 2, "tok"),
        ("processing", 2, 2, None),  # no sleeper (the token write lost the race: Recheck)
    ],
)
def test_nothing_is_sent_unless_a_sleeper_waits_on_a_ready_job(
    ddb: Any,
    sfn: tuple[Any, Stubber],
    status: str,
    expected: int,
    processed: int,
    token: str | None,
) -> None:
    _job(ddb, status, expected, processed, token)
    client, _ = sfn  # no response queued: any call would fail the test
    assert not JobWaker(ddb, client, TABLE).wake_if_ready("s1", "j1")


def test_a_ready_job_gets_its_own_token_back(ddb: Any, sfn: tuple[Any, Stubber]) -> None:
    _job(ddb, "processing", 2, 3, "token-of-j1")  # a lowered count may leave processed above
    client, stub = sfn
    stub.add_response("send_task_success", {}, {"taskToken": "token-of-j1", "output": "{}"})
    assert JobWaker(ddb, client, TABLE).wake_if_ready("s1", "j1")


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_a_stale_token_is_expected_and_quiet(
    ddb: Any, sfn: tuple[Any, Stubber], code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _job(ddb, "pending", 1, 1, "old-token")
    client, stub = sfn
    stub.add_client_error("send_task_success", service_error_code=code)
    assert not JobWaker(ddb, client, TABLE).wake_if_ready("s1", "j1")
    assert "job.wake_failed" not in capsys.readouterr().out


def test_any_other_refusal_is_logged_and_left_to_the_timeout(
    ddb: Any, sfn: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    _job(ddb, "processing", 1, 1, "tok")
    client, stub = sfn
    stub.add_client_error("send_task_success", service_error_code="AccessDeniedException")
    assert not JobWaker(ddb, client, TABLE).wake_if_ready("s1", "j1")
    assert "AccessDeniedException" in capsys.readouterr().out


def test_an_unreachable_step_functions_does_not_fail_the_caller(
    ddb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _job(ddb, "processing", 1, 1, "tok")
    down = boto3.client(
        "stepfunctions",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",  # discard port: connection refused
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    assert not JobWaker(ddb, down, TABLE).wake_if_ready("s1", "j1")
    assert "job.wake_failed" in capsys.readouterr().out
