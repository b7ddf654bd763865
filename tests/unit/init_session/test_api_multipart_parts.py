"""Part URLs on demand (issue 13 item 3, ADR 0013): init and ``/uploads`` carry the multipart plan
without URLs, ``POST .../multipart/parts`` presigns batches of parts; every response stays far
below Lambda's 6 MB at the largest batch the API accepts. And a retried ``POST .../uploads``
with an ``Idempotency-Key`` returns the same files instead of leaving phantom rows."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from support.api import BUCKET, MIB, T0, Api, FakeUploads, event, spec

from init_session.adapters import S3UploadSigner
from init_session.api import http
from init_session.api.models import MAX_FILES, MAX_PART_URLS_PER_CALL
from media_triage_shared.models import FileStatus, JobStatus, iso

GIB = 1024 * MIB
MAX_SIZE = 5 * GIB
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
KEY = "6b1f4f0e-8a53-4c0e-9a1e-1d2c3b4a5f60"


@pytest.fixture
def api() -> Api:
    return Api()


def _big_job(api: Api, size: int = 40 * MIB) -> tuple[dict[str, Any], dict[str, Any]]:
    api.with_config(multipart_threshold_bytes=10 * MIB, multipart_part_bytes=16 * MIB)
    body = api.init(2, [spec("big.mp4", size, "video/mp4"), spec("small.jpg", 1000)])
    return body, body["uploads"][0]


def _parts(api: Api, body: dict[str, Any], req: dict[str, Any]) -> Any:
    return api.call(
        "POST", f"/api/triage/{body['jobId']}/multipart/parts", req, token=body["sessionToken"]
    )


# ---------------------------------------------------------------------------- the endpoint


def test_parts_are_presigned_in_the_order_asked_with_their_sizes(api: Api) -> None:
    body, target = _big_job(api)
    plan = target["multipart"]
    assert (plan["partSize"], plan["partCount"]) == (16 * MIB, 3)
    req = {"fileId": target["fileId"], "uploadId": plan["uploadId"], "partNumbers": [3, 1]}
    resp = _parts(api, body, req)
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert (got["fileId"], got["uploadId"]) == (target["fileId"], plan["uploadId"])
    assert got["expiresAt"] == iso(T0 + timedelta(seconds=3600))
    assert [(p["partNumber"], p["size"]) for p in got["parts"]] == [(3, 8 * MIB), (1, 16 * MIB)]
    assert all(target["key"] in p["url"] and plan["uploadId"] in p["url"] for p in got["parts"])
    assert got["parts"][0]["url"].endswith("partNumber=3")

    # an hour later the client asks again and gets URLs that expire an hour from then
    api.tick(3600)
    again = _parts(api, body, {**req, "partNumbers": [2]}).json()
    assert again["expiresAt"] == iso(T0 + timedelta(seconds=7200))

    # the parts then complete the upload as before
    parts = [{"partNumber": n, "etag": f'"e{n}"'} for n in (1, 2, 3)]
    done = api.call(
        "POST",
        f"/api/triage/{body['jobId']}/multipart/complete",
        {"fileId": target["fileId"], "uploadId": plan["uploadId"], "parts": parts},
        token=body["sessionToken"],
    )
    assert done.status_code == 200, done.text


def test_parts_endpoint_writes_nothing(api: Api) -> None:
    body, target = _big_job(api)
    before = (dict(api.jobs.jobs), dict(api.files.rows), dict(api.uploads.uploads))
    req = {"fileId": target["fileId"], "uploadId": target["multipart"]["uploadId"]}
    assert _parts(api, body, {**req, "partNumbers": [1, 2, 3]}).status_code == 200
    assert (dict(api.jobs.jobs), dict(api.files.rows), dict(api.uploads.uploads)) == before


def test_parts_of_a_wrong_upload_or_file(api: Api) -> None:
    body, target = _big_job(api)
    small = body["uploads"][1]
    upload_id = target["multipart"]["uploadId"]

    wrong = _parts(api, body, {"fileId": target["fileId"], "uploadId": "nope", "partNumbers": [1]})
    assert wrong.status_code == 409
    assert wrong.error["code"] == "upload_id_mismatch"

    # a file that is not multipart (a presigned POST) has no parts
    not_multipart = _parts(
        api, body, {"fileId": small["fileId"], "uploadId": upload_id, "partNumbers": [1]}
    )
    assert not_multipart.status_code == 404
    assert not_multipart.error["code"] == "not_found"

    unknown = _parts(api, body, {"fileId": "f" * 32, "uploadId": upload_id, "partNumbers": [1]})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("numbers", "field"),
    [
        ([4], "body.partNumbers.0"),  # the plan has parts 1..3
        ([1, 2, 99], "body.partNumbers.2"),
        ([0], "body.partNumbers.0"),
        ([10_001], "body.partNumbers.0"),
        ([-1], "body.partNumbers.0"),
        ([1.5], "body.partNumbers.0"),
        (["1"], "body.partNumbers.0"),
        ([], "body.partNumbers"),
        ([1, 1], "body.partNumbers"),
        (list(range(1, MAX_PART_URLS_PER_CALL + 2)), "body.partNumbers"),  # the batch cap
    ],
)
def test_part_numbers_out_of_range_or_over_the_batch_cap(
    api: Api, numbers: list[Any], field: str
) -> None:
    body, target = _big_job(api)
    req = {
        "fileId": target["fileId"],
        "uploadId": target["multipart"]["uploadId"],
        "partNumbers": numbers,
    }
    resp = _parts(api, body, req)
    assert resp.status_code == 400, resp.text
    assert resp.error["code"] == "invalid_request"
    assert resp.error["details"][0]["field"] == field


def test_a_full_batch_of_100_parts_is_one_call(api: Api) -> None:
    size = MAX_PART_URLS_PER_CALL * 16 * MIB
    body = api.init(1, [spec("huge.mov", size, "video/quicktime")])
    (target,) = body["uploads"]
    plan = target["multipart"]
    assert plan["partCount"] == MAX_PART_URLS_PER_CALL
    req = {
        "fileId": target["fileId"],
        "uploadId": plan["uploadId"],
        "partNumbers": list(range(1, plan["partCount"] + 1)),
    }
    got = _parts(api, body, req).json()
    assert sum(p["size"] for p in got["parts"]) == size


@pytest.mark.parametrize("status", [JobStatus.ANALYZING, JobStatus.COMPLETE, JobStatus.CANCELLED])
def test_no_part_urls_once_the_job_moved_on(api: Api, status: JobStatus) -> None:
    body, target = _big_job(api)
    api.set_job(body["sessionId"], body["jobId"], status)
    req = {"fileId": target["fileId"], "uploadId": target["multipart"]["uploadId"]}
    resp = _parts(api, body, {**req, "partNumbers": [1]})
    assert resp.status_code == 409
    assert resp.error["code"] == "job_not_active"


# ---------------------------------------------------------------------------- response sizes

# A Lambda role's session token is ~1.1 KB; it is in every presigned URL and POST policy.
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE" + "A" * 1100


class RealSigning(FakeUploads):
    """Multipart calls faked, presigning by botocore with session credentials (local, no
    network): URLs and POST fields as long as Lambda's."""

    def __init__(self, api: Api) -> None:
        super().__init__(api.store)
        client = boto3.client(
            "s3",
            region_name="eu-west-1",
            aws_access_key_id="ASIA" + "X" * 16,
            aws_secret_access_key="s" * 40,
            aws_session_token=SESSION_TOKEN,
        )
        self.signer = S3UploadSigner(client, "media-triage-prod-media-123456789012")

    def create_multipart(self, key: str, content_type: str) -> str:
        super().create_multipart(key, content_type)
        upload_id = f"{self.counter:04}" + "U" * 140  # S3's upload ids are ~150 characters
        self.uploads[upload_id] = self.uploads.pop(f"mpu-{self.counter}")
        return upload_id

    def presign_post(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        return self.signer.presign_post(key, content_type, size, expires_in)

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        return self.signer.presign_part(key, upload_id, part_number, expires_in)


def _realistic() -> Api:
    api = Api()
    api.uploads = RealSigning(api)
    api.svc = replace(api.svc, uploads=api.uploads)
    return api


def _lambda_payload(api: Api, ev: dict[str, Any]) -> tuple[int, int, Any]:
    """Status, size of the Lambda response as the runtime sends it (the body is a JSON string
    inside the JSON envelope), and the parsed body."""
    out = http.dispatch(ev, api.svc, "req-123", now=api.now)
    return out["statusCode"], len(json.dumps(out).encode()), json.loads(out["body"])


def _largest_files(n: int = MAX_FILES) -> list[dict[str, Any]]:
    # the longest names the API takes, every file at the size limit: all multipart
    return [spec(f"{i:04}" + "v" * 247 + ".mov", MAX_SIZE, "video/quicktime") for i in range(n)]


def test_init_at_the_largest_batch_stays_far_below_lambdas_response_limit() -> None:
    api = _realistic()
    files = _largest_files()
    ev = event("POST", "/api/triage/init", {"expectedFileCount": MAX_FILES, "files": files})
    status, size, body = _lambda_payload(api, ev)
    assert status == 202
    assert len(body["uploads"]) == MAX_FILES
    assert all(90 < u["multipart"]["partCount"] <= 100 for u in body["uploads"])
    # every part URL in it was 1000 x 100 x ~1.8 KB = ~180 MB; the plans alone are ~0.8 MB
    assert size < LAMBDA_RESPONSE_LIMIT / 5, size


def test_uploads_at_the_largest_batch_stays_far_below_lambdas_response_limit() -> None:
    api = _realistic()
    init = api.init(1)
    ev = event(
        "POST",
        f"/api/triage/{init['jobId']}/uploads",
        {"files": _largest_files()},
        headers={"authorization": f"Bearer {init['sessionToken']}", "idempotency-key": KEY},
    )
    status, size, body = _lambda_payload(api, ev)
    assert status == 200
    assert len(body["uploads"]) == MAX_FILES
    assert size < LAMBDA_RESPONSE_LIMIT / 5, size


def test_parts_at_the_largest_batch_stay_far_below_lambdas_response_limit() -> None:
    api = _realistic()
    # 100 parts of 16 MiB: every part of it in one call
    (name,) = (f["filename"] for f in _largest_files(1))
    init = api.init(1, [spec(name, MAX_PART_URLS_PER_CALL * 16 * MIB, "video/quicktime")])
    (target,) = init["uploads"]
    ev = event(
        "POST",
        f"/api/triage/{init['jobId']}/multipart/parts",
        {
            "fileId": target["fileId"],
            "uploadId": target["multipart"]["uploadId"],
            "partNumbers": list(range(1, MAX_PART_URLS_PER_CALL + 1)),
        },
        headers={"authorization": f"Bearer {init['sessionToken']}"},
    )
    status, size, body = _lambda_payload(api, ev)
    assert status == 200, body
    assert len(body["parts"]) == MAX_PART_URLS_PER_CALL
    assert SESSION_TOKEN[:40] in body["parts"][0]["url"]  # realistic: the token is in the URL
    assert size < LAMBDA_RESPONSE_LIMIT / 20, size


def test_presigned_posts_at_the_largest_batch_stay_below_lambdas_response_limit() -> None:
    """Small files still get their presigned POST inline (policy and session token: ~4.5 KB
    each). 1000 of them stay below 6 MB with a Lambda role's token; ADR 0013 records the
    margin and what to do if it ever shrinks."""
    api = _realistic()
    files = [spec(f"{i:04}" + "p" * 247 + ".jpg", 100 * MIB) for i in range(MAX_FILES)]
    ev = event("POST", "/api/triage/init", {"expectedFileCount": MAX_FILES, "files": files})
    status, size, body = _lambda_payload(api, ev)
    assert status == 202
    assert {u["method"] for u in body["uploads"]} == {"POST"}
    assert size < LAMBDA_RESPONSE_LIMIT * 0.8, size


# ---------------------------------------------------------------------------- idempotent /uploads


def _uploads(api: Api, body: dict[str, Any], files: list[dict[str, Any]], key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return api.call(
        "POST",
        f"/api/triage/{body['jobId']}/uploads",
        {"files": files},
        token=body["sessionToken"],
        headers=headers,
    )


def test_a_retried_uploads_call_with_a_key_returns_the_same_files(api: Api) -> None:
    api.with_config(multipart_threshold_bytes=10 * MIB)
    body = api.init(3)
    files = [spec("a.jpg"), spec("v.mp4", 40 * MIB, "video/mp4")]
    first = _uploads(api, body, files, KEY)
    assert first.status_code == 200, first.text
    api.tick(30)
    again = _uploads(api, body, files, f'"{KEY}"')
    assert again.status_code == 200, again.text

    ids = [u["fileId"] for u in first.json()["uploads"]]
    assert [u["fileId"] for u in again.json()["uploads"]] == ids
    assert again.json()["uploads"][1]["multipart"] == first.json()["uploads"][1]["multipart"]
    assert len(api.files.list_files(body["jobId"])) == 2  # no phantom rows
    assert len(api.uploads.uploads) == 1  # no second multipart upload
    job = api.jobs.get_job(body["sessionId"], body["jobId"])
    assert job is not None
    assert job.upload_target_count == 2  # reserved once
    assert job.stall_deadline == iso(T0 + timedelta(seconds=630))  # still a sign of life

    # without a key, a repeated call is a new set of files (the old behaviour)
    _uploads(api, body, files, None)
    assert len(api.files.list_files(body["jobId"])) == 4


def test_a_retry_finishes_a_call_that_died_half_way(api: Api) -> None:
    body = api.init(3)
    files = [spec("a.jpg"), spec("b.jpg"), spec("c.jpg")]
    first_ids = [u["fileId"] for u in _uploads(api, body, files[:2], KEY).json()["uploads"]]
    # the same key, the same first files and one more: the two rows are reused, one added
    resp = _uploads(api, body, files, KEY)
    assert resp.status_code == 200, resp.text
    assert [u["fileId"] for u in resp.json()["uploads"]][:2] == first_ids
    assert len(api.files.list_files(body["jobId"])) == 3
    job = api.jobs.get_job(body["sessionId"], body["jobId"])
    assert job is not None
    assert job.upload_target_count == 3


def test_a_key_reused_for_other_files_is_a_conflict(api: Api) -> None:
    body = api.init(3)
    assert _uploads(api, body, [spec("a.jpg")], KEY).status_code == 200
    other = _uploads(api, body, [spec("other.jpg")], KEY)
    assert other.status_code == 409
    assert other.error["code"] == "idempotency_key_reused"
    assert other.error["details"][0]["field"] == "body.files.0"
    assert len(api.files.list_files(body["jobId"])) == 1


def test_a_file_already_uploaded_stays_final_when_the_call_is_retried(api: Api) -> None:
    body = api.init(2)
    (target,) = _uploads(api, body, [spec("a.jpg")], KEY).json()["uploads"]
    api.land(body["sessionId"], body["jobId"], target["fileId"])
    _uploads(api, body, [spec("a.jpg")], KEY)
    row = api.files.get_file(body["jobId"], target["fileId"])
    assert row is not None
    assert row.status is FileStatus.VALID


def test_the_same_key_in_two_jobs_names_different_files(api: Api) -> None:
    a, b = api.init(2), api.init(2)
    fa = _uploads(api, a, [spec()], KEY).json()["uploads"][0]["fileId"]
    fb = _uploads(api, b, [spec()], KEY).json()["uploads"][0]["fileId"]
    assert fa != fb


def test_a_malformed_key_on_uploads_is_rejected_by_name(api: Api) -> None:
    body = api.init(2)
    resp = _uploads(api, body, [spec()], "short")
    assert resp.status_code == 400
    assert resp.error["details"][0]["field"] == "header.idempotency-key"
    assert api.files.list_files(body["jobId"]) == []


def test_part_counts_match_between_plan_and_endpoint(api: Api) -> None:
    for size in (10 * MIB + 1, 100 * MIB + 1, 3 * GIB + 7):
        body, target = _big_job(api, size)
        plan = target["multipart"]
        assert plan["partCount"] == math.ceil(size / plan["partSize"])
        req = {"fileId": target["fileId"], "uploadId": plan["uploadId"]}
        last = _parts(api, body, {**req, "partNumbers": [plan["partCount"]]}).json()["parts"][0]
        assert last["size"] == size - (plan["partCount"] - 1) * plan["partSize"]
        assert BUCKET in last["url"]
