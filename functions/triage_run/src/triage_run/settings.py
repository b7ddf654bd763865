"""TriageRun settings, validated at cold start (a bad variable fails with its name)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from media_triage_shared.settings import BaseAppSettings

# Gemini defaults: the settings below use them, and so do GeminiConfig / make_client (built
# from these settings in production, constructed directly by tests and benchmarks).
MAX_BATCH = 20  # files per generateContent call: the most one answer reliably covers
GEMINI_CONCURRENCY = 8
GEMINI_CALL_TIMEOUT_SECONDS = 90.0
GEMINI_ATTEMPTS = 3
GEMINI_RETRY_INITIAL_DELAY_SECONDS = 1.0
GEMINI_RETRY_MAX_DELAY_SECONDS = 8.0
GEMINI_BATCH_ROUNDS = 2
TRIAGE_DEADLINE_SECONDS = 480.0

# Time margins, named once.
LAMBDA_RESERVE_SECONDS = 30.0  # Lambda time kept for the verdict writes after the analyzer
MIN_BUDGET_SECONDS = 5.0  # the analyzer always gets at least this much
URL_TTL_MARGIN_SECONDS = 120  # presigned media outlive the analyzer deadline by this much
MIN_CALL_SECONDS = 1.0  # a model call is not started with less time than this left


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
    gemini_batch_size: int = Field(
        default=MAX_BATCH, ge=1, le=MAX_BATCH, description="Files per model call."
    )
    gemini_concurrency: int = Field(
        default=GEMINI_CONCURRENCY, ge=1, le=32, description="Calls in flight."
    )
    gemini_call_timeout_seconds: float = Field(default=GEMINI_CALL_TIMEOUT_SECONDS, gt=0, le=600)
    gemini_attempts: int = Field(
        default=GEMINI_ATTEMPTS,
        ge=1,
        le=10,
        description="SDK attempts per call (429, 5xx, timeouts).",
    )
    gemini_retry_initial_delay_seconds: float = Field(
        default=GEMINI_RETRY_INITIAL_DELAY_SECONDS, ge=0, le=30
    )
    gemini_retry_max_delay_seconds: float = Field(
        default=GEMINI_RETRY_MAX_DELAY_SECONDS, ge=0, le=60
    )
    gemini_batch_attempts: int = Field(
        default=GEMINI_BATCH_ROUNDS,
        ge=1,
        le=5,
        description="Rounds for a batch that failed after SDK retries.",
    )
    gemini_media: Literal["url", "inline"] = Field(
        default="url",
        description="Photos as presigned URLs, or inline bytes (within the request size limit). "
        "Videos always go as URLs.",
    )
    triage_deadline_seconds: float = Field(
        default=TRIAGE_DEADLINE_SECONDS,
        ge=10,
        le=900,
        description="Overall analyzer deadline (capped by Lambda).",
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
    def url_ttl_seconds(self) -> int:
        """Presigned media URLs outlive the longest analyzer run."""
        return round(self.triage_deadline_seconds) + URL_TTL_MARGIN_SECONDS

    def analyzer_budget(self, lambda_left_seconds: float) -> float:
        """The analyzer's time: the deadline, capped by what Lambda leaves minus the reserve."""
        left = lambda_left_seconds - LAMBDA_RESERVE_SECONDS
        return max(MIN_BUDGET_SECONDS, min(self.triage_deadline_seconds, left))

    @property
    def resolved_analyzer(self) -> Literal["gemini", "local"]:
        if self.analyzer is not None:
            return self.analyzer
        return "gemini" if self.has_gemini_key else "local"
