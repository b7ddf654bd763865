"""The HTTP edge: auth matrix on every route, validation naming the field, 404/413, the error
shape and x-request-id on every response, the handler wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.api import Api, event, spec

from init_session import tokens
from init_session.api import http
from init_session.api.routes import ROUTES
from media_triage_shared.models import JobStatus

CONTRACT_ROUTES = {
    ("POST", "/api/triage/init"),
    ("POST", "/api/triage/{jobId}/uploads"),
    ("POST", "/api/triage/{jobId}/multipart/parts"),
    ("POST", "/api/triage/{jobId}/multipart/complete"),
    ("POST", "/api/triage/{jobId}/multipart/abort"),
    ("PATCH", "/api/triage/{jobId}"),
    ("DELETE", "/api/triage/{jobId}"),
    ("GET", "/api/triage/{jobId}/results"),
    ("GET", "/api/triage/{jobId}/files/{fileId}/media"),
    ("POST", "/api/triage/{jobId}/retry"),
    ("GET", "/api/openapi.json"),
}
# A valid body for every job route, so that only the token decides the outcome.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/triage/{jobId}/uploads"): {"files": [spec()]},
    ("POST", "/api/triage/{jobId}/multipart/parts"): {
        "fileId": "f" * 32,
        "uploadId": "u",
        "partNumbers": [1],
    },
    ("POST", "/api/triage/{jobId}/multipart/complete"): {
        "fileId": "f" * 32,
        "uploadId": "u",
        "parts": [{"partNumber": 1, "etag": "e"}],
    },
    ("POST", "/api/triage/{jobId}/multipart/abort"): {"fileId": "f" * 32, "uploadId": "u"},
    ("PATCH", "/api/triage/{jobId}"): {"expectedFileCount": 2},
}
JOB_ROUTES = [(r.method, r.template) for r in ROUTES if r.auth]


def test_route_table_is_the_contract() -> None:
    assert {(r.method, r.template) for r in ROUTES} == CONTRACT_ROUTES


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
def two_sessions(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    return api.init(2, [spec()]), api.init(2, [spec()])


def _call(api: Api, route: tuple[str, str], job_id: str, file_id: str, **kw: Any) -> Any:
    method, template = route
    path = template.replace("{jobId}", job_id).replace("{fileId}", file_id)
    return api.call(method, path, BODIES.get(route), **kw)


@pytest.mark.parametrize("route", JOB_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_auth_matrix_on_every_job_route(
    api: Api, two_sessions: tuple[dict[str, Any], dict[str, Any]], route: tuple[str, str]
) -> None:
    a, b = two_sessions
    job_a, file_a = a["jobId"], a["uploads"][0]["fileId"]

    missing = _call(api, route, job_a, file_a)
    assert missing.status_code == 401
    assert missing.error["code"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    for header in ("Basic abc", "Bearer", "Bearer nodot", f"Bearer {a['sessionId']}.short"):
        bad = _call(api, route, job_a, file_a, headers={"Authorization": header})
        assert bad.status_code == 401, header

    forged = f"{a['sessionId']}.{tokens.new_token('x').split('.')[1]}"
    wrong = _call(api, route, job_a, file_a, token=forged)
    assert wrong.status_code == 403
    assert wrong.error["code"] == "forbidden"

    # session B's token on session A's job: indistinguishable from a job that does not exist
    cross = _call(api, route, job_a, file_a, token=b["sessionToken"])
    ghost = _call(api, route, "0" * 32, file_a, token=b["sessionToken"])
    assert cross.status_code == ghost.status_code == 404
    assert cross.json() == ghost.json()

    # ... and session A's job is untouched by it
    job = api.jobs.get_job(a["sessionId"], job_a)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.expected_file_count == 2
    assert api.executions.stopped == []


def test_cross_session_never_touches_objects(api: Api) -> None:
    a, b = api.init(1, [spec()]), api.init(1, [spec()])
    key = a["uploads"][0]["key"]
    api.store.put_bytes(key, b"data", "image/jpeg")
    resp = api.call("DELETE", f"/api/triage/{a['jobId']}", token=b["sessionToken"])
    assert resp.status_code == 404
    assert api.store.head(key) is not None


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "body.expectedFileCount", "Field required"),
        ({"expectedFileCount": 0}, "body.expectedFileCount", "greater than or equal to 1"),
        ({"expectedFileCount": 1001}, "body.expectedFileCount", "less than or equal to 1000"),
        ({"expectedFileCount": "5"}, "body.expectedFileCount", "valid integer"),
        ({"expectedFileCount": True}, "body.expectedFileCount", "valid integer"),
        ({"expectedFileCount": 1.5}, "body.expectedFileCount", "valid integer"),
        ({"expected_file_count": 1}, "body.expectedFileCount", "Field required"),
        ({"expectedFileCount": 1, "x": 1}, "body.x", "Extra inputs"),
        ({"expectedFileCount": 1, "files": {}}, "body.files", "valid array"),
        (
            {"expectedFileCount": 1, "files": [spec(), spec()]},
            "body.files",
            "more files than expectedFileCount",
        ),
        (
            {"expectedFileCount": 1, "files": [spec(size=-1)]},
            "body.files.0.size",
            "greater than or equal to 0",
        ),
        ({"expectedFileCount": 1, "files": [spec(name="")]}, "body.files.0.filename", "at least"),
        (
            {"expectedFileCount": 1, "files": [spec(name="a" * 256)]},
            "body.files.0.filename",
            "at most",
        ),
        (
            {"expectedFileCount": 1, "files": [spec(ct="jpeg")]},
            "body.files.0.contentType",
            "pattern",
        ),
        ({"expectedFileCount": 1, "files": [{"filename": "a"}]}, "body.files.0.size", "required"),
        ({"expectedFileCount": 1, "model": "../etc"}, "body.model", "pattern"),
        ([1, 2], "body", "object"),
        ("text", "body", "object"),
    ],
)
def test_init_validation_names_the_field(api: Api, body: Any, field: str, fragment: str) -> None:
    resp = api.call("POST", "/api/triage/init", body)
    assert resp.status_code == 400, resp.text
    err = resp.error
    assert err["code"] == "invalid_request"
    assert err["details"][0]["field"] == field
    assert field in err["message"]
    assert fragment in err["details"][0]["message"]


@pytest.mark.parametrize(
    ("raw", "b64"),
    [
        ("", False),
        ("{", False),
        ('{"expectedFileCount": 1', False),
        ("\ud800", False),
        ('{"expectedFileCount": 1, "files": [{"filename": "\\ud800", "size": 1}]}', False),
        ("%%%not-base64", True),
    ],
)
def test_unparseable_bodies_are_400(api: Api, raw: str, b64: bool) -> None:
    resp = api.call("POST", "/api/triage/init", raw=raw, b64=b64)
    assert resp.status_code == 400
    assert resp.error["details"][0]["field"] == "body"


def test_base64_bodies_are_decoded(api: Api) -> None:
    resp = api.call("POST", "/api/triage/init", {"expectedFileCount": 1}, b64=True)
    assert resp.status_code == 202


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        (("POST", "/api/triage/{jobId}/uploads"), {"files": []}, "body.files"),
        (
            ("POST", "/api/triage/{jobId}/uploads"),
            {"files": [spec(size=True)]},
            "body.files.0.size",
        ),
        (("PATCH", "/api/triage/{jobId}"), {"expectedFileCount": 0}, "body.expectedFileCount"),
        (
            ("POST", "/api/triage/{jobId}/multipart/complete"),
            {"fileId": "a/b", "uploadId": "u", "parts": [{"partNumber": 1, "etag": "e"}]},
            "body.fileId",
        ),
        (
            ("POST", "/api/triage/{jobId}/multipart/complete"),
            {"fileId": "a", "uploadId": "u", "parts": [{"partNumber": 1, "etag": "e"}] * 2},
            "body.parts",
        ),
        (
            ("POST", "/api/triage/{jobId}/multipart/complete"),
            {"fileId": "a", "uploadId": "u", "parts": [{"partNumber": 10001, "etag": "e"}]},
            "body.parts.0.partNumber",
        ),
        (("POST", "/api/triage/{jobId}/multipart/abort"), {"fileId": "a"}, "body.uploadId"),
    ],
)
def test_job_route_validation_names_the_field(
    api: Api, route: tuple[str, str], body: Any, field: str
) -> None:
    a = api.init(1)
    method, template = route
    resp = api.call(method, template.replace("{jobId}", a["jobId"]), body, token=a["sessionToken"])
    assert resp.status_code == 400, resp.text
    assert resp.error["details"][0]["field"] == field


@pytest.mark.parametrize("job_id", ["a" * 65, "..", "a%2Fb", "%00", "j%20b", "%ZZ"])
def test_bad_path_parameter_is_400_naming_it(api: Api, job_id: str) -> None:
    a = api.init(1)
    resp = api.call("GET", f"/api/triage/{job_id}/results", token=a["sessionToken"])
    assert resp.status_code == 400
    assert resp.error["details"][0]["field"] == "path.jobId"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/triage/init"),
        ("PUT", "/api/triage/abc"),
        ("POST", "/api/triage/abc/results"),
        ("GET", "/api/triage/abc/results/"),
        ("GET", "/api/triage/abc/def/results"),
        ("HEAD", "/api/openapi.json"),
        ("", ""),
    ],
)
def test_unknown_routes_are_404(api: Api, method: str, path: str) -> None:
    resp = api.call(method, path)
    assert resp.status_code == 404
    assert resp.error["code"] == "route_not_found"


def test_body_over_the_cap_is_413(api: Api) -> None:
    big = {"expectedFileCount": 1, "model": "m", "pad": "x" * (512 * 1024)}
    resp = api.call("POST", "/api/triage/init", big)
    assert resp.status_code == 413
    assert resp.error["code"] == "payload_too_large"
    a = api.init(1)
    resp = api.call(
        "PATCH", f"/api/triage/{a['jobId']}", raw="x" * (600 * 1024), token=a["sessionToken"]
    )
    assert resp.status_code == 413


def test_a_1000_file_init_fits_under_the_cap(api: Api) -> None:
    files = [spec(f"{'n' * 240}-{i:04}.jpg") for i in range(1000)]
    assert len(json.dumps({"expectedFileCount": 1000, "files": files})) < 512 * 1024
    assert len(api.init(1000, files)["uploads"]) == 1000


def test_stage_prefix_and_malformed_events_never_crash(api: Api) -> None:
    ev = event("GET", "/prod/api/openapi.json")
    ev["requestContext"]["stage"] = "prod"
    assert api.send(ev).status_code == 200
    for junk in ({}, {"requestContext": "x", "headers": [1], "body": 5}, {"rawPath": None}):
        out = http.dispatch(junk, api.svc, "rid")
        assert out["statusCode"] == 404
        assert out["headers"]["x-request-id"] == "rid"


def test_throttling_is_429_and_other_failures_a_500_without_details(api: Api) -> None:
    from botocore.exceptions import ClientError

    def throttled(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "Op")

    api.executions.start = throttled  # type: ignore[method-assign]
    resp = api.call("POST", "/api/triage/init", {"expectedFileCount": 1})
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "1"
    assert resp.error["code"] == "throttled"

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internals")

    api.executions.start = broken  # type: ignore[method-assign]
    resp = api.call("POST", "/api/triage/init", {"expectedFileCount": 1})
    assert resp.status_code == 500
    assert "secret" not in resp.text


def test_handler_binds_context_and_returns_the_proxy_response(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIA_BUCKET", "media-triage-test-media")
    monkeypatch.setenv("SESSIONS_TABLE", "media-triage-test-sessions")
    monkeypatch.setenv("FILES_TABLE", "media-triage-test-files")
    monkeypatch.setenv("STATE_MACHINE_ARN", "arn:aws:states:us-east-1:0:stateMachine:x")
    monkeypatch.setenv("TOKEN_SECRET_PARAM", "/media-triage/test/token-secret/g0")
    from init_session import deps, handler

    monkeypatch.setattr(deps, "services", lambda: api.svc)

    class Ctx:
        aws_request_id = "lambda-req"

    ev = event("POST", "/api/triage/init", {"expectedFileCount": 1})
    del ev["requestContext"]["requestId"]
    out = handler.handler(ev, Ctx())
    assert out["statusCode"] == 202
    assert out["headers"]["x-request-id"] == "lambda-req"
    assert json.loads(out["body"])["jobId"]
