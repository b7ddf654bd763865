"""Composition root: adapters built once per container."""

from __future__ import annotations

import functools

from media_process.settings import MediaProcessSettings
from media_triage_shared import aws
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.s3 import S3ObjectStore


@functools.cache
def settings() -> MediaProcessSettings:
    return MediaProcessSettings()  # from the environment


@functools.cache
def store() -> S3ObjectStore:
    return S3ObjectStore(aws.client("s3"), settings().media_bucket)


@functools.cache
def files() -> DynamoFileRepository:
    s = settings()
    return DynamoFileRepository(
        aws.client("dynamodb"), s.files_table, s.sessions_table, s.file_ttl_hours
    )


@functools.cache
def jobs() -> DynamoJobRepository:
    return DynamoJobRepository(aws.client("dynamodb"), settings().sessions_table)
