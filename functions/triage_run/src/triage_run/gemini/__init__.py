"""The Gemini analyzer. Importing this package imports the google-genai SDK: only
``deps.analyzer()`` does, and only when the Gemini analyzer is chosen.

- ``prompt``: system instruction, response schema (``ModelVerdict``), request parts
- ``parse``: the answer's JSON -> verdicts, validated by ``ModelVerdict``
- ``client``: SDK client factory (retries), one call, error classification
- ``outcomes``: batches and what a call came to (no SDK)
- ``scheduling``: batches in flight, rounds, splits, deadline (no SDK)
- ``analyzer``: ``GeminiAnalyzer``, the Analyzer port
"""

from __future__ import annotations

from media_triage_shared.ports import ObjectStore
from triage_run.gemini.analyzer import GeminiAnalyzer
from triage_run.gemini.client import make_client
from triage_run.gemini.config import GeminiConfig
from triage_run.settings import MAX_BATCH, TriageSettings

__all__ = ["MAX_BATCH", "GeminiAnalyzer", "GeminiConfig", "build_analyzer", "make_client"]


def build_analyzer(s: TriageSettings, api_key: str, store: ObjectStore) -> GeminiAnalyzer:
    """The production analyzer: a retrying client and a config, both from the settings."""
    client = make_client(
        api_key,
        base_url=s.gemini_base_url,
        timeout_seconds=s.gemini_call_timeout_seconds,
        attempts=s.gemini_attempts,
        initial_delay=s.gemini_retry_initial_delay_seconds,
        max_delay=s.gemini_retry_max_delay_seconds,
    )
    return GeminiAnalyzer(client, GeminiConfig.from_settings(s), store)
