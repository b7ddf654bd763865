"""The checked-in price table loads, is dated, and prices an invocation the way Lambda bills."""

from __future__ import annotations

import re

import pytest

from media_triage_shared.pricing import load_prices


def test_price_table_is_dated_and_complete() -> None:
    prices = load_prices()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.as_of)
    assert prices.region == "us-east-1"
    assert prices.lambda_gb_second < prices.lambda_gb_second_x86_64  # arm64 is the cheaper one
    assert "gemini-2.5-flash" in prices.gemini
    assert all(url.startswith("https://") for url in prices.sources.values())


def test_lambda_invocation_is_request_plus_gb_seconds_billed_per_ms() -> None:
    prices = load_prices()
    one_gb_second = prices.lambda_invocation(1024, 1.0)
    assert one_gb_second == pytest.approx(prices.lambda_request + prices.lambda_gb_second)
    assert prices.lambda_invocation(2048, 0.0001) == pytest.approx(
        prices.lambda_request + prices.lambda_gb_second * 2 * 0.001
    )


def test_unknown_model_names_the_priced_ones() -> None:
    with pytest.raises(KeyError, match=r"gemini-2\.5-flash"):
        load_prices().gemini_model("gemini-0-unknown")
