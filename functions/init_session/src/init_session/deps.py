"""Composition root: adapters built once per container."""

from __future__ import annotations

import functools

from init_session.adapters import S3UploadSigner, StepFunctionsExecutions
from init_session.core import ApiConfig
from init_session.settings import ApiSettings
from media_triage_shared import aws
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository


@functools.cache
def settings() -> ApiSettings:
    return ApiSettings()  # from the environment


@functools.cache
def config() -> ApiConfig:
    s = settings()
    return ApiConfig(
        ttl_hours=s.file_ttl_hours,
        stall_timeout_seconds=s.stall_timeout_seconds,
        upload_expiry_seconds=s.upload_url_expiry_seconds,
        max_file_bytes=s.max_file_bytes,
    )


@functools.cache
def jobs() -> DynamoJobRepository:
    return DynamoJobRepository(aws.client("dynamodb"), settings().sessions_table)


@functools.cache
def files() -> DynamoFileRepository:
    s = settings()
    return DynamoFileRepository(
        aws.client("dynamodb"), s.files_table, s.sessions_table, s.file_ttl_hours
    )


@functools.cache
def executions() -> StepFunctionsExecutions:
    return StepFunctionsExecutions(aws.client("stepfunctions"), settings().state_machine_arn)


@functools.cache
def signer() -> S3UploadSigner:
    return S3UploadSigner(aws.client("s3"), settings().media_bucket)
