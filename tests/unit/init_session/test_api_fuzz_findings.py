"""What schemathesis against the deployed stack (tests/e2e/test_api_fuzz.py) relies on or found,
pinned in process: the document's links from init to the job routes, the headers every
response is documented to carry, and each finding as a regression test."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.api import Api, spec

from init_session.api import openapi
from init_session.api.routes import ROUTES

DOC = openapi.document(ROUTES)
INIT_202 = DOC["paths"]["/api/triage/init"]["post"]["responses"]["202"]


def _resolve(expression: str, body: dict[str, Any]) -> str:
    """The two runtime-expression forms the links use: a bare pointer and an embedded one."""

    def one(match: re.Match[str]) -> str:
        value: Any = body
        for part in match.group(1).strip("/").split("/"):
            value = value[int(part)] if isinstance(value, list) else value[part]
        return str(value)

    return re.sub(r"\{?\$response\.body#(/[\w/]+)\}?", one, expression)


def test_init_links_every_authenticated_route_with_its_job_id_and_bearer_token() -> None:
    links = INIT_202["links"]
    authenticated = {r.operation_id for r in ROUTES if r.auth}
    assert set(links) == authenticated
    for route in ROUTES:
        if not route.auth:
            continue
        link = links[route.operation_id]
        assert link["operationId"] == route.operation_id
        params = link["parameters"]
        assert params["path.jobId"] == "$response.body#/jobId"
        assert params["header.Authorization"] == "Bearer {$response.body#/sessionToken}"
        # every path parameter of the target is supplied
        assert {f"path.{n}" for n in re.findall(r"\{(\w+)\}", route.template)} <= set(params)


def test_following_the_links_reaches_every_job_route_authorized() -> None:
    """What a client following the links sends is accepted: no 401/403/404 on any route."""
    api = Api()
    created = api.init(2, [spec("a.jpg")])
    for route in ROUTES:
        if not route.auth:
            continue
        params = INIT_202["links"][route.operation_id]["parameters"]
        path = route.template
        for name in re.findall(r"\{(\w+)\}", route.template):
            path = path.replace(f"{{{name}}}", _resolve(params[f"path.{name}"], created))
        auth = _resolve(params["header.Authorization"], created)
        resp = api.call(route.method, path, {}, headers={"authorization": auth})
        # {} is not a valid body where one is needed (400) and retry wants a failed job (409):
        # both come after the token and the job were accepted.
        assert resp.status_code in {200, 400, 409}, (route.operation_id, resp.text)


def test_every_response_documents_x_request_id_as_required() -> None:
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                assert response["headers"]["x-request-id"]["required"] is True, (
                    method,
                    path,
                    status,
                )
    results = DOC["paths"]["/api/triage/{jobId}/results"]["get"]["responses"]
    assert results["200"]["headers"]["ETag"]["required"] is True
    assert results["304"]["headers"]["ETag"]["required"] is True


# ---------------------------------------------------------------------------- findings


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"expectedFileCount": 2.0}),
        ("POST", "/uploads", {"files": [{"filename": "b.jpg", "size": 1000.0}]}),
    ],
)
def test_an_integer_written_as_a_whole_float_is_accepted(
    method: str, suffix: str, body: dict[str, Any]
) -> None:
    """Finding: the document says ``"type": "integer"``, which JSON Schema satisfies with 2.0
    (schemathesis sent ``{"expectedFileCount": 275.0}``), but strict pydantic answered 400."""
    api = Api()
    init = api.call("POST", "/api/triage/init", {"expectedFileCount": 3.0, "files": []})
    assert init.status_code == 202, init.text
    created = init.json()
    resp = api.call(
        method, f"/api/triage/{created['jobId']}{suffix}", body, token=created["sessionToken"]
    )
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("value", [2.5, "2", True, float("1e300")])
def test_integers_stay_strict_otherwise(value: object) -> None:
    api = Api()
    resp = api.call("POST", "/api/triage/init", {"expectedFileCount": value})
    assert resp.status_code == 400, resp.text
    assert resp.error["details"][0]["field"] == "body.expectedFileCount"
