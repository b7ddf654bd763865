"""Issue 13 items 7a and 11: an expired session is a 401 however long DynamoDB's TTL takes to
delete its row, and a multipart upload whose parts do not add up to the declared size is
refused (and aborted) on ``/multipart/complete``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from support.api import CONFIG, MIB, SECRETS, Api, event, spec
from support.tables import BUCKET, FILES, SESSIONS, moto_app, waiting_state_machine

from init_session import services
from init_session.adapters import (
    DynamoClientLimits,
    DynamoIdempotencyStore,
    S3UploadSigner,
    StepFunctionsExecutions,
)
from init_session.api import http
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.s3 import S3ObjectStore
from media_triage_shared.errors import NotFound

# ---------------------------------------------------------------------------- 7a: expiry


def test_a_token_stops_working_at_expires_at_even_while_the_row_still_exists() -> None:
    api = Api()
    body = api.init(1, [spec("a.jpg", 10)])
    path, token = f"/api/triage/{body['jobId']}/results", body["sessionToken"]
    api.tick(24 * 3600 - 1)
    assert api.call("GET", path, token=token).status_code == 200
    api.tick(1)  # expiresAt reached: the row is still there (TTL deletes within days)
    assert api.jobs.get_job(body["sessionId"], body["jobId"]) is not None
    for method, route, payload in (
        ("GET", "/results", None),
        ("PATCH", "", {"expectedFileCount": 2}),
        ("POST", "/uploads", {"files": [spec("b.jpg", 10)]}),
        ("DELETE", "", None),
    ):
        resp = api.call(method, f"/api/triage/{body['jobId']}{route}", payload, token=token)
        assert resp.status_code == 401, (method, route, resp.text)
        assert resp.error["code"] == "session_expired"
        assert resp.headers["www-authenticate"] == "Bearer"
    job = api.jobs.get_job(body["sessionId"], body["jobId"])
    assert job is not None
    assert job.expected_file_count == 1  # nothing changed
    assert job.status.value == "pending"


def test_a_wrong_token_on_an_expired_job_is_still_403_not_a_hint() -> None:
    api = Api()
    body = api.init(1)
    other = api.init(1)
    api.tick(25 * 3600)
    forged = f"{body['sessionId']}.{other['sessionToken'].split('.')[1]}"
    resp = api.call("GET", f"/api/triage/{body['jobId']}/results", token=forged)
    assert resp.status_code == 403


# ---------------------------------------------------------------------------- 11: ListParts


def _multipart(api: Api) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]:
    api.with_config(multipart_threshold_bytes=10 * MIB, multipart_part_bytes=16 * MIB)
    body = api.init(1, [spec("big.mp4", 40 * MIB, "video/mp4")])
    (target,) = body["uploads"]
    plan = target["multipart"]
    parts = [{"partNumber": n, "etag": f'"e{n}"'} for n in range(1, plan["partCount"] + 1)]
    req = {"fileId": target["fileId"], "uploadId": plan["uploadId"], "parts": parts}
    return body, target, f"/api/triage/{body['jobId']}/multipart/complete", req


def test_parts_larger_than_declared_are_refused_and_the_upload_aborted() -> None:
    api = Api()
    body, target, path, req = _multipart(api)
    planned = api._planned_parts(req["uploadId"])
    api.uploads.part_sizes[req["uploadId"]] = {**planned, 3: planned[3] + 1}  # one byte more
    resp = api.call("POST", path, req, token=body["sessionToken"])
    assert resp.status_code == 400
    assert resp.error["code"] == "size_mismatch"
    assert str(40 * MIB + 1) in resp.error["message"]
    assert api.uploads.aborted == [req["uploadId"]]
    assert api.uploads.completed == []
    assert api.store.head(target["key"]) is None  # no object, so nothing to process
    # the client gives up as after any failed complete: the row goes, nothing is counted
    abort = api.call(
        "POST",
        f"/api/triage/{body['jobId']}/multipart/abort",
        {"fileId": req["fileId"], "uploadId": req["uploadId"]},
        token=body["sessionToken"],
    )
    assert abort.status_code == 200
    assert api.files.list_files(body["jobId"]) == []


def test_parts_smaller_than_declared_are_refused_too() -> None:
    api = Api()
    body, _, path, req = _multipart(api)
    planned = api._planned_parts(req["uploadId"])
    api.uploads.part_sizes[req["uploadId"]] = {**planned, 2: planned[2] - 1}
    resp = api.call("POST", path, req, token=body["sessionToken"])
    assert (resp.status_code, resp.error["code"]) == (400, "size_mismatch")


def test_a_part_not_uploaded_yet_is_a_400_that_keeps_the_upload() -> None:
    api = Api()
    body, _, path, req = _multipart(api)
    planned = api._planned_parts(req["uploadId"])
    api.uploads.part_sizes[req["uploadId"]] = {1: planned[1], 2: planned[2]}
    resp = api.call("POST", path, req, token=body["sessionToken"])
    assert (resp.status_code, resp.error["code"]) == (400, "invalid_request")
    assert "part 3" in resp.error["message"]
    assert api.uploads.aborted == []  # the client may still upload part 3
    api.uploads.part_sizes[req["uploadId"]] = planned
    assert api.call("POST", path, req, token=body["sessionToken"]).status_code == 200


def test_a_retried_complete_after_success_is_still_a_success() -> None:
    """ListParts of a completed upload is NoSuchUpload: the object exists, same outcome."""
    api = Api()
    body, _, path, req = _multipart(api)
    assert api.call("POST", path, req, token=body["sessionToken"]).status_code == 200
    assert api.call("POST", path, req, token=body["sessionToken"]).status_code == 200


# ---------------------------------------------------------------------------- moto

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with moto_app(monkeypatch) as app:
        sfn, sm = waiting_state_machine()
        yield {"ddb": app.ddb, "s3": app.s3, "sfn": sfn, "sm": sm}


def test_list_parts_reports_real_sizes_and_a_missing_upload(aws: dict[str, Any]) -> None:
    signer = S3UploadSigner(aws["s3"], BUCKET)
    key = "uploads/s/j/f/big.mp4"
    upload_id = signer.create_multipart(key, "video/mp4")
    assert signer.list_parts(key, upload_id) == {}
    for n, size in ((1, 5 * MIB), (2, 777)):
        url = signer.presign_part(key, upload_id, n, 600)
        assert requests.put(url, data=b"x" * size, timeout=10).status_code == 200
    assert signer.list_parts(key, upload_id) == {1: 5 * MIB, 2: 777}
    signer.abort_multipart(key, upload_id)
    with pytest.raises(NotFound):
        signer.list_parts(key, upload_id)


def test_oversized_parts_through_presigned_urls_never_become_an_object(
    aws: dict[str, Any],
) -> None:
    """The attack end to end on moto: part URLs accept any length, the complete refuses."""
    s3 = aws["s3"]
    cfg = replace(CONFIG, multipart_threshold_bytes=5 * MIB, multipart_part_bytes=5 * MIB)
    svc = services.Services(
        jobs=DynamoJobRepository(aws["ddb"], SESSIONS),
        files=DynamoFileRepository(aws["ddb"], FILES, SESSIONS, 24),
        store=S3ObjectStore(s3, BUCKET),
        uploads=S3UploadSigner(s3, BUCKET),
        executions=StepFunctionsExecutions(aws["sfn"], aws["sm"]),
        idempotency=DynamoIdempotencyStore(aws["ddb"], SESSIONS),
        limits=DynamoClientLimits(aws["ddb"], SESSIONS),
        secrets=SECRETS,
        cfg=cfg,
    )

    def call(method: str, path: str, body: Any = None, **headers: str) -> dict[str, Any]:
        raw = None if body is None else json.dumps(body)
        out = http.dispatch(event(method, path, raw=raw, headers=headers), svc, "r", now=NOW)
        return {"status": out["statusCode"], "body": json.loads(out["body"] or "null")}

    declared = 5 * MIB + 100
    init = call(
        "POST",
        "/api/triage/init",
        {
            "expectedFileCount": 2,
            "files": [spec("a.mp4", declared, "video/mp4"), spec("b.mp4", declared, "video/mp4")],
        },
    )["body"]
    auth = {"authorization": f"Bearer {init['sessionToken']}"}
    path = f"/api/triage/{init['jobId']}/multipart/complete"

    def upload(target: dict[str, Any], last_part: int) -> dict[str, Any]:
        plan = target["multipart"]
        sizes = [5 * MIB, last_part]
        asked = {"fileId": target["fileId"], "uploadId": plan["uploadId"], "partNumbers": [1, 2]}
        urls = call("POST", f"/api/triage/{init['jobId']}/multipart/parts", asked, **auth)
        assert urls["status"] == 200, urls
        parts = []
        for part, size in zip(urls["body"]["parts"], sizes, strict=True):
            put = requests.put(part["url"], data=b"v" * size, timeout=10)
            assert put.status_code == 200  # S3 takes whatever length comes
            parts.append({"partNumber": part["partNumber"], "etag": put.headers["ETag"]})
        return {"fileId": target["fileId"], "uploadId": plan["uploadId"], "parts": parts}

    bad, good = init["uploads"]
    refused = call("POST", path, upload(bad, 100 + 50 * MIB), **auth)
    assert refused["status"] == 400
    assert refused["body"]["error"]["code"] == "size_mismatch"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=bad["key"])
    in_flight = [u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]
    assert in_flight == [good["key"]]  # the refused upload was aborted, its parts dropped
    done = call("POST", path, upload(good, 100), **auth)
    assert done["status"] == 200, done
    assert s3.head_object(Bucket=BUCKET, Key=good["key"])["ContentLength"] == declared
