"""What the Gemini analyzer is tuned by: defaults from ``triage_run.settings``, one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from triage_run.settings import (
    GEMINI_BATCH_ROUNDS,
    GEMINI_CALL_TIMEOUT_SECONDS,
    GEMINI_CONCURRENCY,
    GEMINI_RETRY_INITIAL_DELAY_SECONDS,
    MAX_BATCH,
    TRIAGE_DEADLINE_SECONDS,
    URL_TTL_MARGIN_SECONDS,
    TriageSettings,
)


@dataclass(frozen=True, slots=True)
class GeminiConfig:
    model: str
    batch_size: int = MAX_BATCH
    concurrency: int = GEMINI_CONCURRENCY
    call_timeout_seconds: float = GEMINI_CALL_TIMEOUT_SECONDS
    batch_rounds: int = GEMINI_BATCH_ROUNDS
    media: Literal["url", "inline"] = "url"
    url_ttl_seconds: int = round(TRIAGE_DEADLINE_SECONDS) + URL_TTL_MARGIN_SECONDS
    retry_delay_seconds: float = GEMINI_RETRY_INITIAL_DELAY_SECONDS

    @classmethod
    def from_settings(cls, s: TriageSettings) -> GeminiConfig:
        return cls(
            model=s.gemini_model,
            batch_size=s.gemini_batch_size,
            concurrency=s.gemini_concurrency,
            call_timeout_seconds=s.gemini_call_timeout_seconds,
            batch_rounds=s.gemini_batch_attempts,
            media=s.gemini_media,
            url_ttl_seconds=s.url_ttl_seconds,
            retry_delay_seconds=s.gemini_retry_initial_delay_seconds,
        )
