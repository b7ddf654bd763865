"""The handler with its real composition root: settings from the environment, DynamoDB and S3
through moto in-process, the Gemini key from SSM, Gemini itself faked on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError
from support import triage_images as ti
from support.emf import metrics_in
from support.fake_gemini import FakeGemini, Reply
from support.tables import create_app_tables
from triage_harness import JOB, SESSION, T, derived, row

from media_triage_shared import aws, metrics
from media_triage_shared.adapters.dynamo import DynamoJobRepository
from media_triage_shared.errors import AnalyzerUnavailable
from media_triage_shared.models import FileStatus, JobRow, JobStatus, deserialize
from triage_run import deps
from triage_run.settings import TriageSettings

REGION = "us-east-1"
BUCKET, SESSIONS, FILES = "media-triage-unit-media", "unit-sessions", "unit-files"
KEY_PARAM = "/media-triage/unit/gemini-api-key"


@dataclass
class Context:
    aws_request_id: str = "req-1"
    memory_limit_in_mb: int = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def _clear_caches() -> None:
    for fn in (deps.settings, deps.files, deps.jobs, deps.store, deps.analyzer):
        fn.cache_clear()
    deps.gemini_api_key.cache_clear()
    deps.cost_basis.cache_clear()
    aws.reset_clients()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MEDIA_BUCKET": BUCKET,
        "SESSIONS_TABLE": SESSIONS,
        "FILES_TABLE": FILES,
        "GEMINI_RETRY_INITIAL_DELAY_SECONDS": "0.01",
        "GEMINI_RETRY_MAX_DELAY_SECONDS": "0.02",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "ANALYZER", "GEMINI_API_KEY", "GEMINI_API_KEY_PARAM"):
        monkeypatch.delenv(name, raising=False)
    _clear_caches()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_app_tables(ddb, SESSIONS, FILES)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        DynamoJobRepository(ddb, SESSIONS).create_job(
            JobRow(
                session_id=SESSION,
                job_id=JOB,
                status=JobStatus.ANALYZING,
                phase="analyzing",
                expected_file_count=4,
                token_hash="hash",
                created_at=T,
                updated_at=T,
                stall_deadline=T,
                expires_at=2_000_000_000,
            )
        )
        ddb.update_item(
            TableName=SESSIONS,
            Key={"pk": {"S": f"SESSION#{SESSION}"}, "sk": {"S": f"JOB#{JOB}"}},
            UpdateExpression="SET processedCount = :n",
            ExpressionAttributeValues={":n": {"N": "4"}},
        )
        rows = [
            row("good", filename="good.jpg"),
            row("dark", filename="dark.jpg"),
            row("bad", FileStatus.INVALID),
            row("copy", FileStatus.DUPLICATE, filename="good copy.jpg", duplicate_of="good"),
        ]
        for r in rows:
            ddb.put_item(TableName=FILES, Item=r.to_item())
        s3.put_object(
            Bucket=BUCKET,
            Key=derived("good", "thumb.jpg"),
            Body=ti.thumbnail(ti.jpeg(ti.scene(1))),
        )
        s3.put_object(
            Bucket=BUCKET,
            Key=derived("dark", "thumb.jpg"),
            Body=ti.thumbnail(ti.jpeg(ti.dark(ti.scene(2)))),
        )
        yield {"ddb": ddb, "s3": s3, "monkeypatch": monkeypatch}
    _clear_caches()


def invoke() -> dict[str, Any]:
    from triage_run.handler import handler

    result: dict[str, Any] = handler(
        {"sessionId": SESSION, "jobId": JOB, "partial": False}, Context()
    )
    return result


def job_item(ddb: Any) -> dict[str, Any]:
    item = ddb.get_item(
        TableName=SESSIONS, Key={"pk": {"S": f"SESSION#{SESSION}"}, "sk": {"S": f"JOB#{JOB}"}}
    )["Item"]
    return deserialize(item)


def file_items(ddb: Any) -> dict[str, dict[str, Any]]:
    items = ddb.query(
        TableName=FILES,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"JOB#{JOB}"}},
    )["Items"]
    return {d["fileId"]: d for d in map(deserialize, items)}


def test_local_analyzer_end_to_end_through_dynamodb_and_s3(env: dict[str, Any]) -> None:
    out = invoke()

    assert out == {"jobId": JOB, "status": "complete", "keep": 1, "discard": 2, "partial": False}
    files = file_items(env["ddb"])
    assert files["good"]["verdict"] == "keep"
    assert files["good"]["issues"] == []
    assert (files["dark"]["verdict"], files["dark"]["issues"]) == ("discard", ["dark"])
    assert files["copy"]["issues"] == ["duplicate"]
    assert files["copy"]["reason"] == 'duplicate of "good.jpg"'
    assert "verdict" not in files["bad"]
    job = job_item(env["ddb"])
    assert job["status"] == "complete"
    assert job["processedCount"] == 4
    assert job["summary"]["analyzer"] == "local"
    assert job["summary"]["keep"] == 1
    assert job["summary"].get("inputTokens") is None  # no model, no tokens
    assert job["summary"]["costUsd"] > 0  # the triage invocation and the S3 side, priced
    assert job["tokenHash"] == "hash"
    assert job["expectedFileCount"] == 4


def test_gemini_is_chosen_by_a_key_in_ssm_read_once_per_container(env: dict[str, Any]) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=KEY_PARAM, Value="ssm-key", Type="SecureString"
    )
    mp: pytest.MonkeyPatch = env["monkeypatch"]
    with FakeGemini(api_key="ssm-key") as fake:
        mp.setenv("GEMINI_API_KEY_PARAM", KEY_PARAM)
        mp.setenv("GEMINI_BASE_URL", fake.base_url)
        mp.setenv("GEMINI_MODEL", "gemini-unit")
        assert invoke()["status"] == "complete"
        boto3.client("ssm", region_name=REGION).delete_parameter(Name=KEY_PARAM)
        assert invoke()["status"] == "complete"  # the key was not read again

    files = file_items(env["ddb"])
    assert files["dark"]["verdict"] == "discard"  # the fake discards files named "dark"
    assert files["good"]["reason"] == "Sharp and well lit."
    job = job_item(env["ddb"])
    assert (job["summary"]["analyzer"], job["summary"]["model"]) == ("gemini", "gemini-unit")
    assert [c.model for c in fake.calls] == ["gemini-unit"] * 2
    # the second run's call, from the SDK's usage metadata (the fake counts like Gemini)
    usage = fake.usage[-1]
    assert job["summary"]["inputTokens"] == usage["promptTokenCount"] > 2 * 258
    assert job["summary"]["outputTokens"] == usage["candidatesTokenCount"] > 0
    assert sorted(fake.calls[0].file_ids) == ["dark", "good"]  # never "bad", never "copy"


def test_gemini_down_for_good_raises_a_clear_error_for_the_catch(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    mp: pytest.MonkeyPatch = env["monkeypatch"]
    with FakeGemini() as fake:
        fake.responder = lambda call: Reply(status=503, message="The model is overloaded.")
        mp.setenv("GEMINI_API_KEY", "k")
        mp.setenv("GEMINI_BASE_URL", fake.base_url)
        mp.setenv("GEMINI_ATTEMPTS", "2")
        with pytest.raises(AnalyzerUnavailable, match="503 UNAVAILABLE: The model is overloaded"):
            invoke()

    assert job_item(env["ddb"])["status"] == "analyzing"  # the state machine marks it failed
    assert all("verdict" not in f for f in file_items(env["ddb"]).values())
    failed = [
        json.loads(ln) for ln in capsys.readouterr().out.splitlines() if "triage.failed" in ln
    ]
    assert failed
    assert failed[-1]["error_type"] == "AnalyzerUnavailable"
    assert failed[-1]["job_id"] == JOB
    assert "duration_ms" in failed[-1]


def test_settings_fail_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MEDIA_BUCKET": "b-1",
        "SESSIONS_TABLE": "s-1",
        "FILES_TABLE": "f-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("GEMINI_API_KEY", "GEMINI_API_KEY_PARAM", "ANALYZER"):
        monkeypatch.delenv(name, raising=False)
    assert TriageSettings.from_env().resolved_analyzer == "local"
    monkeypatch.setenv("GEMINI_API_KEY_PARAM", KEY_PARAM)
    assert TriageSettings.from_env().resolved_analyzer == "gemini"
    monkeypatch.setenv("ANALYZER", "local")
    assert TriageSettings.from_env().resolved_analyzer == "local"

    monkeypatch.delenv("GEMINI_API_KEY_PARAM")
    monkeypatch.setenv("ANALYZER", "gemini")
    with pytest.raises(ValidationError, match="GEMINI_API_KEY"):
        TriageSettings.from_env()
    monkeypatch.setenv("ANALYZER", "openai")
    with pytest.raises(ValidationError, match="analyzer"):
        TriageSettings.from_env()
    monkeypatch.setenv("ANALYZER", "local")
    monkeypatch.setenv("GEMINI_BATCH_SIZE", "50")
    with pytest.raises(ValidationError, match="gemini_batch_size"):
        TriageSettings.from_env()


def test_the_local_analyzer_cold_start_does_not_import_the_gemini_sdk() -> None:
    """A fresh interpreter: importing the handler (which builds the settings) with
    ANALYZER=local leaves google-genai unimported; choosing Gemini imports it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "ANALYZER"))},
        "AWS_DEFAULT_REGION": REGION,
        "MEDIA_BUCKET": BUCKET,
        "SESSIONS_TABLE": SESSIONS,
        "FILES_TABLE": FILES,
        "ANALYZER": "local",
    }
    probe = (
        "import sys, triage_run.handler\n"
        "assert 'google.genai' not in sys.modules, 'SDK imported by the local handler'\n"
        "assert 'boto3.dynamodb' not in sys.modules, 'row (de)serialiser imported eagerly'\n"
        "from triage_run import gemini\n"
        "assert 'google.genai' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_completed_job_emits_one_emf_line_of_its_figures(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Namespace, dimensions (Environment, Function: never ids) and units as declared in
    media_triage_shared.metrics; the tail runs from the last file's row (12:00:30) and the job
    time from the job's creation (12:00:00) to the verdicts; a re-run has no tail."""
    env["ddb"].update_item(
        TableName=FILES,
        Key={"pk": {"S": f"JOB#{JOB}"}, "sk": {"S": "FILE#dark"}},
        UpdateExpression="SET updatedAt = :t",
        ExpressionAttributeValues={":t": {"S": "2026-11-28T12:00:30Z"}},
    )
    capsys.readouterr()
    before = datetime.now(UTC)
    invoke()
    after = datetime.now(UTC)
    found = {m.name: m for m in metrics_in(capsys.readouterr().out)}

    # the local analyzer reports no tokens; the job's cost estimate is emitted as recorded
    assert set(found) == {
        "JobsCompleted", "PartialJobs", "TriageTime", "Tail", "JobTime", "NotEvaluatedFiles",
        "JobCostUSD",
    }  # fmt: skip
    assert found["JobCostUSD"].value == job_item(env["ddb"])["summary"]["costUsd"] > 0
    for m in found.values():
        spec = next(s for s in metrics.ALL if s.name == m.name)
        assert (m.namespace, m.unit) == (metrics.NAMESPACE, spec.unit)
        assert m.dimensions == {"Environment": "local", "Function": "triage_run"}
        assert (m.root["job_id"], m.root["session_id"], m.root["analyzer"]) == (
            JOB,
            SESSION,
            "local",
        )
    assert (found["JobsCompleted"].value, found["PartialJobs"].value) == (1, 0)
    created = datetime(2026, 11, 28, 12, tzinfo=UTC)
    job_ms = found["JobTime"].value
    # whole milliseconds: within the invocation's bounds give or take the rounding
    assert (before - created).total_seconds() * 1000 - 1 <= job_ms
    assert job_ms <= (after - created).total_seconds() * 1000 + 1
    assert found["Tail"].value == pytest.approx(job_ms - 30_000, abs=1)
    assert job_item(env["ddb"])["summary"]["durationMs"] == found["TriageTime"].value

    invoke()  # a re-run (retry): the rows carry verdicts, the wait is no upload's tail
    again = {m.name for m in metrics_in(capsys.readouterr().out)}
    assert "JobsCompleted" in again
    assert "Tail" not in again
