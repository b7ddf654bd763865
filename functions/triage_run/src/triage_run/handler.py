"""Step Functions task -> TriageRun. Thin: parse, bind context, call the core, one summary."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from media_triage_shared import metrics
from media_triage_shared.logging import bind_invocation, configure_logging, get_logger
from media_triage_shared.models import TriageInput, utcnow
from triage_run import core, deps
from triage_run.outcome import Triaged

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
        done = core.triage(
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
    out = done.output
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
    _record(done, req, context.aws_request_id)
    return out.model_dump(by_alias=True, mode="json")


def _ms_since(stamp: str | None, now: datetime) -> float | None:
    return (
        None
        if stamp is None
        else round((now - datetime.fromisoformat(stamp)).total_seconds() * 1000)
    )


def _record(done: Triaged, req: TriageInput, request_id: str) -> None:
    """A completed job's metrics: its verdicts are written and visible from now on."""
    if done.summary is None:  # cancelled: nothing was judged
        return
    now = utcnow()
    metrics.job_completed(
        deps.settings().app_env,
        done.summary,
        tail_ms=_ms_since(done.last_file_at, now),
        job_ms=_ms_since(done.job_created_at, now),
        metadata={"request_id": request_id, "session_id": req.session_id, "job_id": req.job_id},
    )
