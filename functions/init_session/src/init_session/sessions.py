"""Who may touch a job: the session token, the job's expiry and its state.

No HTTP here: ``api.http`` hands over the ``Authorization`` header as it came.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from init_session import tokens
from media_triage_shared.errors import ApiErrorCode, Conflict, NotFound, Unauthorized
from media_triage_shared.models import LIVE_JOB_STATUSES, JobRow
from media_triage_shared.ports import JobRepository


def new_id() -> str:
    return uuid.uuid4().hex


def authorize(
    authorization: str | None, job_id: str, jobs: JobRepository, secrets: tokens.TokenSecrets
) -> JobRow:
    """The caller's job: 401 without a well-formed token, 404 when the token's session has no
    such job (another session's job looks exactly like a missing one), 403 on a wrong token."""
    token = tokens.bearer(authorization)
    job = jobs.get_job(tokens.session_of(token), job_id)
    if job is None:
        raise NotFound("job not found")
    tokens.verify(token, job.token_hash, secrets)
    return job


def require_unexpired(job: JobRow, now: datetime) -> None:
    """401 ``session_expired`` once the job's ``expiresAt`` (the table's TTL attribute, init + 24 h
    by default) has passed: DynamoDB deletes expired rows lazily, up to days later, and the
    token must not keep working until then. The page shows "session expired" on any 401."""
    if job.expires_at <= int(now.timestamp()):
        raise Unauthorized(
            "the session has expired; start a new one", code=ApiErrorCode.SESSION_EXPIRED
        )


def require_active(job: JobRow, action: str) -> None:
    if job.status not in LIVE_JOB_STATUSES:
        raise Conflict(
            f"cannot {action}: the job is {job.status.value}",
            code=ApiErrorCode.JOB_NOT_ACTIVE,
            details=[{"field": "status", "message": job.status.value}],
        )
