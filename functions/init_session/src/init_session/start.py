"""``POST /api/triage/init``: the session, its job, the upload targets and the execution named
after the job, as one replayable plan when the call carries an ``Idempotency-Key``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Protocol

from init_session import tokens
from init_session.api.models import InitRequest, InitResponse
from init_session.limits import LimitPorts, admit_job, check_model, take_start_token
from init_session.ports import IdempotencyRecord, IdempotencyStore
from init_session.sessions import new_id
from init_session.uploads import (
    UploadPorts,
    check_sizes,
    key_reused,
    new_rows,
    planned_rows,
    upload_target,
)
from media_triage_shared.lifecycle import execution_name
from media_triage_shared.models import JobRow, TriageInput, iso, ttl_epoch


class StartPorts(UploadPorts, LimitPorts, Protocol):
    @property
    def idempotency(self) -> IdempotencyStore: ...


def request_hash(req: InitRequest) -> str:
    return hashlib.sha256(req.model_dump_json(by_alias=True).encode()).hexdigest()


def _claim(
    claimed: IdempotencyRecord, idempotency_key: str, svc: StartPorts, now: datetime
) -> tuple[IdempotencyRecord, bytes]:
    """The init's idempotency record and the secret its token is derived with. During a
    rotation's grace period a record made under the previous secret is found first (its
    token was derived with that secret); otherwise the key is claimed under the current one."""
    now_epoch = int(now.timestamp())
    previous = svc.secrets.previous
    if previous is not None and previous != svc.secrets.current:
        found = svc.idempotency.find(tokens.key_hash(previous, idempotency_key), now_epoch)
        if found is not None:
            return found, previous
    return svc.idempotency.claim(claimed, now_epoch), svc.secrets.current


def _identity(
    req: InitRequest, idempotency_key: str | None, svc: StartPorts, now: datetime
) -> tuple[str, str, list[str], str, bool]:
    """(session id, job id, file ids, session token, replay) of an init: fresh ones, or the
    ones an ``Idempotency-Key`` fixed when it was first claimed (``replay``: not by this call)."""
    session_id, job_id, file_ids = new_id(), new_id(), [new_id() for _ in req.files]
    if idempotency_key is None:
        return session_id, job_id, file_ids, tokens.new_token(session_id), False
    claimed = IdempotencyRecord(
        key_hash=tokens.key_hash(svc.secrets.current, idempotency_key),
        request_hash=request_hash(req),
        session_id=session_id,
        job_id=job_id,
        file_ids=file_ids,
        created_at=iso(now),
        expires_at=ttl_epoch(now, svc.cfg.ttl_hours),
    )
    stored, secret = _claim(claimed, idempotency_key, svc, now)
    if stored.request_hash != claimed.request_hash:
        raise key_reused("header.idempotency-key")
    token = tokens.derived_token(secret, idempotency_key, stored.session_id, stored.job_id)
    replay = stored.session_id != session_id
    return stored.session_id, stored.job_id, stored.file_ids, token, replay


def init_session(
    req: InitRequest, idempotency_key: str | None, client: str, svc: StartPorts, now: datetime
) -> InitResponse:
    """Create the session and job, the upload targets and the execution named after the job.

    With an ``Idempotency-Key`` the init is a plan claimed first (ids fixed, token derived
    from the key): a retry returns an equivalent response and finishes whatever step the first
    call did not reach; every step is conditional, so nothing happens twice.

    ``client`` is the caller's identity (``api.http.client_identity``): each init takes a token
    of its bucket and the job counts against its open jobs (ADR 0014)."""
    cfg = svc.cfg
    check_sizes(req.files, cfg)
    check_model(req.model, cfg)
    client = tokens.client_hash(svc.secrets.current, client)
    take_start_token(client, svc, now)
    session_id, job_id, file_ids, token, replay = _identity(req, idempotency_key, svc, now)
    planned = JobRow(
        session_id=session_id,
        job_id=job_id,
        expected_file_count=req.expected_file_count,
        token_hash=tokens.hash_token(svc.secrets.current, token),
        model=req.model,
        created_at=iso(now),
        updated_at=iso(now),
        stall_deadline=iso(now + timedelta(seconds=cfg.stall_timeout_seconds)),
        upload_target_count=len(req.files),
        expires_at=ttl_epoch(now, cfg.ttl_hours),
    )
    admit_job(client, planned, svc, now)
    job = svc.jobs.create_job(planned)
    if idempotency_key is None:
        rows = new_rows(job, req.files, file_ids, svc, now)
    else:
        existing = {r.file_id: r for r in svc.files.list_files(job_id)} if replay else {}
        rows = planned_rows(job, req.files, file_ids, svc, now, existing=existing)
    arn = svc.executions.start(
        execution_name(job), TriageInput(session_id=session_id, job_id=job_id)
    )
    if job.execution_arn != arn:
        svc.jobs.set_execution(session_id, job_id, arn)
    return InitResponse(
        session_id=session_id,
        job_id=job_id,
        session_token=token,
        expires_at=iso(datetime.fromtimestamp(job.expires_at, tz=UTC)),
        uploads=[upload_target(row, svc, now) for row in rows],
    )
