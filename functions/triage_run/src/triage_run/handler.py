"""Step Functions task -> TriageRun. Thin: parse, bind context, call the core, one summary."""

from __future__ import annotations

import time
from typing import Any

from media_triage_shared.logging import bind_invocation, configure_logging, get_logger
from media_triage_shared.models import TriageInput
from triage_run import core, deps

configure_logging(deps.settings().log_level)
log = get_logger()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    req = TriageInput.model_validate(event)
    bind_invocation(
        "triage_run", context.aws_request_id, session_id=req.session_id, job_id=req.job_id
    )
    s = deps.settings()
    budget = s.analyzer_budget(context.get_remaining_time_in_millis() / 1000)
    try:
        analyzer = deps.analyzer()
        out = core.run_triage(
            req,
            files=deps.files(),
            jobs=deps.jobs(),
            store=deps.store(),
            analyzer=analyzer,
            budget_seconds=budget,
            cost=deps.cost_basis(context.memory_limit_in_mb),
        )
    except Exception as exc:  # logged once here, re-raised for the Step Functions Catch
        log.error(
            "triage.failed",
            analyzer=s.resolved_analyzer,
            error_type=type(exc).__name__,
            error=str(exc)[:500],
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
        raise
    log.info(
        "triage.done",
        status=out.status.value,
        analyzer=analyzer.name,
        model=analyzer.model,
        keep=out.keep,
        discard=out.discard,
        partial=out.partial,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return out.model_dump(by_alias=True, mode="json")
