"""The OpenAPI document (valid 3.1, every route, every schema) and fuzzing of every route with
bodies generated from that document's own schemas, mutated bodies, junk paths and headers.

Schemathesis would do the generation from the document directly; it is not a dependency here,
so ``from_schema`` below turns the document's JSON Schemas into hypothesis strategies.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from support.api import Api, event, spec

from init_session.api import openapi
from init_session.api.routes import ROUTES
from media_triage_shared import keys

DOC = openapi.document(ROUTES)
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_document_is_valid_openapi_31_and_covers_every_route() -> None:
    validate(DOC)  # raises on any violation of the OpenAPI 3.1 schema
    assert DOC["openapi"] == "3.1.0"
    documented = {(m.upper(), p) for p, ops in DOC["paths"].items() for m in ops}
    assert documented == {(r.method, r.template) for r in ROUTES}


def test_document_has_schemas_errors_and_security_per_route() -> None:
    assert DOC["components"]["securitySchemes"]["sessionToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The sessionToken returned by POST /api/triage/init.",
    }
    error = SCHEMAS["ErrorResponse"]
    assert error["required"] == ["error"]
    assert set(SCHEMAS["ErrorBody"]["properties"]) == {"code", "message", "details"}
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps(DOC)))
    assert refs <= set(SCHEMAS), refs - set(SCHEMAS)
    for route in ROUTES:
        op = DOC["paths"][route.template][route.method.lower()]
        assert str(route.status) in op["responses"]
        if route.request is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{route.request.__name__}"}
        if route.auth:
            assert "security" not in op  # the global bearer requirement applies
            assert {"401", "403", "404"} <= set(op["responses"])
        else:
            assert op["security"] == []
        for status, response in op["responses"].items():
            assert "x-request-id" in response["headers"], (route.template, status)
    init = DOC["paths"]["/api/triage/init"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in init["parameters"])
    assert SCHEMAS["InitRequest"]["properties"]["expectedFileCount"]["maximum"] == 1000
    assert set(SCHEMAS["UploadTarget"]["properties"]["method"]["enum"]) == {"POST", "PUT"}


def test_served_document_is_the_generated_one() -> None:
    resp = Api().call("GET", "/api/openapi.json")
    assert resp.status_code == 200
    assert resp.json() == json.loads(json.dumps(DOC))


# ---------------------------------------------------------------------------- generation


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:  # noqa: PLR0911
    """JSON Schema (the subset pydantic emits) -> values that conform to it."""
    schema = _resolve(schema)
    if "anyOf" in schema:
        return st.one_of([from_schema(s) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = {k: from_schema(v) for k, v in props.items() if k in schema.get("required", [])}
        optional = {k: from_schema(v) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(from_schema(schema["items"]), min_size=low, max_size=max(low, 4))
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=min(schema.get("maxLength", 40), 40))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JSON_VALUES


def mutated(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Conforming values, values with one field replaced by junk, and plain junk."""

    def break_one(value: Any, junk: Any, pick: int) -> Any:
        if isinstance(value, dict) and value:
            key = sorted(value)[pick % len(value)]
            return {**value, key: junk}
        return junk

    good = from_schema(schema)
    return st.one_of(
        good,
        st.builds(break_one, good, JSON_VALUES, st.integers(0, 10)),
        st.builds(
            lambda v, k, j: {**v, k: j} if isinstance(v, dict) else v,
            good,
            st.text(max_size=5),
            JSON_VALUES,
        ),
        JSON_VALUES,
    )


def _documented_schema(method: str, template: str, status: int) -> dict[str, Any] | None:
    op = DOC["paths"].get(template, {}).get(method.lower())
    response = op["responses"].get(str(status)) if op else None
    if response is None or "content" not in response:
        return None
    return dict(response["content"]["application/json"]["schema"])


def _assert_well_formed(out: dict[str, Any], route: Any = None) -> None:
    """No 5xx, the request id, the error shape; and with ``route``, every status and body the
    document promises for it (a 2xx body validates against the documented schema)."""
    status = out["statusCode"]
    assert status < 500, out["body"][:2000]
    assert out["headers"]["x-request-id"] == "fuzz"
    if status >= 400:
        body = json.loads(out["body"])
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details"}
    if route is None:
        return
    op = DOC["paths"][route.template][route.method.lower()]
    assert str(status) in op["responses"], (route.template, status)
    schema = _documented_schema(route.method, route.template, status)
    if schema is not None:
        resolvable = {**schema, "components": {"schemas": SCHEMAS}}
        Draft202012Validator(resolvable).validate(json.loads(out["body"]))


