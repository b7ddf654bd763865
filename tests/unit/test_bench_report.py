"""docs/benchmarks.md is written by the bench commands: a run replaces its own section (figures,
machine, date) and leaves the other benches' sections as they were."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devtools"))

from bench_report import DOC, write_section  # noqa: E402 - devtools/ is not a package

DAY1 = datetime(2026, 11, 28, tzinfo=UTC)
DAY2 = datetime(2026, 11, 30, tzinfo=UTC)


def test_a_run_replaces_its_own_section_and_keeps_the_others(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    write_section("media", "MediaProcess", "| a | 1 |", doc=doc, now=DAY1)
    write_section("triage", "TriageRun", "| b | 2 |", doc=doc, now=DAY1)
    write_section("media", "MediaProcess", "| a | 3 |", doc=doc, now=DAY2)

    text = doc.read_text()
    assert text.startswith("# Benchmarks\n")
    assert text.count("<!-- bench:media -->") == 1
    assert "| a | 3 |" in text
    assert "| a | 1 |" not in text
    assert "| b | 2 |" in text
    assert text.index("bench:media") < text.index("bench:triage")  # order kept
    media = text[text.index("<!-- bench:media -->") : text.index("<!-- /bench:media -->")]
    assert "Measured 2026-11-30 on " in media
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert f"{cores} cores" in media
    assert "Measured 2026-11-28" in text  # the triage section keeps its own date


def test_the_committed_document_has_a_section_per_bench() -> None:
    text = DOC.read_text()
    for name in ("media", "triage", "e2e", "api"):
        assert text.count(f"<!-- bench:{name} -->") == 1
        assert text.count(f"<!-- /bench:{name} -->") == 1
    assert "docs/benchmarks.md" in (ROOT / "README.md").read_text()
