"""API Gateway HTTP API (payload 2.0) <-> use cases: routing, validation, auth, errors in one shape.

Order of checks for every request: route (404) -> body size (413) -> token format (401) ->
path parameters (400) -> query (400) -> body (400) -> the caller's job (404 / 403) -> the use
case.
Every response is JSON (or an empty 304) and carries ``x-request-id``; no input yields a 500.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from init_session import sessions, tokens
from init_session.api.models import ID_PATTERN, ErrorBody, ErrorDetail, ErrorResponse
from init_session.api.routes import ROUTES
from init_session.api.routing import Call, Reply, Route
from init_session.services import Services
from media_triage_shared import keys
from media_triage_shared.errors import (
    ApiErrorCode,
    Conflict,
    DomainError,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
)
from media_triage_shared.logging import bind_ids, get_logger
from media_triage_shared.models import utcnow

MAX_BODY_BYTES = 512 * 1024
THROTTLING = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_MATCHERS = [(route, route.pattern) for route in ROUTES]

log = get_logger()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw_body: str
    base64_body: bool
    client: str = "ip:unknown"
    query: dict[str, str] = field(default_factory=dict)


def client_identity(ctx: Mapping[str, Any]) -> str:
    """Whom the abuse limits count (ADR 0014): the JWT's issuer and subject when the
    authorizer is on, else the source IP (an IPv6 address by its /64: one subscriber)."""
    authorizer = ctx.get("authorizer")
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if isinstance(claims, Mapping) and claims.get("sub"):
        return f"jwt:{claims.get('iss', '')}|{claims['sub']}"
    http = ctx.get("http")
    source = (http if isinstance(http, Mapping) else {}).get("sourceIp")
    try:
        address = ipaddress.ip_address(str(source))
    except ValueError:
        return "ip:unknown"
    if address.version == 6:
        return f"ip:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"ip:{address}"


def parse_event(event: Mapping[str, Any]) -> HttpRequest:
    """Payload 2.0 -> request; tolerant of anything missing (it then simply matches no route)."""
    ctx = event.get("requestContext")
    ctx = ctx if isinstance(ctx, Mapping) else {}
    http = ctx.get("http")
    method = str((http if isinstance(http, Mapping) else {}).get("method", "")).upper()
    path = str(event.get("rawPath") or "")
    stage = str(ctx.get("stage") or "$default")
    if stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    headers = event.get("headers")
    lowered = (
        {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
    )
    body = event.get("body")
    query = event.get("queryStringParameters")
    return HttpRequest(
        method=method,
        path=path,
        headers=lowered,
        raw_body=body if isinstance(body, str) else "",
        base64_body=bool(event.get("isBase64Encoded")),
        client=client_identity(ctx),
        query={str(k): str(v) for k, v in query.items()} if isinstance(query, Mapping) else {},
    )


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    for route, pattern in _MATCHERS:
        found = pattern.match(path)
        if found and route.method == method:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    raise NotFound(f"no route {method} {path[:200]}", code=ApiErrorCode.ROUTE_NOT_FOUND)


def body_bytes(req: HttpRequest) -> bytes:
    if len(req.raw_body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    try:
        data = (
            base64.b64decode(req.raw_body, validate=True)
            if req.base64_body
            else req.raw_body.encode("utf-8", "surrogatepass")
        )
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            "body: not valid base64", details=[{"field": "body", "message": "not base64"}]
        ) from exc
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    return data


def _check_path(params: dict[str, str]) -> None:
    for name, value in params.items():
        if not keys.is_valid_id(value):
            raise InvalidRequest(
                f"path.{name}: must match {ID_PATTERN}",
                details=[{"field": f"path.{name}", "message": f"must match {ID_PATTERN}"}],
            )


def _validate(model: type[BaseModel], data: bytes | dict[str, str]) -> BaseModel:
    """A JSON body (bytes) or a query string (a dict), its errors named ``body.*``/``query.*``."""
    where = "query" if isinstance(data, dict) else "body"
    try:
        if isinstance(data, dict):
            return model.model_validate(data, by_name=False)
        return model.model_validate_json(data, by_name=False)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join([where, *(str(p) for p in err["loc"])]),
                "message": err["msg"],
            }
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise InvalidRequest(
            f"{details[0]['field']}: {details[0]['message']}{more}", details=details
        ) from exc


# ---------------------------------------------------------------------------- errors

_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidRequest, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (RateLimited, 429),
)


def to_error(exc: Exception) -> tuple[int, ErrorBody, dict[str, str]]:
    """The one mapping from an exception to (status, error body, extra headers)."""
    status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)
    if isinstance(exc, DomainError) and status < 500:  # the API's own errors: an ApiErrorCode
        details = [
            ErrorDetail.model_validate(d)
            if isinstance(d, dict) and isinstance(d.get("message"), str)
            else ErrorDetail(message=str(d))
            for d in exc.details
        ]
        headers = {"www-authenticate": "Bearer"} if status == 401 else {}
        if isinstance(exc, RateLimited):
            headers = {"retry-after": str(exc.retry_after)}
        body = ErrorBody(code=ApiErrorCode(exc.code), message=exc.message, details=details)
        return status, body, headers
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in THROTTLING:
        body = ErrorBody(code=ApiErrorCode.THROTTLED, message="too many requests; retry shortly")
        return 429, body, {"retry-after": "1"}
    # anything else, a workflow's DomainError included (it never reaches the API by design)
    return 500, ErrorBody(code=ApiErrorCode.INTERNAL_ERROR, message="internal error"), {}


# ---------------------------------------------------------------------------- dispatch


def _reply(req_id: str, status: int, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    if isinstance(body, BaseModel):
        text = body.model_dump_json(by_alias=True, exclude_none=True)
    elif body is None:
        text = ""
    else:
        text = json.dumps(body, separators=(",", ":"))
    out = {"cache-control": "no-store", **headers, "x-request-id": req_id}
    if status != 304:
        out["content-type"] = "application/json"
    return {"statusCode": status, "headers": out, "body": text, "isBase64Encoded": False}


def _run(req: HttpRequest, svc: Services, now: datetime) -> Reply:
    route, params = match(req.method, req.path)
    data = body_bytes(req)
    if route.auth:
        tokens.session_of(tokens.bearer(req.headers.get("authorization")))
    _check_path(params)
    query = _validate(route.query, req.query) if route.query else None
    body = _validate(route.request, data) if route.request else None
    job = None
    if route.auth:
        job = sessions.authorize(
            req.headers.get("authorization"), params["jobId"], svc.jobs, svc.secrets
        )
        sessions.require_unexpired(job, now)
        bind_ids(session_id=job.session_id, job_id=job.job_id)
    call = Call(
        headers=req.headers,
        params=params,
        job=job,
        body=body,
        svc=svc,
        now=now,
        client=req.client,
        query=query,
    )
    return route.run(call)


def dispatch(
    event: Mapping[str, Any], svc: Services, request_id: str, now: datetime | None = None
) -> dict[str, Any]:
    try:
        reply = _run(parse_event(event), svc, now or utcnow())
    except Exception as exc:
        status, error, headers = to_error(exc)
        if status >= 500:
            log.exception("api.unhandled_error", error_type=type(exc).__name__)
        return _reply(request_id, status, ErrorResponse(error=error), headers)
    return _reply(request_id, reply.status, reply.body, reply.headers)
