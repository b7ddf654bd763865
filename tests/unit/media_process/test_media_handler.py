"""The Lambda handler with its composition root pointed at the fakes: S3 event decoding, keys
outside uploads/ ignored (no recursion), the deadline taken from the Lambda context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import JOB, SESSION, Env
from support.corpus import BY_NAME

from media_triage_shared import keys
from media_triage_shared.models import FileStatus

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"


class Context:
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 300_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _event(*raw_keys: str) -> dict[str, Any]:
    template = json.loads((EVENTS / "s3_object_created.json").read_text())
    record = template["Records"][0]
    return {
        "Records": [
            {**record, "s3": {**record["s3"], "object": {**record["s3"]["object"], "key": k}}}
            for k in raw_keys
        ]
    }


def test_url_encoded_keys_are_decoded_to_the_uploaded_object(env: Env, handler: Any) -> None:
    env.create_job(expected=2)
    spaced = env.put("my holiday photo.jpg", BY_NAME["jpeg_exif"].data(), file_id="a1")
    plus = env.put("a+b=c 100%.png", BY_NAME["png_alpha"].data(), file_id="a2")
    # S3 event keys: space as '+', '+' as %2B ('%' is replaced in the key by safe_filename).
    raw = [
        spaced.key.replace(" ", "+"),
        plus.key.replace("+", "%2B").replace(" ", "+").replace("=", "%3D"),
    ]
    result = handler(_event(*raw), Context())
    assert result == {
        "processed": [{"fileId": "a1", "status": "valid"}, {"fileId": "a2", "status": "valid"}]
    }
    assert env.processed_count() == 2


def test_keys_outside_uploads_are_ignored(env: Env, handler: Any) -> None:
    env.create_job()
    derived = keys.derived_key(SESSION, JOB, "f1", "thumb.jpg")
    env.store.put_bytes(derived, BY_NAME["jpeg_exif"].data(), "image/jpeg")
    result = handler(_event(derived, "other/thing.jpg", "uploads/short"), Context())
    assert result == {"processed": []}
    assert env.files.rows == {}
    assert env.processed_count() == 0


def test_the_deadline_never_exceeds_the_lambda_time_left(env: Env, handler: Any) -> None:
    env.create_job()
    upload = env.put("clip.mp4", BY_NAME["mp4"].data())
    # 10 s left on the Lambda clock: less than the 15 s safety margin -> no time at all.
    handler(_event(upload.key), Context(remaining_ms=10_000))
    row = env.files.get_file(JOB, upload.file_id)
    assert row is not None
    assert row.status is FileStatus.INVALID
    assert row.error is not None
    assert row.error.code == "timeout"
    assert env.processed_count() == 1


def test_a_repeated_event_returns_the_same_answer_and_counts_once(env: Env, handler: Any) -> None:
    env.create_job()
    upload = env.put("IMG 1.jpg", BY_NAME["jpeg_rotated"].data())
    event = _event(upload.key.replace(" ", "+"))
    assert handler(event, Context()) == handler(event, Context())
    assert env.processed_count() == 1
    # Both deliveries check readiness: the second cannot tell a duplicate from Lambda's retry
    # after a crash between the count and the wake-up (issue 13 item 7c; the crash itself:
    # test_media_leftovers.py). Waking a machine already woken is a stale token, ignored.
    assert env.waker.calls == [(upload.session_id, upload.job_id)] * 2
