"""HTTP API (payload 2.0) -> init-session. Thin: bind context, dispatch, one summary line."""

from __future__ import annotations

import time
from typing import Any

from init_session import deps
from init_session.http import dispatch
from media_triage_shared.logging import bind_invocation, configure_logging, get_logger

configure_logging(deps.settings().log_level)
log = get_logger()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    request_id = (event.get("requestContext") or {}).get("requestId") or context.aws_request_id
    path = event.get("pathParameters") or {}
    bind_invocation("init_session", request_id, job_id=path.get("jobId"))
    result = dispatch(event, request_id)
    log.info(
        "api.request",
        route=event.get("routeKey"),
        status=result["statusCode"],
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return result
