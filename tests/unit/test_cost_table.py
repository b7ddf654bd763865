"""`make cost`'s table: measured usage priced with the checked-in table, item by item (the
arithmetic only; the figures themselves are measured by devtools/cost.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devtools"))

from cost_table import (  # noqa: E402 - devtools/ is not a package
    TARGET_AWS_36,
    JobUsage,
    LambdaUse,
    Line,
    markdown,
    price,
    totals,
)

from media_triage_shared.pricing import load_prices  # noqa: E402


def usage(**kw: object) -> JobUsage:
    base = JobUsage(
        label="36 files",
        files=36,
        lambdas=[
            LambdaUse("media_process", 36, 2048, 36 * 500.0, log_bytes=100_000),
            LambdaUse("triage_run", 1, 1024, 2000.0),
            LambdaUse("init_session", 40, 512, 40 * 50.0),
        ],
        transitions=20,
        executions=1,
        rru=100.0,
        wru=300.0,
        polls=30,
        rru_per_poll=2.5,
        s3_tier1=108,
        s3_tier2=80,
        bytes_out=10**6,
        stored_bytes=150 * 10**6,
        storage_hours=24,
        http_requests=70,
        input_tokens=20_000,
        output_tokens=2_000,
        model="gemini-2.5-flash",
    )
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def by_item(lines: list[Line]) -> dict[str, float]:
    return {f"{line.service}/{line.item}": line.usd for line in lines}


def test_every_item_is_its_quantity_times_its_unit_price() -> None:
    p = load_prices()
    items = by_item(price(usage(), p))
    gb_s = 2.0 * 18.0  # 2 GB for 36 x 0.5 s
    assert items["Lambda/media_process (2048 MB)"] == pytest.approx(
        36 * p.lambda_request + gb_s * p.lambda_gb_second
    )
    assert items["Lambda/triage_run (1024 MB)"] == pytest.approx(
        p.lambda_request + 2.0 * p.lambda_gb_second
    )
    assert items["Step Functions/state transitions"] == pytest.approx(20 * p.state_transition)
    assert items["DynamoDB/writes"] == pytest.approx(300 * p.dynamodb_wru)
    assert items["DynamoDB/reads by the results polls"] == pytest.approx(75 * p.dynamodb_rru)
    assert items["DynamoDB/reads by the functions"] == pytest.approx(25 * p.dynamodb_rru)
    assert items["S3/PUT/POST/COPY/LIST (multipart parts incl.)"] == pytest.approx(108 * p.s3_put)
    assert items["S3/GET/HEAD"] == pytest.approx(80 * p.s3_get)
    assert items["S3/storage until expiry"] == pytest.approx(
        150 * 10**6 / 1024**3 * p.s3_gb_month * 24 / 730
    )
    assert items["S3/transfer out (page thumbnails, Gemini's URL fetches)"] == pytest.approx(
        10**6 / 1024**3 * p.s3_transfer_out_gb
    )
    assert items["API Gateway/HTTP API requests"] == pytest.approx(70 * p.http_api_request)
    assert items["CloudWatch/log ingestion"] == pytest.approx(100_000 / 1024**3 * 0.5)
    flash = p.gemini["gemini-2.5-flash"]
    assert items["Gemini/tokens (gemini-2.5-flash)"] == pytest.approx(
        20_000 * flash.input_token + 2_000 * flash.output_token
    )


def test_totals_keep_gemini_out_of_the_aws_figure() -> None:
    lines = price(usage(), load_prices())
    aws, everything = totals(lines)
    assert aws == pytest.approx(sum(line.usd for line in lines if line.service != "Gemini"))
    assert everything - aws == pytest.approx(by_item(lines)["Gemini/tokens (gemini-2.5-flash)"])


def test_polls_never_take_more_reads_than_were_counted() -> None:
    items = by_item(price(usage(rru=10.0, polls=30, rru_per_poll=2.5), load_prices()))
    assert items["DynamoDB/reads by the functions"] == 0
    assert items["DynamoDB/reads by the results polls"] == pytest.approx(10 * 0.000000125)


def test_without_a_model_gemini_costs_nothing() -> None:
    items = by_item(price(usage(model=None), load_prices()))
    assert items["Gemini/tokens (no model)"] == 0


def test_the_36_file_table_says_whether_the_target_is_met() -> None:
    cheap = usage(lambdas=[], transitions=0, rru=0.0, wru=0.0, s3_tier1=0, s3_tier2=0)
    cheap.stored_bytes, cheap.bytes_out, cheap.http_requests = 0, 0, 0
    text = markdown(cheap, price(cheap, load_prices()))
    assert f"<= ${TARGET_AWS_36}: OK" in text
    dear = usage(transitions=1000)  # 1000 x $0.000025 = $0.025
    assert f"<= ${TARGET_AWS_36}: OVER" in markdown(dear, price(dear, load_prices()))
    big = usage(files=500)
    assert "Target" not in markdown(big, price(big, load_prices()))


def test_the_memory_trade_rows_price_each_kind_at_the_set_size_and_two_others() -> None:
    import cost  # devtools/cost.py (on the path above); imported here: it pulls the CLI in

    kinds = [
        {"kind": "photo", "peak_rss_mib": 200, "wall_s": 0.5, "cpu_s": 0.4, "load_factor": 1.0},
        {"kind": "huge", "peak_rss_mib": 900, "wall_s": 4.0, "cpu_s": 8.0, "load_factor": 1.0},
    ]
    rows = cost.trade_rows(kinds, 2048)
    assert rows[2] == "| kind | 1024 MB | 2048 MB (set) | 3008 MB |"
    prices = load_prices()
    photo = rows[4].split(" | ")
    # one thread: 1024 MB has 0.58 vCPU, so the 0.4 s of CPU take 0.4 / (1024 / 1769) s
    slow = 0.4 / (1024 / 1769)
    assert photo[1] == f"{slow:.2f} s, ${prices.lambda_invocation(1024, slow):.6f}"
    assert photo[2].startswith("0.40 s")  # a whole vCPU and more: the CPU time itself
    huge = rows[5]
    assert huge.split(" | ")[1].endswith("!")  # 900 MiB > 2/3 of 1024 MB
    assert not huge.split(" | ")[2].endswith("!")
    assert cost.trade_rows(kinds, 0) == []  # no configured size known: no trade
