"""The API's configuration and the bundle of its adapters.

``Services`` holds every port the API uses; each use-case module takes a narrow ``Protocol`` of
the few it needs (``sessions``, ``limits``, ``uploads``, ``multipart``, ``start``, ``jobs``,
``results``), which this one class implements. ``deps`` builds it once per container; the
unit tests build it from in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass

from init_session import tokens
from init_session.ports import ClientLimits, IdempotencyStore, UploadSigner
from media_triage_shared.ports import Executions, FileRepository, JobRepository, ObjectStore, Waker


@dataclass(frozen=True, slots=True)
class ApiConfig:
    ttl_hours: float
    stall_timeout_seconds: int
    upload_expiry_seconds: int
    thumbnail_expiry_seconds: int
    media_expiry_seconds: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int
    max_file_bytes: int
    max_targets_per_job: int
    # Abuse limits (ADR 0014): the models a request may pick, the token bucket of each client
    # (one token per started execution: an init or a retry) and its open jobs.
    allowed_models: tuple[str, ...]
    start_interval_ms: int
    start_burst: int
    max_open_jobs: int


@dataclass(frozen=True, slots=True)
class Services:
    jobs: JobRepository
    files: FileRepository
    store: ObjectStore
    uploads: UploadSigner
    executions: Executions
    idempotency: IdempotencyStore
    limits: ClientLimits
    secrets: tokens.TokenSecrets
    cfg: ApiConfig
    waker: Waker | None = None  # wakes the state machine when a PATCH makes the job ready
