"""The checked-in unit prices (``prices/<region>.toml`` beside this module), typed: one source
for the cost table (`make cost`), the memory trade in `make bench-media` and the cost-per-job
figure the functions report.

    from media_triage_shared.pricing import load_prices
    prices = load_prices()
    prices.lambda_gb_second * memory_gb * seconds
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PRICES_DIR = Path(__file__).resolve().parent / "prices"


@dataclass(frozen=True, slots=True)
class GeminiPrices:
    input_token: float
    output_token: float


@dataclass(frozen=True, slots=True)
class Prices:
    as_of: str
    region: str
    lambda_gb_second: float  # arm64
    lambda_gb_second_x86_64: float
    lambda_request: float
    lambda_ephemeral_gb_second: float
    state_transition: float
    dynamodb_wru: float
    dynamodb_rru: float
    dynamodb_gb_month: float
    s3_put: float
    s3_get: float
    s3_gb_month: float
    s3_transfer_out_gb: float
    http_api_request: float
    logs_ingested_gb: float
    custom_metric_month: float
    gemini: dict[str, GeminiPrices]
    sources: dict[str, str]

    def lambda_invocation(self, memory_mb: int, seconds: float) -> float:
        """One arm64 invocation: its request plus its GB-seconds (billed per ms)."""
        billed = max(round(seconds * 1000), 1) / 1000
        return self.lambda_request + self.lambda_gb_second * memory_mb / 1024 * billed

    def gemini_model(self, model: str) -> GeminiPrices:
        try:
            return self.gemini[model]
        except KeyError:
            known = ", ".join(sorted(self.gemini))
            raise KeyError(f"no price for Gemini model {model!r} (priced: {known})") from None


def load_prices(region: str = "us-east-1") -> Prices:
    raw = tomllib.loads((PRICES_DIR / f"{region}.toml").read_text())
    lam, s3, ddb = raw["lambda"], raw["s3"], raw["dynamodb"]
    return Prices(
        as_of=raw["as_of"],
        region=raw["region"],
        lambda_gb_second=lam["gb_second_arm64"],
        lambda_gb_second_x86_64=lam["gb_second_x86_64"],
        lambda_request=lam["request"],
        lambda_ephemeral_gb_second=lam["ephemeral_gb_second"],
        state_transition=raw["step_functions"]["state_transition"],
        dynamodb_wru=ddb["write_request_unit"],
        dynamodb_rru=ddb["read_request_unit"],
        dynamodb_gb_month=ddb["gb_month"],
        s3_put=s3["put_request"],
        s3_get=s3["get_request"],
        s3_gb_month=s3["gb_month"],
        s3_transfer_out_gb=s3["transfer_out_gb"],
        http_api_request=raw["api_gateway"]["http_request"],
        logs_ingested_gb=raw["cloudwatch"]["logs_ingested_gb"],
        custom_metric_month=raw["cloudwatch"]["custom_metric_month"],
        gemini={name: GeminiPrices(**p) for name, p in raw["gemini"].items()},
        sources=dict(raw["source"]),
    )
