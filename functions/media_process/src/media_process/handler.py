"""S3 ObjectCreated -> MediaProcess. Thin: parse, bind context, call the core."""

from __future__ import annotations

import time
from typing import Any

from media_process import core, deps
from media_triage_shared.keys import InvalidKey, parse_upload_key
from media_triage_shared.logging import bind_invocation, configure_logging, get_logger
from media_triage_shared.models import S3Event, utcnow

configure_logging(deps.settings().log_level)
log = get_logger()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    s = deps.settings()
    results: list[dict[str, Any]] = []
    for record in S3Event.model_validate(event).records:
        bind_invocation("media_process", context.aws_request_id)
        try:
            upload = parse_upload_key(record.s3.object.key)
        except InvalidKey as exc:
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
            limits=core.Limits(s.file_ttl_hours, s.stall_timeout_seconds),
            now=utcnow(),
        )
        log.info(
            "media.processed",
            status=outcome.row.status.value,
            error_code=outcome.row.error.code if outcome.row.error else None,
            counted=outcome.counted,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
        results.append({"fileId": upload.file_id, "status": outcome.row.status.value})
    return {"processed": results}
