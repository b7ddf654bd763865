"""The Gemini analyzer (google-genai SDK): batches of files -> structured verdicts.

- One ``generateContent`` call per batch of at most 20 files, several batches in flight
  (a bounded thread pool); structured output with a pydantic response schema.
- Each file goes as a text part naming its ``fileId`` followed by its media part: photos as
  presigned URLs (``file_data``) or inline bytes within ``INLINE_BUDGET_BYTES`` per request
  (``GEMINI_MEDIA=inline``), videos always as presigned URLs with ``video/mp4``.
- The SDK retries 429 / 5xx / timeouts (``HttpRetryOptions``; it never retries unless they are
  set); each call has a timeout (``HttpOptions.timeout`` is in milliseconds, and a timeout
  surfaces as an httpx transport error, not ``APIError``). A batch that still fails is sent
  again (``batch_rounds``), alone: the batches that succeeded are kept.
- The answer is checked, not trusted: malformed JSON is asked again once, then its files are
  left out; ids the model invents are dropped, a repeated id counts once, omitted files are
  asked again once, then left out (the core keeps them as "not evaluated").
- Failing for good (a batch that never got through, auth/model errors, no answer at all before
  the deadline) raises ``AnalyzerUnavailable`` with the cause: the job fails, retry works.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal

from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel, ConfigDict, Field

from media_triage_shared.errors import AnalyzerUnavailable
from media_triage_shared.logging import get_logger
from media_triage_shared.models import Issue, MediaItem, Verdict, VerdictKind
from media_triage_shared.ports import ObjectStore

MAX_BATCH = 20
INLINE_BUDGET_BYTES = 18 * 1024 * 1024  # the documented request limit is 20 MB, prompt incl.
INLINE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic"})
RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]
MIN_CALL_SECONDS = 1.0
MAX_REASON = 300

SYSTEM_INSTRUCTION = """\
You help a person triage the photos and videos they just took: which are worth keeping.
Each file is introduced by a line "fileId: <id>" followed by the photo or video itself.
Return exactly one verdict per fileId, using the fileId verbatim:
- verdict: "discard" for technically failed or pointless shots (too dark, blown out, out of
  focus, motion blur, accidental shots of the ground or a pocket, nothing recognisable,
  corrupted images, closed eyes on the main subject, badly cut subject); otherwise "keep".
