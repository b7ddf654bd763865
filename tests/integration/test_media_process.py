"""The hostile-input corpus through the deployed pipeline on the emulator: presigned POSTs from
the API, the real S3 notification -> media-process Lambda path, DynamoDB rows, the counter."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from support.corpus import DUPLICATE, VALID, Case, available_cases
from support.stack import Stack
from support.stack_api import fspec, jpeg, s3_event

from media_triage_shared import keys

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def missing_key_403(stack: Stack) -> Iterator[None]:
    """The shared stack's emulator answers a missing key's HEAD/GET with 403 while this module
    runs, as S3 does for media-process (no s3:ListBucket): a key MediaProcess gets wrong fails
    here the way it would on AWS (retried, never counted), not as a quiet 404."""
    switch = f"{stack.endpoint}/_local_aws/s3/missing-key-403"
    assert requests.put(switch, json={"enabled": True}, timeout=10).json() == {"enabled": True}
    try:
        yield
    finally:
        requests.put(switch, json={"enabled": None}, timeout=10).raise_for_status()


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


# Names that safe_filename changes (the object key is not the name) - and, before issue 13,
# names it changed AGAIN when MediaProcess rebuilt the key from the object's name.
_RENAMED = [
    "a\u200bb .jpg",  # a zero-width space, removed
    "\u1100\u200b\u1161 photo.jpg",  # jamo that compose once the zero-width space is gone
    "x" * 230 + ".abcdefghijklmno pq",  # over 200 bytes; a 16-char "extension" ending in a space
]


def test_renamed_files_are_found_counted_and_valid(stack: Stack) -> None:
    photos = [jpeg(900 + i) for i in range(len(_RENAMED))]
    init = stack.init(len(_RENAMED), [fspec(n, d) for n, d in zip(_RENAMED, photos, strict=True)])
    session_id, job_id = init["sessionId"], init["jobId"]
    for target, data in zip(init["uploads"], photos, strict=True):
        assert target["key"].rsplit("/", 1)[1] != target["filename"]  # the name did change
        stack.upload(target, data)

    _wait_processed(stack, session_id, job_id, len(_RENAMED))
    rows = {row["fileId"]: row for row in stack.file_rows(job_id)}
    for name, target in zip(_RENAMED, init["uploads"], strict=True):
        row = rows[target["fileId"]]
        assert (row["status"], row.get("error")) == ("valid", None), row
        assert row["counted"] is True
        assert row["filename"] == name
        assert row["originalKey"] == target["key"]
        assert (
            keys.safe_filename(row["originalKey"].rsplit("/", 1)[1])
            == target["key"].rsplit("/", 1)[1]
        )
    job = stack.wait_job(session_id, job_id, {"complete", "failed"}, timeout=120)
    assert (job["status"], job["processedCount"]) == ("complete", len(_RENAMED))


def test_an_event_for_an_object_that_is_gone_is_final_not_retried(stack: Stack) -> None:
    """The HEAD of a key that does not exist answers 403 here (as on AWS without ListBucket):
    MediaProcess takes it for missing, finalises the file and returns without an error."""
    init = stack.init(1, [fspec("never uploaded.jpg", b"x" * 10)])
    target = init["uploads"][0]
    event = s3_event(stack.bucket, target["key"], 10)
    s3 = stack.client("s3")
    with pytest.raises(s3.exceptions.ClientError) as head:
        s3.head_object(Bucket=stack.bucket, Key=target["key"])
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403  # the switch is on

    resp = stack.client("lambda").invoke(
        FunctionName=stack.functions["media_process"], Payload=json.dumps(event).encode()
    )

    assert "FunctionError" not in resp, resp["Payload"].read()
    result = json.loads(resp["Payload"].read())
    assert result["processed"] == [{"fileId": target["fileId"], "status": "invalid"}]
    (row,) = stack.file_rows(init["jobId"])
    assert (row["error"]["code"], row["counted"]) == ("missing", True)
    assert stack.job_row(init["sessionId"], init["jobId"])["processedCount"] == 1
