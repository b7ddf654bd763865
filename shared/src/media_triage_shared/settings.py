"""Settings shared by every function; each function subclasses ``BaseAppSettings``.

Validated at cold start: a missing or malformed variable fails fast with its name.
Endpoints come from ``AWS_ENDPOINT_URL`` (read by boto3 itself), never from a local-mode flag.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BaseAppSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, case_sensitive=False)

    media_bucket: str = Field(min_length=3, description="Media bucket (originals + derived).")
    sessions_table: str = Field(min_length=3, description="Sessions/jobs DynamoDB table.")
    files_table: str = Field(min_length=3, description="media-file-processing DynamoDB table.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    app_env: str = "local"
    file_ttl_hours: float = Field(default=24, gt=0, description="TTL of rows and sessions.")
    stall_timeout_seconds: int = Field(
        default=600, ge=10, description="No progress for this long -> triage what arrived."
    )
