"""Composition root: adapters built once per container."""

from __future__ import annotations

import functools

from media_triage_shared import aws
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from triage_run.settings import TriageSettings


@functools.cache
def settings() -> TriageSettings:
    return TriageSettings()  # from the environment


@functools.cache
def files() -> DynamoFileRepository:
    s = settings()
    return DynamoFileRepository(
        aws.client("dynamodb"), s.files_table, s.sessions_table, s.file_ttl_hours
    )


@functools.cache
def jobs() -> DynamoJobRepository:
    return DynamoJobRepository(aws.client("dynamodb"), settings().sessions_table)
