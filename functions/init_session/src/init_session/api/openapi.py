"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from init_session.api.models import ID_PATTERN, ErrorResponse
from init_session.tokens import IDEMPOTENCY_KEY_PATTERN

if TYPE_CHECKING:
    from init_session.api.routing import Route

_REASONS = {
    200: "OK",
    202: "Accepted",
    304: "Not modified (If-None-Match matched the current ETag)",
    400: "Invalid request: the details name each field",
    401: "Missing or malformed session token, or the session has expired (`session_expired`)",
    403: "The session token does not match this session",
    404: "No such route, or no such job in the caller's session",
    409: "The job's state does not allow this",
    413: "Body over 512 KiB",
    429: "Too many requests (`rate_limited`: this client's new jobs, ADR 0014; `throttled`: "
    "the service); retry after the Retry-After seconds",
    500: "Internal error",
}
# Where a job route's path parameters come from in an init response: OpenAPI links from init to
# every authenticated route (clients and fuzzers such as schemathesis follow them).
_LINK_SOURCES = {"jobId": "$response.body#/jobId", "fileId": "$response.body#/uploads/0/fileId"}
# Operations that take an optional Idempotency-Key header (what one key stands for).
_IDEMPOTENT = {"initSession": "init", "addUploads": "call"}
_REQUEST_ID = {
    "required": True,
    "description": "Echoes API Gateway's request id; quote it when reporting a problem.",
    "schema": {"type": "string"},
}


def _error_response(status: int) -> dict[str, Any]:
    headers: dict[str, Any] = {"x-request-id": _REQUEST_ID}
    if status == 429:
        headers["Retry-After"] = {
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
            "description": "Seconds to wait before trying again.",
        }
    return {
        "description": _REASONS[status],
        "headers": headers,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A query model's fields as OpenAPI query parameters (an optional field's schema is its
    non-null branch: a query string has no null)."""
    schema = model.model_json_schema(by_alias=True)
    out = []
    for name, prop in schema.get("properties", {}).items():
        branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", []),
                "schema": {k: v for k, v in branches[0].items() if k in ("type", "pattern")},
                "description": prop.get("description", ""),
            }
        )
    return out


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
        for name in re.findall(r"\{(\w+)\}", route.template)
    ]
    if route.operation_id in _IDEMPOTENT:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                "description": f"A random UUID per logical {_IDEMPOTENT[route.operation_id]} "
                "(or 22-255 random base64url characters: at least 122 random bits); "
                "retries reuse it.",
            }
        )
    if route.query is not None:
        params.extend(_query_parameters(route.query))
    if route.operation_id == "getResults":
        params.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            }
        )
    return params


def _responses(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {
        "description": _REASONS[route.status],
        "headers": {"x-request-id": _REQUEST_ID},
        "content": {
            "application/json": {
                "schema": _ref(route.response) if route.response else {"type": "object"}
            }
        },
    }
    responses: dict[str, Any] = {str(route.status): ok}
    if route.operation_id == "getResults":
        ok["headers"]["ETag"] = {
            "required": True,
            "schema": {"type": "string"},
            "description": "Weak ETag.",
        }
        responses["304"] = {
            "description": _REASONS[304],
            "headers": {
                "x-request-id": _REQUEST_ID,
                "ETag": {"required": True, "schema": {"type": "string"}},
            },
        }
    for status in route.errors:
        responses[str(status)] = _error_response(status)
    return responses


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": ["triage"],
    }
    if route.description:
        op["description"] = route.description
    params = _parameters(route)
    if params:
        op["parameters"] = params
    if route.request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.request)}},
        }
    op["responses"] = _responses(route)
    if not route.auth:
        op["security"] = []
    return op


def _links_from_init(routes: Sequence[Route]) -> dict[str, Any]:
    """init's 202 -> every authenticated route: jobId (and any other path parameter the init
    response carries) in the path, the session token as the bearer credential."""
    links: dict[str, Any] = {}
    for route in routes:
        names = re.findall(r"\{(\w+)\}", route.template)
        if not route.auth or not names or not set(names) <= set(_LINK_SOURCES):
            continue
        links[route.operation_id] = {
            "operationId": route.operation_id,
            "description": f"{route.summary}, in the session init just created.",
            "parameters": {
                **{f"path.{name}": _LINK_SOURCES[name] for name in names},
                "header.Authorization": "Bearer {$response.body#/sessionToken}",
            },
        }
    return links


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


@functools.cache
def _document(routes: tuple[Route, ...]) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [(ErrorResponse, "serialization")]
    for route in routes:
        if route.request is not None:
            models.append((route.request, "validation"))
        if route.response is not None:
            models.append((route.response, "serialization"))
    _, schemas = models_json_schema(
        list(dict.fromkeys(models)), ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route)
        if route.operation_id == "initSession":
            ok = paths[route.template][route.method.lower()]["responses"][str(route.status)]
            ok["links"] = _links_from_init(routes)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "media-triage API",
            "version": "1.0.0",
            "description": "Upload a batch of photos and videos straight to S3, follow their "
            'processing and get keep/discard verdicts. Every error is `{"error": {"code", '
            '"message", "details"}}`; every response carries `x-request-id`.',
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "sessionToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The sessionToken returned by POST /api/triage/init.",
                }
            },
        },
        "security": [{"sessionToken": []}],
    }


def document(routes: Sequence[Route]) -> dict[str, Any]:
    return _document(tuple(routes))
