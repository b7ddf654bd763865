"""init-session (HTTP API) settings, validated at cold start."""

from __future__ import annotations

from pydantic import Field

from media_triage_shared.settings import BaseAppSettings


class ApiSettings(BaseAppSettings):
    state_machine_arn: str = Field(min_length=20, description="The triage state machine.")
    multipart_threshold_bytes: int = Field(default=100 * 1024 * 1024, ge=5 * 1024 * 1024)
    upload_url_expiry_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    max_file_bytes: int = Field(default=5 * 1024**3, gt=0)
