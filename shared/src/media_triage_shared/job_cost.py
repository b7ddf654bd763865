"""The Gemini tokens of a job and the job's cost as TriageRun can tell it at the end (its own
invocation, the tokens, the file rows), priced with the checked-in table (``pricing``).

``estimate`` is the figure the job's summary carries (``VerdictSummary.cost_usd``). It covers
what the rows and the triage call determine: Gemini tokens, TriageRun's invocation, the S3
requests that stored the originals (single PUTs, or multipart create + parts + complete) and
the derived copies, one GET per original for MediaProcess, and S3 storage of the originals
until the bucket's expiry. The per-file MediaProcess compute, the API's and Step Functions'
share and DynamoDB are not known to TriageRun: `make cost` measures the whole job.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from media_triage_shared.models import FileRow
from media_triage_shared.pricing import Prices

GB = 1024**3
MIB = 1024**2
HOURS_PER_MONTH = 730  # AWS's GB-month: 730 hours
DEFAULT_PART_BYTES = 16 * MIB  # init_session's preferred multipart part size


@dataclass
class TokenTally:
    """Gemini tokens of one job, summed over its calls (thread-safe: calls run in parallel).
    Thinking tokens are output tokens (Gemini bills them at the output price)."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, prompt: int | None, candidates: int | None, thoughts: int | None = None) -> None:
        with self._lock:
            self.calls += 1
            self.input_tokens += prompt or 0
            self.output_tokens += (candidates or 0) + (thoughts or 0)


@dataclass(frozen=True, slots=True)
class JobFigures:
    """What the estimate is made of (``figures_of`` builds it from the rows)."""

    originals: int
    original_bytes: int
    upload_requests: int  # PUT per file, or create + parts + complete per multipart file
    derived_objects: int
    triage_memory_mb: int
    triage_seconds: float
    input_tokens: int = 0
    output_tokens: int = 0
    model: str | None = None
    storage_hours: float = 24.0


def figures_of(
    rows: Iterable[FileRow],
    *,
    triage_memory_mb: int,
    triage_seconds: float,
    tokens: TokenTally | None = None,
    model: str | None = None,
    storage_hours: float = 24.0,
    part_bytes: int = DEFAULT_PART_BYTES,
) -> JobFigures:
    originals = size = uploads = derived = 0
    for row in rows:
        originals += 1
        size += row.size or 0
        if row.upload_id:
            uploads += 2 + max(1, math.ceil((row.size or 0) / part_bytes))
        else:
            uploads += 1
        derived += sum(1 for k in (row.thumbnail_key, row.display_key, row.proxy_key) if k)
    return JobFigures(
        originals=originals,
        original_bytes=size,
        upload_requests=uploads,
        derived_objects=derived,
        triage_memory_mb=triage_memory_mb,
        triage_seconds=triage_seconds,
        input_tokens=tokens.input_tokens if tokens else 0,
        output_tokens=tokens.output_tokens if tokens else 0,
        model=model,
        storage_hours=storage_hours,
    )


def gemini_cost(prices: Prices, model: str | None, input_tokens: int, output_tokens: int) -> float:
    if not model or not (input_tokens or output_tokens):
        return 0.0
    rate = prices.gemini_model(model)
    return input_tokens * rate.input_token + output_tokens * rate.output_token


def storage_cost(prices: Prices, size_bytes: float, hours: float) -> float:
    return size_bytes / GB * prices.s3_gb_month * hours / HOURS_PER_MONTH


def estimate(figures: JobFigures, prices: Prices) -> float:
    """The job's cost in dollars from ``figures`` (see the module docstring for what it covers)."""
    f = figures
    s3_requests = (f.upload_requests + f.derived_objects) * prices.s3_put + f.originals * (
        prices.s3_get
    )
    return (
        prices.lambda_invocation(f.triage_memory_mb, f.triage_seconds)
        + s3_requests
        + storage_cost(prices, f.original_bytes, f.storage_hours)
        + gemini_cost(prices, f.model, f.input_tokens, f.output_tokens)
    )


@dataclass(frozen=True, slots=True)
class CostBasis:
    """What the function adds to the rows: prices, its memory size, how long objects stay."""

    prices: Prices
    triage_memory_mb: int
    storage_hours: float = 24.0


def job_estimate(
    basis: CostBasis,
    rows: Iterable[FileRow],
    triage_seconds: float,
    tokens: TokenTally | None,
    model: str | None,
) -> float | None:
    """``estimate`` for a finished triage (None when its model has no price in the table)."""
    figures = figures_of(
        rows,
        triage_memory_mb=basis.triage_memory_mb,
        triage_seconds=triage_seconds,
        tokens=tokens,
        model=model,
        storage_hours=basis.storage_hours,
    )
    try:
        return round(estimate(figures, basis.prices), 9)
    except KeyError:
        return None
