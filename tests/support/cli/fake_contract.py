"""The fake API held to the server's contract: the route table of ``init_session.routes``, the
request and response models of ``init_session.api_models`` and the status codes of the OpenAPI
document the server serves (built in-process). The fake stays for failure injection (500s, hangs,
expired URLs); what it takes and answers must still be what the real API takes and answers, so
a change of the contract that the fake (and with it the CLI) missed fails the CLI tests."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from init_session.api import openapi
from init_session.api.models import ErrorResponse
from init_session.api.routes import ROUTES
from init_session.api.routing import Route

DOCUMENT = openapi.document(ROUTES)


def route_of(method: str, path: str) -> Route | None:
    for route in ROUTES:
        if route.method == method and route.pattern.match(path):
            return route
    return None


def check_request(route: Route, raw: bytes) -> str | None:
    """Why the real API would refuse this body (None: it would take it)."""
    if route.request is None:
        return None
    try:
        route.request.model_validate_json(raw or b"null")
    except ValidationError as exc:
        return f"{route.operation_id} request: {exc}"
    return None


def check_answer(route: Route, status: int, body: Any) -> str | None:
    """Why the real API could not answer this (None: it could)."""
    documented = DOCUMENT["paths"][route.template][route.method.lower()]["responses"]
    if str(status) not in documented:
        return f"{route.operation_id}: status {status} is not in the document ({documented})"
    model = route.response if status == route.status else ErrorResponse
    if status == 304 or model is None:
        return None if body is None else f"{route.operation_id}: {status} with a body"
    try:
        model.model_validate_json(json.dumps(body))
    except ValidationError as exc:
        return f"{route.operation_id} {status} answer: {exc}"
    return None
