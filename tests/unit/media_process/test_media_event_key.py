"""The key MediaProcess reads is the S3 event's key, URL-decoded (``+`` is a space), never one
rebuilt from the name it ends with: an object whose name ``safe_filename`` would change again
(written by an older API, or by hand) is still found, processed and counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from conftest import JOB, SESSION, Env
from support.corpus import BY_NAME

from media_triage_shared import keys
from media_triage_shared.models import FileStatus

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"


class Context:
    aws_request_id = "lambda-req-9"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def _event(key: str) -> dict[str, Any]:
    template = json.loads((EVENTS / "s3_object_created.json").read_text())
    record = template["Records"][0]
    encoded = "/".join(quote_plus(part) for part in key.split("/"))  # as S3 sends it
    obj = {**record["s3"]["object"], "key": encoded}
    return {"Records": [{**record, "s3": {**record["s3"], "object": obj}}]}


@pytest.mark.parametrize(
    "name",
    [
        " leading space.jpg",  # safe_filename strips it
        "a\u1100\u1161 b+c.jpg",  # decomposed jamo: NFC would compose them
        "x" * 230 + ".jpg",  # over the length cap
    ],
)
def test_an_object_named_outside_safe_filename_is_found_and_counted(
    env: Env, handler: Any, name: str
) -> None:
    env.create_job()
    key = f"{keys.upload_prefix(SESSION, JOB)}f-odd/{name}"
    assert keys.safe_filename(name) != name  # a rebuilt key would name another object
    env.store.put_bytes(key, BY_NAME["jpeg_exif"].data(), "image/jpeg")

    result = handler(_event(key), Context())

    assert result["processed"] == [{"fileId": "f-odd", "status": "valid"}]
    row = env.files.get_file(JOB, "f-odd")
    assert row is not None
    assert row.status is FileStatus.VALID
    assert row.original_key == key
    assert env.processed_count() == 1
