"""Correlation ids in MediaProcess's logs: the summary line of every processed upload carries
the Lambda request id and the session, job and file ids parsed from the key, the same ids the
API logs for the job (tests/unit/init_session/test_api_log_context.py) and TriageRun binds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import JOB, SESSION, Env
from support.corpus import BY_NAME

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"


class Context:
    aws_request_id = "lambda-req-7"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def test_processed_lines_carry_request_session_job_and_file_ids(
    env: Env, handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env.create_job(expected=2)
    first = env.put("a.jpg", BY_NAME["jpeg_exif"].data(), file_id="f-1")
    second = env.put("b.png", BY_NAME["png_alpha"].data(), file_id="f-2")
    template = json.loads((EVENTS / "s3_object_created.json").read_text())
    record = template["Records"][0]
    event = {
        "Records": [
            {**record, "s3": {**record["s3"], "object": {**record["s3"]["object"], "key": k}}}
            for k in (first.key, second.key)
        ]
    }
    capsys.readouterr()
    handler(event, Context())
    lines = [
        json.loads(ln) for ln in capsys.readouterr().out.splitlines() if "media.processed" in ln
    ]
    assert [ln["file_id"] for ln in lines] == ["f-1", "f-2"]  # rebound per record
    for line in lines:
        assert (line["session_id"], line["job_id"]) == (SESSION, JOB)
        assert line["request_id"] == "lambda-req-7"
        assert line["function"] == "media_process"
        assert "duration_ms" in line
