"""media_triage_shared.metrics: what a job's line holds when Gemini reported its tokens and the
job's cost was computed, that a broken emission never fails the work, that Powertools stays out
of the handlers' import (cold start), and that the EMF checker used by the handler tests
(tests/support/emf.py) rejects what CloudWatch would not extract."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from support.emf import EmfError, metrics_in, validate

from media_process.finalize import LATE
from media_triage_shared import metrics
from media_triage_shared.media import MediaErrorCode
from media_triage_shared.models import VerdictSummary

ROOT = Path(__file__).resolve().parents[2]


def summary(**kw: Any) -> VerdictSummary:
    values: dict[str, Any] = {
        "keep": 30,
        "discard": 6,
        "analyzer": "gemini",
        "model": "gemini-2.5-flash",
        "duration_ms": 4200,
        **kw,
    }
    return VerdictSummary(**values)


def test_a_gemini_job_reports_its_tokens_and_cost(capsys: pytest.CaptureFixture[str]) -> None:
    s = summary(input_tokens=51_234, output_tokens=3_456, cost_usd=0.0123, partial=True)
    metrics.job_completed("prod", s, tail_ms=2500.0, job_ms=61_000.0, metadata={"job_id": "j-1"})
    found = {m.name: m for m in metrics_in(capsys.readouterr().out)}
    assert found["GeminiInputTokens"].value == 51_234
    assert found["GeminiOutputTokens"].value == 3_456
    assert (found["JobCostUSD"].value, found["JobCostUSD"].unit) == (0.0123, "None")
    assert (found["Tail"].value, found["Tail"].unit) == (2500.0, "Milliseconds")
    assert found["PartialJobs"].value == 1
    assert found["TriageTime"].value == 4200
    assert found["JobsCompleted"].root["model"] == "gemini-2.5-flash"
    assert {m.dimensions["Environment"] for m in found.values()} == {"prod"}


def test_a_job_without_a_tail_or_tokens_leaves_them_out(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.job_completed("dev", summary(), tail_ms=None, job_ms=None, metadata={})
    names = {m.name for m in metrics_in(capsys.readouterr().out)}
    assert names == {"JobsCompleted", "PartialJobs", "TriageTime"}


def test_a_broken_emission_is_logged_and_never_raised(capsys: pytest.CaptureFixture[str]) -> None:
    mixed = {metrics.FILES_FINALIZED: 1, metrics.JOBS_COMPLETED: 1}  # two shapes, one line
    with structlog.testing.capture_logs() as logged:
        metrics.emit("dev", mixed, dimension="valid")
        metrics.emit("dev", {metrics.INVALID_FILES: 1})  # its ErrorCode is missing
    assert metrics_in(capsys.readouterr().out) == []
    failed = [e for e in logged if e["event"] == "metrics.emit_failed"]
    assert [(f["log_level"], f["error_type"]) for f in failed] == [("warning", "ValueError")] * 2


def test_the_catalogue_keeps_cardinality_low() -> None:
    names = [m.name for m in metrics.ALL]
    assert len(names) == len(set(names))
    for m in metrics.ALL:
        assert m.dimensions[:2] == ("Environment", "Function")
        assert len(m.dimensions) <= 3
        assert m.dimension in {None, "Status", "ErrorCode", "MediaKind"}
        assert m.function in {"media_process", "triage_run"}
    assert set(metrics.catalogue()["metrics"]) == set(names)


def test_the_dashboards_copy_of_the_catalogue_is_current() -> None:
    """terraform/modules/operations/metrics.json is what the dashboard and the alarm read."""
    written = (ROOT / "terraform" / "modules" / "operations" / "metrics.json").read_text()
    printed = subprocess.run(
        [sys.executable, "-m", "media_triage_shared.metrics"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == metrics.catalogue_json()
    assert written == printed, (
        "regenerate: python -m media_triage_shared.metrics > "
        "terraform/modules/operations/metrics.json"
    )


def test_every_error_code_a_file_can_get_is_a_listed_dimension_value() -> None:
    codes = set(metrics.DIMENSION_VALUES["ErrorCode"])
    assert {c.value for c in MediaErrorCode} <= codes
    assert LATE in codes


def test_powertools_is_not_imported_with_the_handlers() -> None:
    """A cold start's init does not pay for Powertools: it loads on the first emission."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "ANALYZER"))},
        "AWS_DEFAULT_REGION": "us-east-1",
        "MEDIA_BUCKET": "unit-media",
        "SESSIONS_TABLE": "unit-sessions",
        "FILES_TABLE": "unit-files",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:unit",
        "ANALYZER": "local",
    }
    probe = (
        "import sys, media_process.handler, triage_run.handler\n"
        "assert 'aws_lambda_powertools' not in sys.modules, 'Powertools imported eagerly'\n"
        "from media_triage_shared import metrics\n"
        "metrics.emit('x', {metrics.JOBS_COMPLETED: 1})\n"
        "assert 'aws_lambda_powertools' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert [m.name for m in metrics_in(done.stdout)] == ["JobsCompleted"]


GOOD: dict[str, Any] = {
    "_aws": {
        "Timestamp": 1_764_000_000_000,
        "CloudWatchMetrics": [
            {
                "Namespace": "MediaTriage",
                "Dimensions": [["Environment", "Function"]],
                "Metrics": [{"Name": "Tail", "Unit": "Milliseconds"}],
            }
        ],
    },
    "Environment": "prod",
    "Function": "triage_run",
    "Tail": 1234.0,
}


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target = doc
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("_aws", "Timestamp"), "2026-11-30T00:00:00Z"),
        (("_aws", "Timestamp"), 1_764_000_000),  # seconds, not milliseconds
        (("_aws", "CloudWatchMetrics"), []),
        (("_aws", "CloudWatchMetrics", 0, "Namespace"), ""),
        (("_aws", "CloudWatchMetrics", 0, "Metrics", 0, "Unit"), "ms"),
        (("Environment",), KeyError),  # a dimension missing at the root
        (("Function",), 7),  # a dimension that is not a string
        (("Tail",), KeyError),  # a metric missing at the root
        (("Tail",), "fast"),
    ],
)
def test_the_emf_checker_rejects_what_cloudwatch_would_not_extract(
    path: tuple[Any, ...], value: Any
) -> None:
    assert [m.name for m in validate(copy.deepcopy(GOOD))] == ["Tail"]
    with pytest.raises(EmfError):
        validate(_broken(path, value))
