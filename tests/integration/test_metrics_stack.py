"""The metrics of a real job on the deployed local stack: the functions' output, as the emulator's
Lambda executor captures it (one log file per function, like a CloudWatch Logs group), holds
EMF lines that CloudWatch would turn into the dashboard's metrics (tests/support/emf.py)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image
from support.emf import EmfMetric, metrics_in
from support.stack import Stack

from media_triage_shared import metrics

pytestmark = pytest.mark.integration


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 120, 30)).save(buf, "JPEG")
    return buf.getvalue()


def _log(stack: Stack, role: str) -> Path:
    logs = stack.state.parent / "emulator" / "logs"
    if not logs.is_dir():
        pytest.skip("function output is kept per function by the bundled emulator only")
    return logs / f"{stack.functions[role]}.log"


def _job_metrics(stack: Stack, role: str, job_id: str, wanted: set[str]) -> list[EmfMetric]:
    """The job's metrics in ``role``'s output, once every ``wanted`` name is there."""
    path, found = _log(stack, role), []
    deadline = time.monotonic() + 30  # the job row turns complete just before the line
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        found = [m for m in metrics_in(text) if m.root.get("job_id") == job_id]
        if wanted <= {m.name for m in found}:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{role}: {sorted(wanted - {m.name for m in found})} never written")


def test_a_real_job_emits_emf_from_media_process_and_triage_run(stack: Stack) -> None:
    photo, text = _jpeg(), b"not a photo at all\n" * 10
    init = stack.init(
        2,
        [
            {"filename": "sunset.jpg", "contentType": "image/jpeg", "size": len(photo)},
            {"filename": "notes.jpg", "contentType": "image/jpeg", "size": len(text)},
        ],
    )
    session_id, job_id = init["sessionId"], init["jobId"]
    for target, data in zip(init["uploads"], (photo, text), strict=True):
        stack.upload(target, data)
    job = stack.wait_job(session_id, job_id, {"complete", "failed"}, timeout=120)
    assert job["status"] == "complete", job

    files = _job_metrics(
        stack, "media_process", job_id, {"FilesFinalized", "InvalidFiles", "ProcessingTime"}
    )
    base = {"Environment": "local", "Function": "media_process"}
    assert sorted(m.dimensions["Status"] for m in files if m.name == "FilesFinalized") == [
        "invalid",
        "valid",
    ]
    (invalid,) = [m for m in files if m.name == "InvalidFiles"]
    assert invalid.dimensions == {**base, "ErrorCode": "unsupported_type"}
    kinds = {m.dimensions["MediaKind"] for m in files if m.name == "ProcessingTime"}
    assert kinds == {"photo", "unknown"}

    wanted = {"JobsCompleted", "TriageTime", "Tail", "JobTime", "PartialJobs"}
    found = _job_metrics(stack, "triage_run", job_id, wanted)
    assert len({id(m.root) for m in found}) == 1  # one line per completed job
    job_metrics = {m.name: m for m in found}
    assert {m.dimensions["Function"] for m in job_metrics.values()} == {"triage_run"}
    assert job_metrics["JobsCompleted"].value == 1
    # the tail (last file processed -> verdicts) is within the whole job (init -> verdicts)
    assert 0 <= job_metrics["Tail"].value <= job_metrics["JobTime"].value + 1000
    for m in [*files, *job_metrics.values()]:
        assert m.namespace == metrics.NAMESPACE
        assert m.root["session_id"] == session_id
        assert not {"session_id", "job_id", "file_id", "request_id"} & set(m.dimensions)
