"""Issue 13 item 6 on the deployed local stack: after DELETE, nothing of the job is left in the
bucket once the work in flight has ended - neither what an invocation already running during
the sweep writes afterwards, nor an upload that lands later through a still-valid presigned
POST. The emulator's ``wait-idle`` endpoint waits for every asynchronous invocation (the S3
notifications to media-process) to finish, retries included."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw
from support.stack import Stack
from support.stack_api import fspec, jpeg

from media_triage_shared import keys

pytestmark = pytest.mark.integration


def _job_objects(stack: Stack, init: dict[str, Any]) -> list[str]:
    s3 = stack.client("s3")
    found: list[str] = []
    for prefix in (
        keys.upload_prefix(init["sessionId"], init["jobId"]),
        keys.derived_prefix(init["sessionId"], init["jobId"]),
    ):
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=stack.bucket, Prefix=prefix
        ):
            found += [obj["Key"] for obj in page.get("Contents", [])]
    return sorted(found)


def _wait_idle(stack: Stack) -> None:
    resp = requests.get(f"{stack.endpoint}/_local_aws/lambda/wait-idle?timeout=60", timeout=90)
    assert resp.status_code == 200, resp.text


def _file_status(stack: Stack, job_id: str, file_id: str) -> str | None:
    rows = {r["fileId"]: r for r in stack.file_rows(job_id)}
    return rows[file_id]["status"] if file_id in rows else None


def _wait_file(stack: Stack, job_id: str, file_id: str, wanted: set[str]) -> None:
    deadline = time.monotonic() + 120
    while (status := _file_status(stack, job_id, file_id)) not in wanted:
        assert time.monotonic() < deadline, f"file {file_id} stayed {status}"
        time.sleep(0.05)


def _media_log(stack: Stack) -> list[dict[str, Any]]:
    """media-process's log lines (the bundled emulator keeps them per function)."""
    path = stack.state.parent / "emulator" / "logs" / f"{stack.functions['media_process']}.log"
    if not path.exists():
        return []
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        start = line.find("{")
        if start >= 0:
            try:
                lines.append(json.loads(line[start:]))
            except ValueError:
                continue
    return lines


def test_an_upload_landing_after_delete_is_deleted_by_its_own_invocation(stack: Stack) -> None:
    first, late = jpeg(61), jpeg(62)
    init = stack.init(2, [fspec("first.jpg", first), fspec("late.jpg", late)])
    token, (early_target, late_target) = init["sessionToken"], init["uploads"]
    stack.upload(early_target, first)
    _wait_file(stack, init["jobId"], early_target["fileId"], {"valid"})

    cancelled = stack.api("DELETE", f"/api/triage/{init['jobId']}", token=token)
    assert cancelled.status_code == 200, cancelled.text
    assert _job_objects(stack, init) == []  # the sweep: original, thumbnail

    stack.upload(late_target, late)  # the presigned POST is still valid: S3 takes it
    _wait_idle(stack)
    assert _job_objects(stack, init) == []
    assert stack.job_row(init["sessionId"], init["jobId"])["processedCount"] == 1
    assert _file_status(stack, init["jobId"], late_target["fileId"]) == "uploading"


def _big_png() -> bytes:
    """64 megapixels that compress to little: quick to upload, seconds to decode and resize,
    so media-process holds the bytes in memory and writes its renditions well after DELETE."""
    img = Image.new("RGB", (8000, 8000), (90, 140, 200))
    ImageDraw.Draw(img).ellipse([500, 500, 7500, 7500], outline=(255, 255, 255), width=40)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def test_an_invocation_running_during_delete_leaves_nothing_behind(stack: Stack) -> None:
    photo = _big_png()
    logged = bool(_media_log(stack)) or (stack.state.parent / "emulator").exists()
    for _ in range(3):
        init = stack.init(2, [fspec("huge.png", photo, "image/png"), fspec("never.jpg", jpeg(63))])
        target = init["uploads"][0]
        stack.upload(target, photo)
        _wait_file(stack, init["jobId"], target["fileId"], {"processing"})  # it has started
        cancelled = stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])
        swept = datetime.now(UTC)
        assert cancelled.status_code == 200, cancelled.text

        _wait_idle(stack)
        # whatever the invocation wrote after the sweep (thumb.jpg, display.jpg) is gone too
        assert _job_objects(stack, init) == []
        job = stack.job_row(init["sessionId"], init["jobId"])
        assert (job["status"], job["processedCount"]) == ("cancelled", 0)
        assert _file_status(stack, init["jobId"], target["fileId"]) == "processing"  # uncounted
        if not logged:
            return  # an external endpoint: no function logs to tell when the writes happened
        late_writes = [
            line
            for line in _media_log(stack)
            if line.get("file_id") == target["fileId"]
            and line.get("event") in {"media.thumbnail_written", "media.display_written"}
            and datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")) > swept
        ]
        if late_writes:  # the race this test is about did happen: renditions after the sweep
            return
    pytest.fail("media-process never wrote after DELETE's sweep: the race was not exercised")


def test_a_cancelled_jobs_late_upload_is_not_an_error_for_the_pipeline(stack: Stack) -> None:
    """The late upload's invocation ends normally (skipped), so nothing goes to the DLQ."""
    photo = jpeg(64)
    init = stack.init(1, [fspec("a.jpg", photo)])
    stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])
    stack.upload(init["uploads"][0], photo)
    _wait_idle(stack)
    assert _job_objects(stack, init) == []
    skipped = [
        line
        for line in _media_log(stack)
        if line.get("event") == "media.job_cancelled"
        and line.get("file_id") == init["uploads"][0]["fileId"]
    ]
    if _media_log(stack):
        assert [line.get("stage") for line in skipped] == ["before"]
