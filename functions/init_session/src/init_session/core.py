"""The HTTP API core: sessions, jobs, upload targets and results. No boto3, no environment."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from init_session.api_models import (
    FileSpec,
    FileStatusView,
    InitRequest,
    InitResponse,
    ResultsResponse,
    UploadTarget,
)
from media_triage_shared import keys
from media_triage_shared.errors import NotFound, Unauthorized
from media_triage_shared.models import JobRow, TriageInput, iso, ttl_epoch
from media_triage_shared.ports import FileRepository, JobRepository


class Executions(Protocol):
    def start(self, name: str, payload: TriageInput) -> str: ...


class UploadSigner(Protocol):
    def presign_post(
        self, key: str, content_type: str, max_bytes: int, expires_in: int
    ) -> tuple[str, dict[str, str]]: ...


@dataclass(frozen=True, slots=True)
class ApiConfig:
    ttl_hours: float
    stall_timeout_seconds: int
    upload_expiry_seconds: int
    max_file_bytes: int


def new_id() -> str:
    return uuid.uuid4().hex


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_of(token: str) -> str:
    """Tokens are ``<sessionId>.<256 random bits>``: the id finds the row, the hash proves it."""
    session_id, _, secret = token.partition(".")
    if not secret or not keys.is_valid_id(session_id):
        raise Unauthorized("malformed session token")
    return session_id


def upload_target(
    job: JobRow, spec: FileSpec, signer: UploadSigner, cfg: ApiConfig, now: datetime
) -> UploadTarget:
    file_id = new_id()
    key = keys.upload_key(job.session_id, job.job_id, file_id, spec.filename)
    url, fields = signer.presign_post(
        key, spec.content_type, cfg.max_file_bytes, cfg.upload_expiry_seconds
    )
    return UploadTarget(
        file_id=file_id,
        filename=spec.filename,
        key=key,
        method="POST",
        url=url,
        fields=fields,
        expires_at=iso(now + timedelta(seconds=cfg.upload_expiry_seconds)),
    )


def init_session(
    req: InitRequest,
    *,
    jobs: JobRepository,
    executions: Executions,
    signer: UploadSigner,
    cfg: ApiConfig,
    now: datetime,
) -> InitResponse:
    session_id, job_id = new_id(), new_id()
    token = f"{session_id}.{secrets.token_urlsafe(32)}"
    job = jobs.create_job(
        JobRow(
            session_id=session_id,
            job_id=job_id,
            expected_file_count=req.expected_file_count,
            token_hash=hash_token(token),
            model=req.model,
            created_at=iso(now),
            updated_at=iso(now),
            stall_deadline=iso(now + timedelta(seconds=cfg.stall_timeout_seconds)),
            expires_at=ttl_epoch(now, cfg.ttl_hours),
        )
    )
    executions.start(job_id, TriageInput(session_id=session_id, job_id=job_id))
    return InitResponse(
        session_id=session_id,
        job_id=job_id,
        session_token=token,
        expires_at=iso(now + timedelta(hours=cfg.ttl_hours)),
        uploads=[upload_target(job, spec, signer, cfg, now) for spec in req.files],
    )


def authorize(token: str, job_id: str, jobs: JobRepository) -> JobRow:
    job = jobs.get_job(session_of(token), job_id)
    if job is None:
        raise NotFound("job not found")  # another session's job looks exactly like none
    if not hmac.compare_digest(job.token_hash, hash_token(token)):
        raise Unauthorized("session token does not match")
    return job


def results(job: JobRow, files: FileRepository) -> ResultsResponse:
    return ResultsResponse(
        job_id=job.job_id,
        session_id=job.session_id,
        status=job.status,
        phase=job.phase,
        expected_file_count=job.expected_file_count,
        processed_count=job.processed_count,
        partial=job.partial,
        error=job.error,
        files=[
            FileStatusView(
                file_id=row.file_id,
                filename=row.filename,
                status=row.status,
                media_type=row.media_type,
                width=row.width,
                height=row.height,
                duration_seconds=row.duration_seconds,
                converted=row.converted,
                error=row.error,
                duplicate_of=row.duplicate_of,
            )
            for row in files.list_files(job.job_id)
        ],
    )
