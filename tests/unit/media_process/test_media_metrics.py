"""MediaProcess's metrics: the handler's output parses as CloudWatch EMF (tests/support/emf.py)
with the namespace, dimensions and units of media_triage_shared.metrics; one file reaching its
final status gives one figure per metric, and a second delivery of the same event none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import JOB, SESSION, Env
from support.corpus import BY_NAME
from support.emf import EmfMetric, metrics_in

from media_triage_shared import metrics

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"


class Context:
    aws_request_id = "lambda-req-9"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def _event(*keys: str) -> dict[str, Any]:
    record = json.loads((EVENTS / "s3_object_created.json").read_text())["Records"][0]
    return {
        "Records": [
            {**record, "s3": {**record["s3"], "object": {**record["s3"]["object"], "key": k}}}
            for k in keys
        ]
    }


def _by(found: list[EmfMetric], name: str) -> list[EmfMetric]:
    return [m for m in found if m.name == name]


def test_each_counted_file_emits_its_status_error_code_and_processing_time(
    env: Env, handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env.create_job(expected=2)
    good = env.put("a.jpg", BY_NAME["jpeg_exif"].data(), file_id="f-good")
    bad = env.put("b.jpg", BY_NAME["text_as_jpg"].data(), file_id="f-bad")
    capsys.readouterr()
    handler(_event(good.key, bad.key), Context())
    found = metrics_in(capsys.readouterr().out)

    assert {m.namespace for m in found} == {metrics.NAMESPACE}
    base = {"Environment": "local", "Function": "media_process"}
    finalized = _by(found, "FilesFinalized")
    assert sorted((m.dimensions["Status"], m.value) for m in finalized) == [
        ("invalid", 1.0),
        ("valid", 1.0),
    ]
    (invalid,) = _by(found, "InvalidFiles")
    assert invalid.dimensions == {**base, "ErrorCode": "unsupported_type"}
    assert invalid.root["file_id"] == "f-bad"
    times = {m.dimensions["MediaKind"]: m for m in _by(found, "ProcessingTime")}
    assert set(times) == {"photo", "unknown"}
    assert all(m.unit == "Milliseconds" and m.value >= 0 for m in times.values())
    assert times["photo"].root["file_id"] == "f-good"
    for m in found:
        spec = next(s for s in metrics.ALL if s.name == m.name)
        assert (m.unit, tuple(m.dimensions)) == (spec.unit, spec.dimensions)
        assert {k: m.dimensions[k] for k in base} == base
        # ids are properties of the line (Logs Insights), never dimensions (cardinality)
        assert (m.root["session_id"], m.root["job_id"]) == (SESSION, JOB)
        assert m.root["request_id"] == "lambda-req-9"
        assert not {"session_id", "job_id", "file_id"} & set(m.dimensions)


def test_a_second_delivery_of_a_counted_file_emits_no_metric(
    env: Env, handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env.create_job(expected=1)
    up = env.put("a.jpg", BY_NAME["jpeg_exif"].data())
    handler(_event(up.key), Context())
    assert len(_by(metrics_in(capsys.readouterr().out), "FilesFinalized")) == 1
    handler(_event(up.key), Context())  # S3's at-least-once delivery
    out = capsys.readouterr().out
    assert "media.processed" in out
    assert metrics_in(out) == []


def test_structured_log_lines_stay_structlog_beside_the_emf_lines(
    env: Env, handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env.create_job(expected=1)
    up = env.put("a.jpg", BY_NAME["jpeg_exif"].data())
    capsys.readouterr()
    handler(_event(up.key), Context())
    lines = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    emf = [ln for ln in lines if "_aws" in ln]
    logs = [ln for ln in lines if "_aws" not in ln]
    assert len(emf) == 2  # FilesFinalized, ProcessingTime (a valid file has no error code)
    assert all("event" in ln and "level" in ln for ln in logs)
    assert "media.processed" in {ln["event"] for ln in logs}
