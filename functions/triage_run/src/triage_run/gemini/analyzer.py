"""The Gemini analyzer (google-genai SDK): batches of files -> structured verdicts.

One ``generateContent`` call per batch of at most ``MAX_BATCH`` files (``prompt`` builds it,
``client`` sends it, ``parse`` reads the answer); ``scheduling`` keeps several batches in
flight through ``GeminiAnalyzer.call_batch``. Photos go inline (``GEMINI_MEDIA=inline``) when
the ObjectStore can read them, else as presigned URLs.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence

from google import genai

from media_triage_shared.job_cost import TokenTally
from media_triage_shared.logging import get_logger
from media_triage_shared.models import MediaItem, Verdict
from media_triage_shared.ports import ObjectStore
from triage_run.gemini.client import generate
from triage_run.gemini.config import GeminiConfig
from triage_run.gemini.outcomes import Answered, Batch, Failed, Malformed, Outcome, split_batches
from triage_run.gemini.parse import parse_answer
from triage_run.gemini.prompt import INLINE_MIME_TYPES, request_parts
from triage_run.gemini.scheduling import run_batches
from triage_run.settings import MAX_BATCH, MIN_CALL_SECONDS

log = get_logger()


class GeminiAnalyzer:
    """Analyzer port on the Gemini API."""

    name = "gemini"

    def __init__(
        self, client: genai.Client, cfg: GeminiConfig, store: ObjectStore | None = None
    ) -> None:
        if cfg.media == "inline" and store is None:
            raise ValueError("inline media needs an ObjectStore")
        self._client = client
        self._cfg = cfg
        self._store = store

    @property
    def config(self) -> GeminiConfig:
        return self._cfg

    @property
    def model(self) -> str:
        return self._cfg.model

    @property
    def url_ttl_seconds(self) -> int:
        return self._cfg.url_ttl_seconds

    # ------------------------------------------------------------------ media

    def _inlinable(self, item: MediaItem) -> bool:
        return (
            self._cfg.media == "inline"
            and self._store is not None
            and item.media.mime_type in INLINE_MIME_TYPES
        )

    def _inline_bytes(self, item: MediaItem) -> bytes | None:
        if not self._inlinable(item) or self._store is None:
            return None
        try:
            return self._store.get_bytes(item.media.key)
        except Exception as exc:  # S3 hiccup: the presigned URL is the fallback
            log.warning("triage.inline_read_failed", file_id=item.file_id, error=type(exc).__name__)
            return None

    # ------------------------------------------------------------------ one call

    def call_batch(
        self, batch: Batch, deadline: float, tokens: TokenTally | None = None
    ) -> Outcome:
        """One model call for ``batch`` within ``deadline`` (``time.monotonic()``); its usage
        metadata is added to ``tokens``."""
        if batch.round > 1:  # a second round: let a throttled or failing backend breathe
            time.sleep(
                min(self._cfg.retry_delay_seconds, max(0.0, deadline - time.monotonic()) / 4)
            )
        remaining = deadline - time.monotonic()
        if remaining < MIN_CALL_SECONDS:
            return Failed("overall deadline reached", "deadline")
        started = time.monotonic()
        parts = request_parts(batch.items, self._inline_bytes)
        timeout = min(self._cfg.call_timeout_seconds, remaining)
        response = generate(self._client, self._cfg.model, parts, timeout)
        if isinstance(response, Failed | Malformed):
            return response
        outcome = parse_answer(response.text, batch.items)
        usage = response.usage_metadata
        if tokens is not None and usage is not None:
            tokens.add(
                usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count
            )
        log.info(
            "triage.gemini_call",
            batch=batch.number,
            round=batch.round,
            files=len(batch.items),
            answered=len(outcome.verdicts) if isinstance(outcome, Answered) else 0,
            malformed=isinstance(outcome, Malformed),
            prompt_tokens=usage.prompt_token_count if usage else None,
            output_tokens=usage.candidates_token_count if usage else None,
            thoughts_tokens=usage.thoughts_token_count if usage else None,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return outcome

    # ------------------------------------------------------------------ the port

    def with_model(self, model: str) -> GeminiAnalyzer:
        if model == self._cfg.model:
            return self
        return GeminiAnalyzer(
            self._client, dataclasses.replace(self._cfg, model=model), self._store
        )

    def analyze(
        self, items: Sequence[MediaItem], *, deadline: float, tokens: TokenTally | None = None
    ) -> list[Verdict]:
        sendable = [i for i in items if i.media.url is not None or self._inlinable(i)]
        results = run_batches(
            functools.partial(self.call_batch, tokens=tokens),
            split_batches(sendable, min(self._cfg.batch_size, MAX_BATCH)),
            deadline=deadline,
            rounds=self._cfg.batch_rounds,
            concurrency=self._cfg.concurrency,
        )
        return [results[item.file_id] for item in items if item.file_id in results]
