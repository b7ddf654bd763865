"""S3 ObjectCreated -> MediaProcess. Thin: parse, bind context, call the core, log a summary."""

from __future__ import annotations

import time
from typing import Any

from media_process import core, deps
from media_triage_shared import lifecycle, metrics
from media_triage_shared.aws import is_transient
from media_triage_shared.deadline import LAMBDA_MARGIN_SECONDS
from media_triage_shared.events import S3Event
from media_triage_shared.keys import InvalidKey, UploadKey, parse_upload_key
from media_triage_shared.logging import bind_invocation, configure_logging, get_logger
from media_triage_shared.models import utcnow

configure_logging(deps.settings().log_level)
log = get_logger()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000 - LAMBDA_MARGIN_SECONDS
    deadline = core.Deadline.after(min(deps.settings().processing_deadline_seconds, remaining))
    results: list[dict[str, Any]] = []
    for record in S3Event.model_validate(event).records:
        started = time.perf_counter()
        bind_invocation("media_process", context.aws_request_id)
        try:
            upload = parse_upload_key(record.s3.object.key)
        except InvalidKey as exc:  # derived/ or foreign keys: never processed (no recursion)
            log.warning("media.key_ignored", key=record.s3.object.key, reason=str(exc))
            continue
        bind_invocation(
            "media_process",
            context.aws_request_id,
            session_id=upload.session_id,
            job_id=upload.job_id,
            file_id=upload.file_id,
        )
        outcome = core.process_upload(
            upload,
            store=deps.store(),
            files=deps.files(),
            jobs=deps.jobs(),
            media=deps.media(),
            limits=deps.limits(),
            now=utcnow(),
            deadline=deadline,
            transient=is_transient,
        )
        # This count, or an earlier one whose invocation crashed before the wake-up (Lambda's
        # retry finds the file counted), may complete the job: wake (or restart) its workflow.
        if outcome.settled:
            lifecycle.after_count(
                upload.session_id,
                upload.job_id,
                jobs=deps.jobs(),
                executions=deps.executions(),
                waker=deps.waker(),
                now=utcnow(),
            )
        _summarise(outcome, upload, context.aws_request_id, started)
        result = {"fileId": upload.file_id, "status": outcome.row.status.value}
        if outcome.job_cancelled:
            result["skipped"] = "job_cancelled"
        results.append(result)
    return {"processed": results}


def _summarise(outcome: core.Outcome, upload: UploadKey, request_id: str, started: float) -> None:
    """The invocation's summary line, and the file's metrics when this delivery counted it
    (a duplicate delivery or a retry after the count emits nothing: one file, one figure)."""
    duration_ms = round((time.perf_counter() - started) * 1000)
    log.info(
        "media.processed",
        status=outcome.row.status.value,
        error_code=outcome.row.error.code if outcome.row.error else None,
        media_type=outcome.row.media_type,
        counted=outcome.counted,
        duration_ms=duration_ms,
    )
    if outcome.counted:
        ids = {
            "request_id": request_id,
            "session_id": upload.session_id,
            "job_id": upload.job_id,
            "file_id": upload.file_id,
        }
        metrics.file_finalized(deps.settings().app_env, outcome.row, duration_ms, ids)
