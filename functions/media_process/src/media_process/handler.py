"""S3 ObjectCreated -> MediaProcess. Thin: parse, bind context, call the core, log a summary."""

from __future__ import annotations

import time
from typing import Any

from media_process import core, deps
from media_triage_shared import lifecycle
from media_triage_shared.aws import is_transient
from media_triage_shared.deadline import LAMBDA_MARGIN_SECONDS
from media_triage_shared.keys import InvalidKey, parse_upload_key
from media_triage_shared.logging import bind_invocation, configure_logging, get_logger
from media_triage_shared.models import S3Event, utcnow

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
        error = outcome.row.error.code if outcome.row.error else None
        log.info(
            "media.processed",
            status=outcome.row.status.value,
            error_code=error,
            media_type=outcome.row.media_type,
            counted=outcome.counted,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
        result = {"fileId": upload.file_id, "status": outcome.row.status.value}
        if outcome.job_cancelled:
            result["skipped"] = "job_cancelled"
        results.append(result)
    return {"processed": results}
