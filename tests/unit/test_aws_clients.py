"""The container's boto3 clients: one per service, all from one Session (ADR 0020)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from media_triage_shared import aws


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_one_session_serves_every_service_and_each_client_is_built_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Any] = []
    real = boto3.session.Session

    def counting() -> Any:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(boto3.session, "Session", counting)
    ddb, s3 = aws.client("dynamodb"), aws.client("s3")
    assert aws.client("dynamodb") is ddb
    assert aws.client("stepfunctions").meta.service_model.service_name == "stepfunctions"
    assert s3.meta.service_model.service_name == "s3"
    assert len(made) == 1  # one Session, three clients

    aws.reset_clients()
    assert aws.client("dynamodb") is not ddb
    assert len(made) == 2


def test_clients_asked_for_from_many_threads_at_once_are_one() -> None:
    got: list[Any] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        got.append(aws.client("dynamodb"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8
    assert all(c is got[0] for c in got)
