"""API Gateway HTTP API (payload 2.0) <-> core: routing, auth header, errors in one shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from init_session import core, deps
from init_session.api_models import InitRequest
from media_triage_shared.errors import DomainError, InvalidRequest, NotFound, Unauthorized
from media_triage_shared.models import utcnow

_STATUS = {
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "payload_too_large": 413,
}

Route = Callable[[dict[str, Any]], tuple[int, BaseModel]]


def response(status: int, body: Any, request_id: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "x-request-id": request_id},
        "body": body if isinstance(body, str) else json.dumps(body),
    }


def error_response(exc: DomainError, request_id: str) -> dict[str, Any]:
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return response(_STATUS.get(exc.code, 500), body, request_id)


def _json_body(event: dict[str, Any]) -> Any:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        import base64

        raw = base64.b64decode(raw).decode()
    try:
        return json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc.msg}") from exc


def _token(event: dict[str, Any]) -> str:
    header = (event.get("headers") or {}).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing Authorization: Bearer <sessionToken>")
    return str(token).strip()


def _init(event: dict[str, Any]) -> tuple[int, BaseModel]:
    req = InitRequest.model_validate(_json_body(event))
    return 202, core.init_session(
        req,
        jobs=deps.jobs(),
        executions=deps.executions(),
        signer=deps.signer(),
        cfg=deps.config(),
        now=utcnow(),
    )


def _results(event: dict[str, Any]) -> tuple[int, BaseModel]:
    job_id = (event.get("pathParameters") or {}).get("jobId", "")
    job = core.authorize(_token(event), job_id, deps.jobs())
    return 200, core.results(job, deps.files())


ROUTES: dict[str, Route] = {
    "POST /api/triage/init": _init,
    "GET /api/triage/{jobId}/results": _results,
}


def dispatch(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    route = ROUTES.get(str(event.get("routeKey", "")))
    try:
        if route is None:
            raise NotFound("no such route")
        status, body = route(event)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        return error_response(InvalidRequest("request is invalid", details=details), request_id)
    except DomainError as exc:
        return error_response(exc, request_id)
    return response(status, body.model_dump_json(by_alias=True, exclude_none=True), request_id)
