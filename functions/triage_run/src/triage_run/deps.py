"""Composition root: settings, clients and adapters built once per container."""

from __future__ import annotations

import functools

from media_triage_shared import aws
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.s3 import S3ObjectStore
from media_triage_shared.job_cost import CostBasis
from media_triage_shared.ports import Analyzer
from media_triage_shared.pricing import load_prices
from triage_run.local import LocalAnalyzer
from triage_run.settings import TriageSettings


@functools.cache
def settings() -> TriageSettings:
    return TriageSettings.from_env()  # from the environment


@functools.cache
def files() -> DynamoFileRepository:
    s = settings()
    return DynamoFileRepository(
        aws.client("dynamodb"), s.files_table, s.sessions_table, s.file_ttl_hours
    )


@functools.cache
def jobs() -> DynamoJobRepository:
    return DynamoJobRepository(aws.client("dynamodb"), settings().sessions_table)


@functools.cache
def store() -> S3ObjectStore:
    return S3ObjectStore(aws.client("s3"), settings().media_bucket)


@functools.cache
def gemini_api_key() -> str:
    """GEMINI_API_KEY, else the SSM SecureString named by GEMINI_API_KEY_PARAM (read once)."""
    s = settings()
    if s.gemini_api_key is not None and s.gemini_api_key.get_secret_value():
        return s.gemini_api_key.get_secret_value()
    if not s.gemini_api_key_param:
        raise RuntimeError("no Gemini API key: set GEMINI_API_KEY or GEMINI_API_KEY_PARAM")
    param = aws.client("ssm").get_parameter(Name=s.gemini_api_key_param, WithDecryption=True)
    return str(param["Parameter"]["Value"])


@functools.cache
def analyzer() -> Analyzer:
    s = settings()
    if s.resolved_analyzer == "local":
        return LocalAnalyzer(store(), ffmpeg=s.ffmpeg_path)
    from triage_run import gemini  # the SDK costs its import time only when chosen

    return gemini.build_analyzer(s, gemini_api_key(), store())


@functools.cache
def cost_basis(memory_mb: int | str) -> CostBasis:
    """The job cost's basis: the checked-in prices, this function's memory, the rows' TTL (the
    bucket's objects expire after the same day). Lambda's Python runtime gives the memory as a
    string (``context.memory_limit_in_mb``)."""
    return CostBasis(load_prices(), int(memory_mb), settings().file_ttl_hours)
