"""TriageRun settings, validated at cold start (a bad variable fails with its name)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from media_triage_shared.settings import BaseAppSettings


class TriageSettings(BaseAppSettings):
    analyzer: Literal["gemini", "local"] | None = Field(
        default=None, description="Analyzer; unset = gemini when a key is configured, else local."
    )
    gemini_api_key: SecretStr | None = Field(default=None, description="Gemini API key.")
    gemini_api_key_param: str | None = Field(
        default=None, description="SSM parameter (SecureString) holding the Gemini API key."
    )
    gemini_model: str = Field(default="gemini-2.5-flash", min_length=1)
    gemini_base_url: str | None = Field(
        default=None, description="Gemini endpoint override (a proxy, or a fake in tests)."
    )
    gemini_batch_size: int = Field(default=20, ge=1, le=20, description="Files per model call.")
    gemini_concurrency: int = Field(default=8, ge=1, le=32, description="Calls in flight.")
    gemini_call_timeout_seconds: float = Field(default=90, gt=0, le=600)
    gemini_attempts: int = Field(
        default=3, ge=1, le=10, description="SDK attempts per call (429, 5xx, timeouts)."
    )
    gemini_retry_initial_delay_seconds: float = Field(default=1.0, ge=0, le=30)
    gemini_retry_max_delay_seconds: float = Field(default=8.0, ge=0, le=60)
    gemini_batch_attempts: int = Field(
        default=2, ge=1, le=5, description="Rounds for a batch that failed after SDK retries."
    )
    gemini_media: Literal["url", "inline"] = Field(
        default="url",
        description="Photos as presigned URLs, or inline bytes (within the request size limit). "
        "Videos always go as URLs.",
    )
    triage_deadline_seconds: float = Field(
        default=480, ge=10, le=900, description="Overall analyzer deadline (capped by Lambda)."
    )
    ffmpeg_path: str = Field(default="ffmpeg", description="ffmpeg for video frames (local).")

    @model_validator(mode="after")
    def _gemini_needs_a_key(self) -> Self:
        if self.analyzer == "gemini" and not self.has_gemini_key:
            raise ValueError(
                "ANALYZER=gemini needs GEMINI_API_KEY or GEMINI_API_KEY_PARAM (an SSM parameter)"
            )
        return self

    @property
    def has_gemini_key(self) -> bool:
        return bool(
            (self.gemini_api_key and self.gemini_api_key.get_secret_value())
            or self.gemini_api_key_param
        )

    @property
    def resolved_analyzer(self) -> Literal["gemini", "local"]:
        if self.analyzer is not None:
            return self.analyzer
        return "gemini" if self.has_gemini_key else "local"