- reason: one short sentence the person will read, naming what is good or wrong.
- score: 0-100, how worth keeping the file is (discards below 50, keeps 50 and above).
- issues: the problems you see, from the allowed values only; empty when there are none.
Judge each file on its own content. Do not add fileIds that were not given."""

log = get_logger()
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


class ModelVerdict(BaseModel):
    """One element of the response schema the model must follow."""

    model_config = ConfigDict(populate_by_name=True)

    file_id: str = Field(alias="fileId", description="The fileId given with the file, verbatim.")
    verdict: Literal["keep", "discard"]
    reason: str = Field(description="One short sentence for the person.")
    score: int = Field(ge=0, le=100, description="0-100: how worth keeping the file is.")
    issues: list[Issue] = Field(description="Problems seen; empty when none.")


class ModelAnswer(BaseModel):
    """The response schema: ``{"verdicts": [ModelVerdict, ...]}``."""

    verdicts: list[ModelVerdict]


@dataclass(frozen=True, slots=True)
class GeminiConfig:
    model: str
    batch_size: int = MAX_BATCH
    concurrency: int = 8
    call_timeout_seconds: float = 90.0
    batch_rounds: int = 2
    media: Literal["url", "inline"] = "url"
    url_ttl_seconds: int = 900
    retry_delay_seconds: float = 1.0


def make_client(
    api_key: str,
    *,
    base_url: str | None = None,
    timeout_seconds: float = 90.0,
    attempts: int = 3,
    initial_delay: float = 1.0,
    max_delay: float = 8.0,
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


# ---------------------------------------------------------------------------- batches


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    items: tuple[MediaItem, ...]
    round: int = 1


@dataclass(frozen=True, slots=True)
class Answered:
    verdicts: dict[str, Verdict]
    missing: tuple[MediaItem, ...]
    unknown_ids: int
    repeated_ids: int


@dataclass(frozen=True, slots=True)
class Malformed:
    detail: str


@dataclass(frozen=True, slots=True)
class Failed:
    detail: str
    kind: Literal["retryable", "rejected", "fatal", "deadline"]


Outcome = Answered | Malformed | Failed


def split_batches(items: Sequence[MediaItem], size: int) -> list[Batch]:
    """As few batches as ``size`` allows, as even as possible (36 -> 18 + 18, not 20 + 16)."""
    if not items:
        return []
    count = -(-len(items) // size)
    base, extra = divmod(len(items), count)
    batches, start = [], 0
    for number in range(count):
        end = start + base + (1 if number < extra else 0)
        batches.append(Batch(number, tuple(items[start:end])))
        start = end
    return batches


def _clamp_score(value: Any, fallback: int) -> int:
    try:
        return max(0, min(100, round(float(value))))
    except (TypeError, ValueError, OverflowError):
        return fallback


def parse_answer(text: str | None, items: Sequence[MediaItem]) -> Answered | Malformed:
    """The model's JSON -> verdicts for the batch's own files only (tolerant per entry)."""
    if not text:
        return Malformed("empty answer")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Malformed(f"invalid JSON: {exc.msg} at {exc.pos}")
    entries = data.get("verdicts") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        return Malformed("no verdicts list in the answer")
    by_id = {item.file_id: item for item in items}
    allowed = {i.value for i in Issue}
    got: dict[str, Verdict] = {}
    unknown = repeated = 0
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        file_id = entry.get("fileId", entry.get("file_id"))
        if file_id not in by_id:
            unknown += 1
            continue
        if file_id in got:
            repeated += 1
            continue
        kind = str(entry.get("verdict", "")).strip().lower()
        if kind not in {"keep", "discard"}:
            continue  # unusable entry: the file counts as omitted
        verdict = VerdictKind(kind)
        raw_issues = entry.get("issues")
        issues = (
            list(dict.fromkeys(str(i) for i in raw_issues if str(i) in allowed))
            if isinstance(raw_issues, list)
            else []
        )
        reason = " ".join(str(entry.get("reason") or "").split())[:MAX_REASON]
        got[file_id] = Verdict(
            file_id=file_id,
            filename=by_id[file_id].filename,
            verdict=verdict,
            reason=reason or f"{verdict.value} (the model gave no reason)",
            score=_clamp_score(entry.get("score"), 70 if verdict is VerdictKind.KEEP else 20),
            issues=issues,
        )
    missing = tuple(item for item in items if item.file_id not in got)
    return Answered(got, missing, unknown, repeated)


def _classify(exc: genai_errors.APIError) -> Literal["retryable", "rejected", "fatal"]:
    code = exc.code or 0
    message = (exc.message or "").lower()
    if code in RETRY_STATUS_CODES:
        return "retryable"
    if code in {401, 403, 404} or (code == 400 and "api key" in message):
        return "fatal"  # credentials, permissions, unknown model: no retry will help
    return "rejected"  # e.g. 400 for one unreadable file: isolate it


# ---------------------------------------------------------------------------- adapter


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
    def model(self) -> str:
        return self._cfg.model

    @property
    def url_ttl_seconds(self) -> int:
        return self._cfg.url_ttl_seconds

    # ------------------------------------------------------------------ one call

    def _parts(self, items: Sequence[MediaItem]) -> list[types.Part]:
        parts = [types.Part.from_text(text=f"{len(items)} files follow.")]
        inline_left = INLINE_BUDGET_BYTES
        for item in items:
            ref = item.media
            name = " ".join(item.filename.split())[:200]  # one line: no forged "fileId:" lines
            line = f"fileId: {item.file_id}\nfilename: {name}\ntype: {item.media_type}"
            if item.duration_seconds:
                line += f" ({item.duration_seconds:.0f} s)"
            parts.append(types.Part.from_text(text=line))
            data = self._inline_bytes(item) if inline_left > 0 else None
            if data is not None and len(data) <= inline_left:
                inline_left -= len(data)
                parts.append(types.Part.from_bytes(data=data, mime_type=ref.mime_type))
            elif ref.url is not None:
                parts.append(types.Part.from_uri(file_uri=ref.url, mime_type=ref.mime_type))
            else:  # filtered out by analyze(); never send a fileId without its media
                raise ValueError(f"file {item.file_id} has neither bytes nor a URL")
        return parts

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

    def _call(self, batch: Batch, deadline: float) -> Outcome:
        if batch.round > 1:  # a second round: let a throttled or failing backend breathe
            time.sleep(
                min(self._cfg.retry_delay_seconds, max(0.0, deadline - time.monotonic()) / 4)
            )
        remaining = deadline - time.monotonic()
        if remaining < MIN_CALL_SECONDS:
            return Failed("overall deadline reached", "deadline")
        timeout_ms = round(min(self._cfg.call_timeout_seconds, remaining) * 1000)
        config = types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=ModelAnswer,
            temperature=0.2,
            http_options=types.HttpOptions(timeout=timeout_ms),
        )
        started = time.monotonic()
        try:
            contents = [types.Content(role="user", parts=self._parts(batch.items))]
            response = self._client.models.generate_content(
                model=self._cfg.model, contents=contents, config=config
            )
        except genai_errors.APIError as exc:
            outcome: Outcome = Failed(
                f"{exc.code} {exc.status}: {redact(exc.message or '')}", _classify(exc)
            )
        except (genai_errors.UnknownApiResponseError, json.JSONDecodeError) as exc:
            outcome = Malformed(f"unreadable response: {redact(str(exc))[:200]}")
        except TRANSPORT_ERRORS as exc:
            outcome = Failed(
                f"{type(exc).__name__}: {redact(str(exc)) or 'transport error'}", "retryable"
            )
        else:
            outcome = parse_answer(response.text, batch.items)
            usage = response.usage_metadata
            log.info(
                "triage.gemini_call",
                batch=batch.number,
                round=batch.round,
                files=len(batch.items),
                answered=len(outcome.verdicts) if isinstance(outcome, Answered) else 0,
                malformed=isinstance(outcome, Malformed),
                prompt_tokens=usage.prompt_token_count if usage else None,
                output_tokens=usage.candidates_token_count if usage else None,
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

    def analyze(self, items: Sequence[MediaItem], *, deadline: float) -> list[Verdict]:
        sendable = [i for i in items if i.media.url is not None or self._inlinable(i)]
        batches = split_batches(sendable, min(self._cfg.batch_size, MAX_BATCH))
        if not batches:
            return []
        run = _Run(self, deadline, len(batches))
        run.execute(batches)
        return [run.results[item.file_id] for item in items if item.file_id in run.results]


class _Run:
    """One ``analyze`` call: the batches in flight, what came back, what failed."""

    def __init__(self, analyzer: GeminiAnalyzer, deadline: float, batch_count: int) -> None:
        self.analyzer = analyzer
        self.rounds = analyzer._cfg.batch_rounds
        self.deadline = deadline
        self.batch_count = batch_count
        self.next_number = batch_count
        self.results: dict[str, Verdict] = {}
        self.given_up: list[Batch] = []
        self.parked: list[Batch] = []  # rejected batches waiting for evidence the API works
        self.answered_calls = 0
        self.last_error = ""
        self.pending: dict[Future[Outcome], Batch] = {}
        self.pool = ThreadPoolExecutor(
            max_workers=min(analyzer._cfg.concurrency, batch_count), thread_name_prefix="gemini"
        )

    def submit(self, items: tuple[MediaItem, ...], round_: int, number: int | None = None) -> None:
        if number is None:
            number, self.next_number = self.next_number, self.next_number + 1
        batch = Batch(number, items, round_)
        self.pending[self.pool.submit(self.analyzer._call, batch, self.deadline)] = batch

    def execute(self, batches: list[Batch]) -> None:
        try:
            for batch in batches:
                self.submit(batch.items, 1, batch.number)
            while self.pending:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    break
                done, _ = wait(self.pending, timeout=remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    batch = self.pending.pop(fut)
                    self.handle(batch, fut.result())
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.conclude()

    def handle(self, batch: Batch, outcome: Outcome) -> None:
        again = batch.round < self.rounds
        if isinstance(outcome, Answered | Malformed):
            self.answered_calls += 1
            while self.parked:
                self.split(self.parked.pop())
        if isinstance(outcome, Answered):
            self.results.update(outcome.verdicts)
            if outcome.unknown_ids or outcome.repeated_ids:
                log.warning(
                    "triage.gemini_answer_ids",
                    batch=batch.number,
                    unknown=outcome.unknown_ids,
                    repeated=outcome.repeated_ids,
                )
            if outcome.missing:
                log.warning(
                    "triage.gemini_omitted",
                    batch=batch.number,
                    omitted=len(outcome.missing),
                    asking_again=again,
                )
                if again:
                    self.submit(outcome.missing, batch.round + 1)
        elif isinstance(outcome, Malformed):
            log.warning("triage.gemini_malformed", batch=batch.number, detail=outcome.detail)
            if again:
                self.submit(batch.items, batch.round + 1, batch.number)
        else:
            self.failed(batch, outcome, again)

    def failed(self, batch: Batch, outcome: Failed, again: bool) -> None:
        self.last_error = outcome.detail
        log.warning(
            "triage.gemini_batch_failed",
            batch=batch.number,
            round=batch.round,
            files=len(batch.items),
            kind=outcome.kind,
            error=outcome.detail,
        )
        if outcome.kind == "fatal":
            raise AnalyzerUnavailable(f"gemini refused the request: {outcome.detail}")
        # A rejected batch is split to isolate the file the API cannot read: freely once other
        # calls got answers (one bad file), within the rounds otherwise, so that a refusal of
        # everything (e.g. URLs Gemini cannot reach) does not multiply the calls.
        if outcome.kind == "rejected" and len(batch.items) > 1:
            if again or self.answered_calls:
                self.split(batch)
            else:
                self.parked.append(batch)
        elif outcome.kind == "retryable" and again:
            self.submit(batch.items, batch.round + 1, batch.number)  # only this batch
        elif outcome.kind == "retryable":
            self.given_up.append(batch)
        # "rejected" single files and "deadline" ones stay unanswered: "not evaluated"

    def split(self, batch: Batch) -> None:
        half = len(batch.items) // 2
        self.submit(batch.items[:half], batch.round + 1)
        self.submit(batch.items[half:], batch.round + 1)

    def conclude(self) -> None:
        if self.given_up:
            files = sum(len(b.items) for b in self.given_up)
            raise AnalyzerUnavailable(
                f"gemini failed for {len(self.given_up)} of {self.batch_count} batches "
                f"({files} files) after {self.rounds} rounds of SDK retries: {self.last_error}"
            )
        if self.answered_calls == 0:
            cause = self.last_error or "no answer before the overall deadline"
            raise AnalyzerUnavailable(f"gemini gave no usable answer: {cause}")
        if self.pending:
            log.warning(
                "triage.gemini_deadline",
                unanswered=sum(len(b.items) for b in self.pending.values()),
            )
