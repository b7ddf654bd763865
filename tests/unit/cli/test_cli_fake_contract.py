"""The fake API the CLI tests run against is held to the server's contract: an answer or a
request the real API would not give or take is caught (and fails the test that caused it)."""

from __future__ import annotations

import contextlib
import json

import pytest
from support.cli import fake_api
from support.cli.fake_api import State, serve
from support.cli.fake_contract import check_answer, check_request, route_of

from media_triage_cli.api import ApiClient, ApiError, FileSpec

JOB = "/api/triage/job1"


def _route(method: str, path: str):  # type: ignore[no-untyped-def]
    route = route_of(method, path)
    assert route is not None
    return route


def test_an_answer_missing_a_field_of_the_model_is_caught() -> None:
    cancel = _route("DELETE", JOB)
    problem = check_answer(cancel, 200, {"jobId": "job1", "status": "cancelled"})
    assert problem is not None
    assert "deletedObjects" in problem


def test_an_answer_with_a_field_the_model_does_not_know_is_caught() -> None:
    body = {"fileId": "f1", "key": "uploads/s/j/f1/a.mp4", "etag": '"x"'}
    assert check_answer(_route("POST", f"{JOB}/multipart/complete"), 200, body) is not None
    assert check_answer(_route("POST", f"{JOB}/multipart/complete"), 200, body | {"etag": None})


def test_a_status_the_document_does_not_list_is_caught() -> None:
    error = {"error": {"code": "gone", "message": "gone", "details": []}}
    assert check_answer(_route("GET", f"{JOB}/results"), 410, error) is not None
    assert check_answer(_route("GET", f"{JOB}/results"), 304, None) is None


def test_a_request_the_api_would_refuse_is_caught() -> None:
    init = _route("POST", "/api/triage/init")
    good = {"expectedFileCount": 1, "files": [{"filename": "a.jpg", "size": 3}]}
    assert check_request(init, json.dumps(good).encode()) is None
    assert check_request(init, json.dumps(good | {"count": 1}).encode()) is not None
    assert route_of("POST", "/api/triage/job1/nowhere") is None


def _run_against_a_drifted_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake_api, "_results_body", lambda state, job: {"jobId": job.job_id})
    with serve(State()) as api:
        client = ApiClient(api.base)
        init = client.init([FileSpec(filename="a.jpg", content_type="image/jpeg", size=3)])
        with contextlib.suppress(ApiError):
            client.results(init.job_id)


def test_a_fake_that_drifts_fails_the_test_that_used_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AssertionError, match="getResults 200 answer"):
        _run_against_a_drifted_fake(monkeypatch)


def test_the_client_refuses_an_answer_that_does_not_fit_the_model() -> None:
    with serve(State()) as api:
        client = ApiClient(api.base)
        init = client.init([FileSpec(filename="a.jpg", content_type="image/jpeg", size=3)])
        api.only_job().status = "lost"  # not a JobStatus
        with pytest.raises(ApiError) as caught:
            client.results(init.job_id)
        assert caught.value.code == "bad_response"
        api.contract_violations.clear()  # the fake broke the contract on purpose
