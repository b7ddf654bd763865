"""HTTP API (payload 2.0) -> init-session. Thin: bind context, dispatch, one summary line."""

from __future__ import annotations

import time
from typing import Any

from init_session import deps
from init_session.api.http import dispatch
from media_triage_shared.logging import bind_invocation, configure_logging, get_logger

configure_logging(deps.settings().log_level)
log = get_logger()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = event.get("requestContext") or {}
    request_id = str(ctx.get("requestId") or getattr(context, "aws_request_id", "") or "-")
    path = event.get("pathParameters") or {}
    bind_invocation("init_session", request_id, job_id=path.get("jobId"))
    result = dispatch(event, deps.services(), request_id)
    log.info(
        "api.request",
        method=(ctx.get("http") or {}).get("method"),
        path=event.get("rawPath"),
        status=result["statusCode"],
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return result
