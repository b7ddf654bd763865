from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from media_triage_shared.events import S3Event
from media_triage_shared.models import (
    FileError,
    FileRow,
    FileStatus,
    Gps,
    JobRow,
    MediaType,
    TriageInput,
    VerdictSummary,
)

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def _file_row(**extra: object) -> FileRow:
    base: dict[str, object] = {
        "job_id": "j1",
        "file_id": "f1",
        "session_id": "s1",
        "filename": "IMG 1.jpg",
        "original_key": "uploads/s1/j1/f1/IMG 1.jpg",
        "status": FileStatus.VALID,
        "created_at": "2026-11-28T12:00:00Z",
        "updated_at": "2026-11-28T12:00:00Z",
        "expires_at": 1_800_000_000,
    }
    return FileRow.model_validate({**base, **extra})


def test_file_row_round_trips_through_a_dynamodb_item() -> None:
    row = _file_row(
        media_type=MediaType.VIDEO,
        duration_seconds=12.5,
        gps=Gps(lat=48.8566, lon=2.3522),
        error=None,
        width=1920,
        issues=["dark"],
    )
    item = row.to_item()
    assert item["pk"] == {"S": "JOB#j1"}
    assert item["sk"] == {"S": "FILE#f1"}
    assert item["durationSeconds"] == {"N": "12.5"}
    assert "error" not in item  # None is never written
    assert FileRow.from_item(item) == row


def test_invalid_file_row_keeps_its_error_code() -> None:
    row = _file_row(status=FileStatus.INVALID, error=FileError(code="corrupt", message="x"))
    assert FileRow.from_item(row.to_item()).error == FileError(code="corrupt", message="x")


def test_job_row_round_trip_and_keys() -> None:
    job = JobRow(
        session_id="s1",
        job_id="j1",
        expected_file_count=3,
        token_hash="ab" * 32,
        created_at="2026-11-28T12:00:00Z",
        updated_at="2026-11-28T12:00:00Z",
        stall_deadline="2026-11-28T12:10:00Z",
        expires_at=1_800_000_000,
        summary=VerdictSummary(keep=2, discard=1, analyzer="local", duration_ms=5),
    )
    item = job.to_item()
    assert (item["pk"], item["sk"]) == ({"S": "SESSION#s1"}, {"S": "JOB#j1"})
    assert item["processedCount"] == {"N": "0"}
    assert JobRow.from_item(item) == job


def test_rows_reject_unknown_attributes() -> None:
    item = _file_row().to_item()
    item["surprise"] = {"S": "x"}
    with pytest.raises(ValidationError):
        FileRow.from_item(item)


def test_s3_event_fixture_parses_and_ignores_extra_fields() -> None:
    event = S3Event.model_validate(json.loads((EVENTS / "s3_object_created.json").read_text()))
    (record,) = event.records
    assert record.event_name == "ObjectCreated:Post"
    assert record.s3.bucket.name == "media-triage-local-media"
    assert record.s3.object.key.startswith("uploads/")
    assert record.s3.object.size == 52_345


def test_triage_input_is_strict() -> None:
    assert TriageInput.model_validate({"sessionId": "s1", "jobId": "j1"}).partial is False
    with pytest.raises(ValidationError):
        TriageInput.model_validate({"sessionId": "s1", "jobId": "j1", "extra": 1})
    with pytest.raises(ValidationError):
        TriageInput.model_validate({"sessionId": "../x", "jobId": "j1"})


# ---------------------------------------------------------------------------- poison values


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_no_contract_accepts_a_non_finite_number(bad: float) -> None:
    from init_session.api.models import FileStatusView

    with pytest.raises(ValidationError, match="finite"):
        Gps(lat=1.0, lon=2.0, alt=bad)
    with pytest.raises(ValidationError, match="finite"):
        _file_row(duration_seconds=bad)
    with pytest.raises(ValidationError, match="finite"):  # an API response model
        FileStatusView(
            file_id="f1", filename="a.mp4", status=FileStatus.VALID, duration_seconds=bad
        )
    with pytest.raises(ValidationError, match="finite"):  # an envelope (extra="ignore")
        S3Event.model_validate(
            {
                "Records": [
                    {
                        "eventName": "x",
                        "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": bad}},
                    }
                ]
            }
        )


def test_a_row_copied_with_a_nan_is_refused_before_dynamodb_sees_it() -> None:
    """``model_copy`` does not validate: ``to_item`` checks again, as a ValueError (boto3 would
    raise a TypeError for Decimal('NaN') inside the counting transaction)."""
    row = _file_row().model_copy(
        update={"gps": Gps.model_construct(lat=1.0, lon=2.0, alt=float("nan"))}
    )
    with pytest.raises(ValidationError):
        row.to_item()


@pytest.mark.parametrize(
    "gps", [{"lat": 91, "lon": 0}, {"lat": 0, "lon": 181}, {"lat": 1, "lon": 1, "alt": 1e9}]
)
def test_gps_out_of_range_is_refused(gps: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Gps.model_validate(gps)


def test_the_models_load_boto3_dynamodb_on_first_use_only() -> None:
    """boto3.dynamodb costs ~250 ms of import: a handler's cold start must not pay it on import
    (devtools/bench_cold_start.py); the first row serialised loads it."""
    probe = (
        "import sys\n"
        "from media_triage_shared import models\n"
        "assert 'boto3.dynamodb' not in sys.modules, 'imported with the models'\n"
        "assert models.deserialize(models.serialize({'n': 1.5})) == {'n': 1.5}\n"
        "assert 'boto3.dynamodb.types' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
