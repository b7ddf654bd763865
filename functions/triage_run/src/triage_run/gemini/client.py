"""The google-genai client: its factory (SDK retries), one call, and what its errors mean.

The SDK retries 429 / 5xx / timeouts (``HttpRetryOptions``; it never retries unless they are
set); each call has a timeout (``HttpOptions.timeout`` is in milliseconds, and a timeout
surfaces as an httpx transport error, not ``APIError``). What still fails comes back as a
``Failed`` outcome of a kind the scheduler acts on; an unreadable response as ``Malformed``.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Sequence

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from triage_run.gemini.outcomes import Failed, FailureKind, Malformed
from triage_run.gemini.prompt import generation_config
from triage_run.settings import (
    GEMINI_ATTEMPTS,
    GEMINI_CALL_TIMEOUT_SECONDS,
    GEMINI_RETRY_INITIAL_DELAY_SECONDS,
    GEMINI_RETRY_MAX_DELAY_SECONDS,
)

RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]
_URL = re.compile(r"https?://\S+")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """httpx-family request errors (timeouts, connection failures, broken responses): the SDK
    uses httpx2 (or httpx when installed) and wraps none of them in APIError."""
    found: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).RequestError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()


def redact(text: str) -> str:
    """Error text without URLs (presigned URLs are credentials)."""
    return _URL.sub("<url>", text)[:500]


def make_client(
    api_key: str,
    *,
    base_url: str | None = None,
    timeout_seconds: float = GEMINI_CALL_TIMEOUT_SECONDS,
    attempts: int = GEMINI_ATTEMPTS,
    initial_delay: float = GEMINI_RETRY_INITIAL_DELAY_SECONDS,
    max_delay: float = GEMINI_RETRY_MAX_DELAY_SECONDS,
) -> genai.Client:
    """A client whose every call retries 429 / 5xx / timeouts with exponential backoff."""
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=base_url,
            timeout=round(timeout_seconds * 1000),
            retry_options=types.HttpRetryOptions(
                attempts=attempts,
                initial_delay=initial_delay,
                max_delay=max_delay,
                exp_base=2,
                jitter=min(1.0, initial_delay),
                http_status_codes=RETRY_STATUS_CODES,
            ),
        ),
    )


def classify(exc: genai_errors.APIError) -> FailureKind:
    code = exc.code or 0
    message = (exc.message or "").lower()
    if code in RETRY_STATUS_CODES:
        return "retryable"
    if code in {401, 403, 404} or (code == 400 and "api key" in message):
        return "fatal"  # credentials, permissions, unknown model: no retry will help
    return "rejected"  # e.g. 400 for one unreadable file: isolate it


def generate(
    client: genai.Client, model: str, parts: Sequence[types.Part], timeout_seconds: float
) -> types.GenerateContentResponse | Failed | Malformed:
    """One ``generateContent`` call (SDK retries included): the response, or what went wrong."""
    try:
        return client.models.generate_content(
            model=model,
            contents=[types.Content(role="user", parts=list(parts))],
            config=generation_config(timeout_seconds),
        )
    except genai_errors.APIError as exc:
        return Failed(f"{exc.code} {exc.status}: {redact(exc.message or '')}", classify(exc))
    except (genai_errors.UnknownApiResponseError, json.JSONDecodeError) as exc:
        return Malformed(f"unreadable response: {redact(str(exc))[:200]}")
    except TRANSPORT_ERRORS as exc:
        return Failed(f"{type(exc).__name__}: {redact(str(exc)) or 'transport error'}", "retryable")
