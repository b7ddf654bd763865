"""Abuse limits (ADR 0014): the model allowlist, each client's token bucket of started
executions and its cap of open jobs."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Protocol

from init_session.ports import ClientLimits
from init_session.services import ApiConfig
from media_triage_shared.errors import ApiErrorCode, Conflict, InvalidRequest, RateLimited
from media_triage_shared.models import UNFINISHED_JOB_STATUSES, JobRow, ttl_epoch
from media_triage_shared.ports import JobRepository


class LimitPorts(Protocol):
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def limits(self) -> ClientLimits: ...
    @property
    def cfg(self) -> ApiConfig: ...


def check_model(model: str | None, cfg: ApiConfig) -> None:
    """Only the operator's allowlist: the model is billed to the operator, not the caller."""
    if model is not None and model not in cfg.allowed_models:
        allowed = ", ".join(cfg.allowed_models)
        raise InvalidRequest(
            f"body.model: {model!r} is not allowed here; allowed: {allowed}",
            details=[
                {"field": "body.model", "message": f"not allowed; allowed: {allowed}"},
                *({"field": "body.model", "message": m} for m in cfg.allowed_models),
            ],
        )


def take_start_token(client: str, svc: LimitPorts, now: datetime) -> None:
    """One token of the client's bucket per execution started (init, retry), else 429.
    ``client`` is ``tokens.client_hash`` of the caller's identity, as in ``admit_job``."""
    cfg = svc.cfg
    now_ms = int(now.timestamp() * 1000)
    horizon = now_ms + cfg.start_burst * cfg.start_interval_ms
    wait_ms = svc.limits.take(
        client, now_ms, cfg.start_interval_ms, cfg.start_burst, horizon // 1000 + 3600
    )
    if wait_ms > 0:
        seconds = math.ceil(wait_ms / 1000)
        raise RateLimited(
            f"too many new jobs from this client; retry in {seconds} s",
            retry_after=seconds,
            details=[{"field": "client", "message": f"retry after {seconds} s"}],
        )


def _still_open(member: str, svc: LimitPorts) -> bool:
    session_id, _, job_id = member.partition("/")
    job = svc.jobs.get_job(session_id, job_id)
    return (
        job is not None and job.status in UNFINISHED_JOB_STATUSES
    )  # counts against the open-job cap (ADR 0014)


def admit_job(client: str, job: JobRow, svc: LimitPorts, now: datetime) -> None:
    """At most ``max_open_jobs`` non-final jobs per client (409 ``too_many_open_jobs``).

    Members are released lazily: only a client at its cap pays for reading its jobs, and the
    ones that ended (or expired) make room. A job admitted by a concurrent init whose row does
    not exist yet can be released too early: the cap may then be passed by the client's
    in-flight inits, which its rate limit bounds."""
    cap = svc.cfg.max_open_jobs
    member = f"{job.session_id}/{job.job_id}"
    expires = ttl_epoch(now, svc.cfg.ttl_hours)
    if svc.limits.admit_job(client, member, cap, expires):
        return
    ended = {m for m in svc.limits.open_jobs(client) if m != member and not _still_open(m, svc)}
    if ended:
        svc.limits.release_jobs(client, ended)
        if svc.limits.admit_job(client, member, cap, expires):
            return
    raise Conflict(
        f"this client has {cap} jobs still open; finish or cancel one first",
        code=ApiErrorCode.TOO_MANY_OPEN_JOBS,
        details=[{"field": "client", "message": f"at most {cap} open jobs"}],
    )
