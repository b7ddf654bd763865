"""Composition root: settings, clients and adapters built once per container."""

from __future__ import annotations

import functools
import math

from init_session.adapters import (
    DynamoClientLimits,
    DynamoIdempotencyStore,
    S3UploadSigner,
    StepFunctionsExecutions,
)
from init_session.services import ApiConfig, Services
from init_session.settings import ApiSettings
from init_session.tokens import TokenSecrets
from media_triage_shared import aws
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.s3 import S3ObjectStore
from media_triage_shared.adapters.wake import JobWaker


@functools.cache
def settings() -> ApiSettings:
    return ApiSettings.from_env()  # from the environment


def _parameter(name: str) -> bytes:
    ssm = aws.client("ssm")
    return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]).encode()


@functools.cache
def token_secrets() -> TokenSecrets:
    """The server secret (and the previous one during a rotation), read once per container:
    only the parameter names are in the function's configuration (ADR 0014)."""
    s = settings()
    previous = s.token_secret_previous_param
    return TokenSecrets(
        current=_parameter(s.token_secret_param),
        previous=_parameter(previous) if previous else None,
    )


@functools.cache
def services() -> Services:
    s = settings()
    ddb, s3 = aws.client("dynamodb"), aws.client("s3")
    return Services(
        jobs=DynamoJobRepository(ddb, s.sessions_table),
        files=DynamoFileRepository(ddb, s.files_table, s.sessions_table, s.file_ttl_hours),
        store=S3ObjectStore(s3, s.media_bucket),
        uploads=S3UploadSigner(s3, s.media_bucket),
        executions=StepFunctionsExecutions(aws.client("stepfunctions"), s.state_machine_arn),
        idempotency=DynamoIdempotencyStore(ddb, s.sessions_table),
        limits=DynamoClientLimits(ddb, s.sessions_table),
        secrets=token_secrets(),
        waker=JobWaker(ddb, aws.client("stepfunctions"), s.sessions_table),
        cfg=ApiConfig(
            ttl_hours=s.file_ttl_hours,
            stall_timeout_seconds=s.stall_timeout_seconds,
            upload_expiry_seconds=s.upload_url_expiry_seconds,
            thumbnail_expiry_seconds=s.thumbnail_url_expiry_seconds,
            media_expiry_seconds=s.media_url_expiry_seconds,
            multipart_threshold_bytes=s.multipart_threshold_bytes,
            multipart_part_bytes=s.multipart_part_bytes,
            max_file_bytes=s.max_file_bytes,
            max_targets_per_job=s.max_upload_targets_per_job,
            allowed_models=s.allowed_models,
            start_interval_ms=max(1, math.ceil(60_000 / s.rate_limit_per_minute)),
            start_burst=s.rate_limit_burst,
            max_open_jobs=s.max_open_jobs_per_client,
        ),
    )