def test_success_bodies_are_checked_against_the_document() -> None:
    """The check above is not vacuous: a body missing a documented required field fails it."""
    api, mine, _ = _world()
    fid = mine["uploads"][0]["fileId"]
    route = next(r for r in ROUTES if r.operation_id == "getFileMedia")
    path = route.template.replace("{jobId}", mine["jobId"]).replace("{fileId}", fid)
    ev = event("GET", path, headers={"authorization": f"Bearer {mine['sessionToken']}"})
    from init_session.api import http

    out = http.dispatch(ev, api.svc, "fuzz", now=api.now)
    assert out["statusCode"] == 200
    _assert_well_formed(out, route)
    body = json.loads(out["body"])
    assert body["displayUrl"] is not None
    del body["displayUrl"]
    with pytest.raises(Exception, match="displayUrl"):
        _assert_well_formed({**out, "body": json.dumps(body)}, route)


def _world() -> tuple[Api, dict[str, Any], dict[str, Any]]:
    api = Api()
    mine = api.init(3, [spec("a.jpg"), spec("big.mov", 300 * 1024 * 1024, "video/quicktime")])
    other = api.init(1, [spec()])
    photo = mine["uploads"][0]["fileId"]
    display = keys.derived_key(mine["sessionId"], mine["jobId"], photo, "display.jpg")
    api.land(mine["sessionId"], mine["jobId"], photo, mime_type="image/jpeg", display_key=display)
    return api, mine, other


@pytest.mark.parametrize(
    "route", ROUTES, ids=lambda r: f"{r.method} {r.template}".replace("/", "_")
)
@FUZZ
@given(data=st.data())
def test_fuzz_every_route_never_5xx(route: Any, data: st.DataObject) -> None:
    api, mine, other = _world()
    job_id = data.draw(
        st.sampled_from([mine["jobId"], other["jobId"], "0" * 32])
        | st.text(alphabet=string.printable + "é%/\x00", max_size=70),
        label="jobId",
    )
    file_id = data.draw(
        st.sampled_from([u["fileId"] for u in (*mine["uploads"], *other["uploads"])] + ["0" * 32])
        | st.text(alphabet=string.printable + "é%/\x00", max_size=70),
        label="fileId",
    )
    path = route.template.replace("{jobId}", job_id).replace("{fileId}", file_id)
    token = data.draw(
        st.sampled_from([mine["sessionToken"], other["sessionToken"], None])
        | st.text(max_size=90).map(lambda t: f"Bearer {t}"),
        label="token",
    )
    headers: dict[str, str] = {}
    if token is not None:
        headers["authorization"] = token if token.startswith("Bearer ") else f"Bearer {token}"
    for name in ("idempotency-key", "if-none-match"):
        value = data.draw(st.none() | st.text(max_size=300), label=name)
        if value is not None:
            headers[name] = value
    if route.request is not None:
        schema = DOC["paths"][route.template][route.method.lower()]["requestBody"]["content"][
            "application/json"
        ]["schema"]
        body = data.draw(mutated(schema), label="body")
        big = mine["uploads"][1]
        if isinstance(body, dict) and "uploadId" in body and data.draw(st.booleans()):
            body = {**body, "fileId": big["fileId"], "uploadId": big["multipart"]["uploadId"]}
        raw = data.draw(st.sampled_from([json.dumps(body)]) | st.text(max_size=50), label="raw")
    else:
        raw = data.draw(st.none() | st.text(max_size=50), label="raw")
    b64 = data.draw(st.booleans(), label="base64")
    ev = event(route.method, path, raw=raw, headers=headers, b64=b64 and raw is not None)
    from init_session.api import http

    _assert_well_formed(http.dispatch(ev, api.svc, "fuzz", now=api.now), route)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get", ""]),
    path=st.text(alphabet=string.printable + "é%", max_size=80)
    | st.sampled_from([r.template for r in ROUTES]).map(
        lambda t: t.replace("{jobId}", "x").replace("{fileId}", "y")
    ),
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=5),
    raw=st.none() | st.text(max_size=80),
)
def test_fuzz_arbitrary_requests_never_5xx(
    method: str, path: str, headers: dict[str, str], raw: str | None
) -> None:
    from init_session.api import http

    api = Api()
    _assert_well_formed(
        http.dispatch(event(method, path, raw=raw, headers=headers), api.svc, "fuzz")
    )


@FUZZ
@given(data=st.data())
def test_conforming_bodies_are_accepted_by_the_happy_routes(data: st.DataObject) -> None:
    """Sanity of the generator: bodies drawn from the schema pass validation."""
    api, mine, _ = _world()
    body = data.draw(from_schema({"$ref": "#/components/schemas/UploadsRequest"}))
    resp = api.call(
        "POST", f"/api/triage/{mine['jobId']}/uploads", body, token=mine["sessionToken"]
    )
    assert resp.status_code in {200, 400}, resp.text
    if resp.status_code == 400:  # only the size limit lies outside the schema
        assert resp.error["details"][0]["field"].endswith(".size"), resp.text
