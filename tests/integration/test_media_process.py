"""The hostile-input corpus through the deployed pipeline on the emulator: presigned POSTs from
the API, the real S3 notification -> media-process Lambda path, DynamoDB rows, the counter."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from api_helpers import s3_event
from corpus import DUPLICATE, VALID, Case, available_cases
from stack import Stack

pytestmark = pytest.mark.integration


def _wait_processed(stack: Stack, session_id: str, job_id: str, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        row = stack.job_row(session_id, job_id)
        if row.get("processedCount", 0) >= count:
            return row
        time.sleep(0.5)
    finals = [
        r for r in stack.file_rows(job_id) if r["status"] in {"valid", "invalid", "duplicate"}
    ]
    raise TimeoutError(f"{len(finals)}/{count} files final; job row: {row}")


@pytest.fixture(scope="module")
def corpus_job(stack: Stack) -> dict[str, Any]:
    cases = available_cases()
    files = [
        {"filename": c.filename, "contentType": c.content_type, "size": len(c.data())}
        for c in cases
    ]
    init = stack.init(len(cases), files)
    session_id, job_id = init["sessionId"], init["jobId"]
    targets = init["uploads"]
    assert [t["filename"] for t in targets] == [c.filename for c in cases]
    for case, target in zip(cases, targets, strict=True):
        stack.upload(target, case.data())
    job = _wait_processed(stack, session_id, job_id, len(cases))
    rows = {row["fileId"]: row for row in stack.file_rows(job_id)}
    return {
        "init": init,
        "cases": cases,
        "targets": {c.name: t for c, t in zip(cases, targets, strict=True)},
        "rows": {c.name: rows[t["fileId"]] for c, t in zip(cases, targets, strict=True)},
        "job": job,
    }


@pytest.mark.parametrize("name", [c.name for c in available_cases()])
def test_corpus_file_final_state_through_s3_notifications(
    corpus_job: dict[str, Any], name: str
) -> None:
    case: Case = next(c for c in corpus_job["cases"] if c.name == name)
    row = corpus_job["rows"][name]
    if case.duplicate_of:
        # Uploads race: whichever of the two identical files claimed the content first is the
        # valid one, the other its duplicate.
        twin = corpus_job["rows"][case.duplicate_of]
        pair = {row["status"], twin["status"]}
        assert pair == {VALID, DUPLICATE}, (row, twin)
        dup, orig = (row, twin) if row["status"] == DUPLICATE else (twin, row)
        assert dup["duplicateOf"] == orig["fileId"]
        return
    if case.status == VALID and name in {
        c.duplicate_of for c in corpus_job["cases"] if c.duplicate_of
    }:
        assert row["status"] in {VALID, DUPLICATE}
    else:
        assert row["status"] == case.status, row
    assert row.get("error", {}).get("code") == case.code, row
    assert row["filename"] == case.filename  # verbatim, whatever the key became
    assert row["counted"] is True
    if case.mime_type and row["status"] != "duplicate":
        assert row["mimeType"] == case.mime_type
    if case.width is not None and row["status"] == VALID:
        assert (row["width"], row["height"]) == (case.width, case.height)
    if case.warning:
        assert any(w.startswith(case.warning) for w in row.get("warnings", []))


def test_derived_objects_exist_for_valid_files(stack: Stack, corpus_job: dict[str, Any]) -> None:
    s3 = stack.client("s3")
    for case in corpus_job["cases"]:
        row = corpus_job["rows"][case.name]
        if row["status"] != VALID:
            continue
        for attr in ("thumbnailKey", "displayKey", "proxyKey"):
            if attr in row:
                assert row[attr].startswith("derived/")
                head = s3.head_object(Bucket=stack.bucket, Key=row[attr])
                assert head["ContentLength"] > 0
        names = {
            row[a].rsplit("/", 1)[1] for a in ("thumbnailKey", "displayKey", "proxyKey") if a in row
        }
        assert names == set(case.derived), (case.name, row)


def test_originals_are_untouched(stack: Stack, corpus_job: dict[str, Any]) -> None:
    s3 = stack.client("s3")
    for case in corpus_job["cases"]:
        key = corpus_job["targets"][case.name]["key"]
        body = s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
        assert body == case.data(), case.name


def test_duplicate_deliveries_count_each_file_once(
    stack: Stack, corpus_job: dict[str, Any]
) -> None:
    init = corpus_job["init"]
    session_id, job_id = init["sessionId"], init["jobId"]
    lam = stack.client("lambda")
    for name in ("unicode_name", "png_alpha", "mp4", "empty"):
        target = corpus_job["targets"][name]
        case = next(c for c in corpus_job["cases"] if c.name == name)
        event = s3_event(stack.bucket, target["key"], len(case.data()))
        for _ in range(2):
            resp = lam.invoke(
                FunctionName=stack.functions["media_process"], Payload=json.dumps(event).encode()
            )
            assert "FunctionError" not in resp, resp["Payload"].read()
            result = json.loads(resp["Payload"].read())
            assert result["processed"] == [
                {"fileId": target["fileId"], "status": corpus_job["rows"][name]["status"]}
            ]
    distinct = {row["fileId"] for row in stack.file_rows(job_id)}
    assert len(distinct) == len(corpus_job["cases"])
    assert stack.job_row(session_id, job_id)["processedCount"] == len(distinct)


def test_the_batch_still_completes(stack: Stack, corpus_job: dict[str, Any]) -> None:
    init = corpus_job["init"]
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=120)
    assert job["status"] == "complete", job
    assert job["processedCount"] == len(corpus_job["cases"])
