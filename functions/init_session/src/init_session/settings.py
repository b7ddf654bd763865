"""init-session (HTTP API) settings, validated at cold start."""

from __future__ import annotations

from pydantic import Field

from media_triage_shared.settings import BaseAppSettings

MIB = 1024 * 1024


class ApiSettings(BaseAppSettings):
    state_machine_arn: str = Field(min_length=20, description="The triage state machine.")
    multipart_threshold_bytes: int = Field(
        default=100 * MIB, ge=5 * MIB, description="Files above this get a multipart plan."
    )
    multipart_part_bytes: int = Field(
        default=16 * MIB, ge=5 * MIB, le=5 * 1024 * MIB, description="Preferred part size."
    )
    upload_url_expiry_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    thumbnail_url_expiry_seconds: int = Field(
        default=900, ge=60, le=12 * 3600, description="Presigned thumbnail URLs (results)."
    )
    media_url_expiry_seconds: int = Field(
        default=3600,
        ge=60,
        le=12 * 3600,
        description="Presigned URLs of one file's media (GET .../files/{fileId}/media): long "
        "enough for a video's range requests while the user reviews it.",
    )
    max_file_bytes: int = Field(default=5 * 1024 * 1024 * MIB, gt=0)
    max_upload_targets_per_job: int = Field(default=2000, ge=1000)

    # Server secret and abuse limits (ADR 0014)
    token_secret_param: str = Field(
        min_length=1,
        description="SSM SecureString holding the server secret that token derivation and "
        "key hashing are bound to (Terraform generates one per environment).",
    )
    token_secret_previous_param: str | None = Field(
        default=None,
        description="The secret it replaced, accepted during a rotation's grace period.",
    )
    allowed_models: tuple[str, ...] = Field(
        default=("gemini-2.5-flash",),
        min_length=1,
        description="Models a request may pick (JSON list): the operator pays for them.",
    )
    rate_limit_per_minute: float = Field(
        default=10, gt=0, description="New executions (init, retry) per client per minute."
    )
    rate_limit_burst: int = Field(default=20, ge=1, description="Bucket size of that rate.")
    max_open_jobs_per_client: int = Field(
        default=20, ge=1, description="Non-final jobs one client may hold."
    )
