"""One file through the whole deployed pipeline: API -> S3 -> MediaProcess -> poll -> TriageRun."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from support.stack import Stack

pytestmark = pytest.mark.integration


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def test_one_upload_goes_through_every_step_and_counts_once(stack: Stack) -> None:
    data = _jpeg()
    init = stack.init(
        1, [{"filename": "first photo+1.jpg", "contentType": "image/jpeg", "size": len(data)}]
    )
    session_id, job_id = init["sessionId"], init["jobId"]
    (target,) = init["uploads"]
    assert target["key"].startswith(f"uploads/{session_id}/{job_id}/")

    stack.upload(target, data)
    job = stack.wait_job(session_id, job_id, {"complete", "failed"}, timeout=90)

    assert job["status"] == "complete", job
    assert job["processedCount"] == 1
    execution = stack.execution(job_id)
    assert execution["status"] == "SUCCEEDED"
    (row,) = stack.file_rows(job_id)
    assert row["status"] == "valid"
    assert row["filename"] == "first photo+1.jpg"

    # S3 delivers at least once: the same event again must not count the file twice.
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Post",
                "s3": {
                    "bucket": {"name": stack.bucket},
                    "object": {"key": target["key"].replace(" ", "+"), "size": len(data)},
                },
            }
        ]
    }
    for _ in range(2):
        resp = stack.client("lambda").invoke(
            FunctionName=stack.functions["media_process"], Payload=json.dumps(event).encode()
        )
        assert "FunctionError" not in resp, resp["Payload"].read()
    assert stack.job_row(session_id, job_id)["processedCount"] == 1


def test_derived_objects_never_trigger_processing(stack: Stack) -> None:
    init = stack.init(1)
    session_id, job_id = init["sessionId"], init["jobId"]
    stack.client("s3").put_object(
        Bucket=stack.bucket, Key=f"derived/{session_id}/{job_id}/x/thumb.jpg", Body=_jpeg()
    )
    resp = stack.client("lambda").invoke(
        FunctionName=stack.functions["media_process"],
        Payload=json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "s3": {
                            "bucket": {"name": stack.bucket},
                            "object": {"key": f"derived/{session_id}/{job_id}/x/thumb.jpg"},
                        },
                    }
                ]
            }
        ).encode(),
    )
    assert json.loads(resp["Payload"].read()) == {"processed": []}
    assert stack.file_rows(job_id) == []
    assert stack.job_row(session_id, job_id)["processedCount"] == 0
