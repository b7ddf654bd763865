"""Correlation ids in the API's logs: every request's summary line carries the API Gateway
request id (also returned as x-request-id), and the session and job once they are known, so a
user's report ("request X failed") leads to the job's MediaProcess and TriageRun lines."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from support.api import Api, event
from support.fakes import SM_ARN


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Api]:
    for name, value in {
        "MEDIA_BUCKET": "media-triage-test-media",
        "SESSIONS_TABLE": "sessions",
        "FILES_TABLE": "files",
        "STATE_MACHINE_ARN": SM_ARN,
        "TOKEN_SECRET_PARAM": "/media-triage/test/token-secret/g0",
    }.items():
        monkeypatch.setenv(name, value)
    from init_session import deps
    from init_session import handler as module

    api = Api()
    monkeypatch.setattr(deps, "services", lambda: api.svc)
    return module.handler, api


def _summary(out: str) -> dict[str, Any]:
    lines = [json.loads(ln) for ln in out.splitlines() if '"api.request"' in ln]
    assert lines, out
    return lines[-1]


def test_request_lines_carry_request_session_and_job_ids(
    handler: tuple[Any, Api], capsys: pytest.CaptureFixture[str]
) -> None:
    fn, _api = handler
    capsys.readouterr()
    init = event("POST", "/api/triage/init", {"expectedFileCount": 1, "files": []})
    reply = fn(init, None)
    assert reply["statusCode"] == 202
    created = json.loads(reply["body"])
    line = _summary(capsys.readouterr().out)
    assert line["request_id"] == reply["headers"]["x-request-id"] == "req-123"
    assert (line["session_id"], line["job_id"]) == (created["sessionId"], created["jobId"])
    assert (line["function"], line["status"]) == ("init_session", 202)

    path = f"/api/triage/{created['jobId']}/results"
    results = event("GET", path, headers={"authorization": f"Bearer {created['sessionToken']}"})
    assert fn(results, None)["statusCode"] == 200
    line = _summary(capsys.readouterr().out)
    assert (line["session_id"], line["job_id"]) == (created["sessionId"], created["jobId"])
    assert created["sessionToken"] not in json.dumps(line)  # never the token


def test_the_context_of_one_request_never_leaks_into_the_next(
    handler: tuple[Any, Api], capsys: pytest.CaptureFixture[str]
) -> None:
    fn, _api = handler
    init = event("POST", "/api/triage/init", {"expectedFileCount": 1, "files": []})
    assert fn(init, None)["statusCode"] == 202
    capsys.readouterr()
    assert fn(event("GET", "/api/openapi.json"), None)["statusCode"] == 200
    line = _summary(capsys.readouterr().out)
    assert "session_id" not in line
    assert "job_id" not in line


class _Exploding:
    """A repository whose every call fails like an unexpected bug deep inside a request."""

    def __init__(self, inner: Any, method: str) -> None:
        self._inner, self._method = inner, method

    def __getattr__(self, name: str) -> Any:
        if name == self._method:

            def boom(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("unexpected failure (test)")

            return boom
        return getattr(self._inner, name)


def _secret_fragments(secret: str) -> set[str]:
    """Every 12-character piece: a log line truncating a long value still leaks a fragment."""
    return {secret[i : i + 12] for i in range(len(secret) - 11)}


def test_a_500_in_authorize_logs_neither_the_token_nor_its_pieces(
    handler: tuple[Any, Api], capsys: pytest.CaptureFixture[str]
) -> None:
    fn, api = handler
    init = event("POST", "/api/triage/init", {"expectedFileCount": 1, "files": []})
    created = json.loads(fn(init, None)["body"])
    token = created["sessionToken"]
    api.svc = dataclasses.replace(api.svc, jobs=_Exploding(api.svc.jobs, "get_job"))
    capsys.readouterr()

    path = f"/api/triage/{created['jobId']}/results"
    reply = fn(event("GET", path, headers={"authorization": f"Bearer {token}"}), None)

    assert reply["statusCode"] == 500
    out = capsys.readouterr().out
    assert '"api.unhandled_error"' in out  # the failure is logged, with its traceback ...
    assert "RuntimeError" in out
    leaked = [piece for piece in _secret_fragments(token) if piece in out]
    assert not leaked, out  # ... but no frame's locals (the Authorization header, the token)


def test_a_500_in_init_logs_neither_the_idempotency_key_nor_the_token(
    handler: tuple[Any, Api], capsys: pytest.CaptureFixture[str]
) -> None:
    fn, api = handler
    api.svc = dataclasses.replace(api.svc, jobs=_Exploding(api.svc.jobs, "create_job"))
    key = "5f0c7a9e-3b1d-4c2a-9e8f-0a1b2c3d4e5f"
    capsys.readouterr()

    init = event(
        "POST",
        "/api/triage/init",
        {"expectedFileCount": 1, "files": []},
        headers={"idempotency-key": key},
    )
    reply = fn(init, None)

    assert reply["statusCode"] == 500
    out = capsys.readouterr().out
    assert '"api.unhandled_error"' in out
    leaked = [piece for piece in _secret_fragments(key) if piece in out]
    assert not leaked, out
    # The token init derived from the key (``<sessionId>.<secret>``) is not logged either.
    assert not re.search(r"[0-9a-f]{32}\.[A-Za-z0-9_-]{20,}", out), out
    assert '"locals"' not in out
