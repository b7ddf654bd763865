"""Correlation ids in the API's logs: every request's summary line carries the API Gateway
request id (also returned as x-request-id), and the session and job once they are known, so a
user's report ("request X failed") leads to the job's MediaProcess and TriageRun lines."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_harness import Api, event
from fakes import SM_ARN


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Api]:
    for name, value in {
        "MEDIA_BUCKET": "media-triage-test-media",
        "SESSIONS_TABLE": "sessions",
        "FILES_TABLE": "files",
        "STATE_MACHINE_ARN": SM_ARN,
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
