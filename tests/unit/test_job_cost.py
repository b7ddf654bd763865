"""The job's cost estimate (VerdictSummary.cost_usd): figures from the rows, priced by hand."""

from __future__ import annotations

import threading

import pytest

from media_triage_shared import job_cost
from media_triage_shared.job_cost import JobFigures, TokenTally
from media_triage_shared.models import FileRow, FileStatus
from media_triage_shared.pricing import load_prices

MIB = 1024 * 1024


def file_row(file_id: str, size: int, **kw: object) -> FileRow:
    return FileRow.model_validate(
        {
            "job_id": "j",
            "file_id": file_id,
            "session_id": "s",
            "filename": f"{file_id}.jpg",
            "original_key": f"uploads/s/j/{file_id}.jpg",
            "status": FileStatus.VALID,
            "size": size,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "expires_at": 2_000_000_000,
            **kw,
        }
    )


def test_figures_count_uploads_parts_and_derived_objects() -> None:
    rows = [
        file_row("a", 4 * MIB, thumbnail_key="t/a", display_key="d/a"),
        file_row("b", 200 * MIB, upload_id="u-1", thumbnail_key="t/b", proxy_key="p/b"),
    ]
    figures = job_cost.figures_of(rows, triage_memory_mb=1024, triage_seconds=2.0)
    assert figures.originals == 2
    assert figures.original_bytes == 204 * MIB
    assert figures.upload_requests == 1 + (2 + 13)  # a PUT; create + 13 parts of 16 MiB + complete
    assert figures.derived_objects == 4


def test_estimate_is_the_sum_of_its_priced_parts() -> None:
    prices = load_prices()
    figures = JobFigures(
        originals=36,
        original_bytes=150 * 10**6,
        upload_requests=36,
        derived_objects=72,
        triage_memory_mb=1024,
        triage_seconds=3.0,
        input_tokens=20_000,
        output_tokens=2_000,
        model="gemini-2.5-flash",
        storage_hours=24,
    )
    flash = prices.gemini["gemini-2.5-flash"]
    by_hand = (
        prices.lambda_request
        + prices.lambda_gb_second * 1.0 * 3.0  # 1 GB for 3 s
        + (36 + 72) * prices.s3_put
        + 36 * prices.s3_get
        + 150 * 10**6 / 1024**3 * prices.s3_gb_month * 24 / 730
        + 20_000 * flash.input_token
        + 2_000 * flash.output_token
    )
    assert job_cost.estimate(figures, prices) == pytest.approx(by_hand)
    # the figures of the design: 108 PUTs are 0.054 cents, the tokens ~1.1 cents
    assert (36 + 72) * prices.s3_put == pytest.approx(0.00054)


def test_no_tokens_no_gemini_cost_and_no_price_lookup() -> None:
    prices = load_prices()
    assert job_cost.gemini_cost(prices, "unpriced-model", 0, 0) == 0.0
    with pytest.raises(KeyError):
        job_cost.gemini_cost(prices, "unpriced-model", 10, 1)


def test_storage_is_prorated_per_hour_of_a_730_hour_month() -> None:
    prices = load_prices()
    one_gb_month = job_cost.storage_cost(prices, 1024**3, 730)
    assert one_gb_month == pytest.approx(prices.s3_gb_month)
    assert job_cost.storage_cost(prices, 1024**3, 24) == pytest.approx(
        prices.s3_gb_month * 24 / 730
    )


def test_token_tally_sums_calls_from_many_threads_thinking_as_output() -> None:
    tally = TokenTally()
    threads = [threading.Thread(target=lambda: tally.add(100, 10, 5)) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (50, 5000, 750)
    tally.add(None, None)  # a call without usage metadata counts, adds nothing
    assert (tally.calls, tally.input_tokens) == (51, 5000)
