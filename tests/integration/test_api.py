"""The HTTP API against the deployed stack (emulator or AWS_ENDPOINT_URL): the page's happy path,
idempotent init, the error contract, multipart uploads, isolation between sessions, and a
500-file job with the results endpoint's latency reported."""

from __future__ import annotations

import io
import json
import statistics
import time
import uuid
from typing import Any

import pytest
import requests
from PIL import Image
from support.corpus import mp4
from support.stack import Stack
from support.stack_api import fspec, jpeg, png, results

from init_session import tokens
from media_triage_shared.adapters.dynamo import DynamoFileRepository
from media_triage_shared.models import VerdictKind

pytestmark = pytest.mark.integration

JOB_ROUTES = [
    ("POST", "/api/triage/{jobId}/uploads", {"files": [{"filename": "x.jpg", "size": 1}]}),
    (
        "POST",
        "/api/triage/{jobId}/multipart/parts",
        {"fileId": "f" * 32, "uploadId": "u", "partNumbers": [1]},
    ),
    (
        "POST",
        "/api/triage/{jobId}/multipart/complete",
        {"fileId": "f" * 32, "uploadId": "u", "parts": [{"partNumber": 1, "etag": "e"}]},
    ),
    ("POST", "/api/triage/{jobId}/multipart/abort", {"fileId": "f" * 32, "uploadId": "u"}),
    ("PATCH", "/api/triage/{jobId}", {"expectedFileCount": 1}),
    ("DELETE", "/api/triage/{jobId}", None),
    ("GET", "/api/triage/{jobId}/results", None),
    ("GET", "/api/triage/{jobId}/files/{fileId}/media", None),
    ("POST", "/api/triage/{jobId}/retry", None),
]


def executions_named(stack: Stack, job_id: str) -> list[str]:
    sfn = stack.client("stepfunctions")
    names: list[str] = []
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=stack.state_machine_arn
    ):
        names += [e["name"] for e in page["executions"] if e["name"].startswith(job_id)]
    return names


# ---------------------------------------------------------------------------- happy path


def test_the_page_flow_init_upload_poll_verdicts(stack: Stack) -> None:
    photos = [(f"holiday {i}.jpg", jpeg(i)) for i in range(3)]
    resp = stack.api(
        "POST",
        "/api/triage/init",
        json={"expectedFileCount": 3, "files": [fspec(n, d) for n, d in photos]},
    )
    assert resp.status_code == 202, resp.text
    assert resp.headers.get("x-request-id")
    init = resp.json()
    assert [u["filename"] for u in init["uploads"]] == [n for n, _ in photos]
    for target, (_, data) in zip(init["uploads"], photos, strict=True):
        assert target["key"].startswith(f"uploads/{init['sessionId']}/{init['jobId']}/")
        stack.upload(target, data)

    etag, seen_304, body = None, 0, {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        resp = results(stack, init, **({"If-None-Match": etag} if etag else {}))
        assert resp.headers.get("x-request-id")
        if resp.status_code == 304:
            seen_304 += 1
        else:
            assert resp.status_code == 200, resp.text
            body, etag = resp.json(), resp.headers["etag"]
            if body["status"] in {"complete", "failed"}:
                break
        time.sleep(0.5)
    assert body["status"] == "complete", body
    assert body["processedCount"] == 3
    assert {f["status"] for f in body["files"]} <= {"valid", "duplicate"}
    verdicts = body["verdicts"]
    assert len(verdicts["keep"]) + len(verdicts["discard"]) >= 1
    assert results(stack, init, **{"If-None-Match": etag}).status_code == 304
    seen_304 += 1
    assert seen_304 >= 1

    with_thumb = [f for f in body["files"] if f.get("thumbnailUrl")]
    if with_thumb:  # MediaProcess writes thumbnails: the presigned URL serves them
        thumb = requests.get(with_thumb[0]["thumbnailUrl"], timeout=30)
        assert thumb.status_code == 200
        assert thumb.content[:3] == b"\xff\xd8\xff"
    assert executions_named(stack, init["jobId"]) == [init["jobId"]]


def test_init_retried_with_the_same_key_returns_the_same_job(stack: Stack) -> None:
    key = str(uuid.uuid4())
    body = {"expectedFileCount": 1, "files": [fspec("a.jpg", b"x" * 10)]}
    first = stack.api("POST", "/api/triage/init", json=body, headers={"Idempotency-Key": key})
    again = stack.api("POST", "/api/triage/init", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202, again.text
    a, b = first.json(), again.json()
    assert (a["sessionId"], a["jobId"], a["sessionToken"]) == (
        b["sessionId"],
        b["jobId"],
        b["sessionToken"],
    )
    assert a["uploads"][0]["key"] == b["uploads"][0]["key"]
    assert executions_named(stack, a["jobId"]) == [a["jobId"]]
    other = stack.api(
        "POST",
        "/api/triage/init",
        json={"expectedFileCount": 2},
        headers={"Idempotency-Key": key},
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    stack.api("DELETE", f"/api/triage/{a['jobId']}", token=a["sessionToken"])


def test_tokens_and_key_hashes_are_bound_to_the_secret_terraform_put_in_ssm(stack: Stack) -> None:
    """ADR 0014: Terraform generated the server secret as an SSM SecureString; init-session
    is configured with its name only, read it from SSM, and keyed both the session token's
    hash and the Idempotency-Key's hash with it."""
    name = "/media-triage/local/token-secret/g0"
    param = stack.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString"
    secret = str(param["Value"])
    assert len(secret) == 64  # sha256 hex of two UUIDs
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.functions["init_session"]
    )
    variables = config["Environment"]["Variables"]
    assert variables["TOKEN_SECRET_PARAM"] == name
    assert secret not in json.dumps(config)

    key = str(uuid.uuid4())
    body = {"expectedFileCount": 1}
    created = stack.api("POST", "/api/triage/init", json=body, headers={"Idempotency-Key": key})
    assert created.status_code == 202, created.text
    init = created.json()
    row = stack.job_row(init["sessionId"], init["jobId"])
    assert row["tokenHash"] == tokens.hash_token(secret.encode(), init["sessionToken"])
    assert init["sessionToken"] == tokens.derived_token(
        secret.encode(), key, init["sessionId"], init["jobId"]
    )
    record = stack.client("dynamodb").get_item(
        TableName=stack.sessions_table,
        Key={
            "pk": {"S": f"IDEMPOTENCY#{tokens.key_hash(secret.encode(), key)}"},
            "sk": {"S": "IDEMPOTENCY"},
        },
    )
    assert record["Item"]["jobId"] == {"S": init["jobId"]}
    weak = stack.api(
        "POST", "/api/triage/init", json=body, headers={"Idempotency-Key": "0123456789abcdef"}
    )
    assert weak.status_code == 400
    assert weak.json()["error"]["details"][0]["field"] == "header.idempotency-key"
    stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])


# ---------------------------------------------------------------------------- one file's media


def _fetch(url: str) -> requests.Response:
    resp = requests.get(url, timeout=60)
    assert resp.status_code == 200, resp.text[:500]
    return resp


def test_a_files_media_urls_serve_its_real_objects(stack: Stack) -> None:
    """What the page does when the user opens a file: GET .../media, then load its URLs."""
    big, small, clip = jpeg(21, (3000, 2000)), png(22), mp4(2.0, seed="media-url")
    files = [("Été 1.jpg", big, "image/jpeg"), ("small.png", small, "image/png")]
    files.append(("clip.mp4", clip, "video/mp4"))
    init = stack.init(3, [fspec(name, data, ct) for name, data, ct in files])
    photo, still, video = (u["fileId"] for u in init["uploads"])

    def media(file_id: str) -> dict[str, Any]:
        resp = stack.api(
            "GET",
            f"/api/triage/{init['jobId']}/files/{file_id}/media",
            token=init["sessionToken"],
        )
        assert resp.status_code == 200, resp.text
        assert resp.headers.get("x-request-id")
        return dict(resp.json())

    before = media(photo)  # not uploaded yet: nothing to show
    assert before["mediaType"] is None
    assert [before[k] for k in ("thumbnailUrl", "displayUrl", "proxyUrl", "originalUrl")] == [
        None
    ] * 4

    for target, (_, data, _) in zip(init["uploads"], files, strict=True):
        stack.upload(target, data)
    stack.wait_job(init["sessionId"], init["jobId"], {"analyzing", "complete"}, timeout=180)

    large = media(photo)  # a 3000 px photo: display.jpg (2048 px), and the original
    assert large["filename"] == "Été 1.jpg"
    assert large["mediaType"] == "photo"
    assert large["proxyUrl"] is None
    display = _fetch(large["displayUrl"])
    assert display.headers["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(display.content)).size) == 2048
    original = _fetch(large["originalUrl"])
    assert original.content == big  # full resolution, byte for byte
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["Content-Disposition"] == (
        "inline; filename=\"_t_ 1.jpg\"; filename*=UTF-8''%C3%89t%C3%A9%201.jpg"
    )
    assert _fetch(large["thumbnailUrl"]).content[:3] == b"\xff\xd8\xff"

    png_media = media(still)  # small and browser-viewable: the original is the display image
    assert _fetch(png_media["displayUrl"]).content == small
    assert _fetch(png_media["originalUrl"]).headers["Content-Type"] == "image/png"

    movie = media(video)
    assert movie["mediaType"] == "video"
    assert movie["displayUrl"] is None
    proxy = _fetch(movie["proxyUrl"])
    assert proxy.content[4:8] == b"ftyp"
    assert proxy.headers["Content-Type"] == "video/mp4"
    assert _fetch(movie["originalUrl"]).content == clip

    unknown = stack.api(
        "GET", f"/api/triage/{init['jobId']}/files/{'0' * 32}/media", token=init["sessionToken"]
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])


# ---------------------------------------------------------------------------- error contract


def test_errors_have_one_shape_and_name_the_field(stack: Stack) -> None:
    bad = stack.api("POST", "/api/triage/init", json={"expectedFileCount": 0})
    assert bad.status_code == 400
    assert bad.headers.get("x-request-id")
    err = bad.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["details"][0]["field"] == "body.expectedFileCount"

    big = stack.api("POST", "/api/triage/init", data="x" * (600 * 1024))
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "payload_too_large"

    unknown = stack.api("GET", "/api/triage/nope/nothing")
    assert unknown.status_code == 404  # API Gateway's, or ours with a $default route

    doc = stack.api("GET", "/api/openapi.json")
    assert doc.status_code == 200
    spec = doc.json()
    assert spec["openapi"] == "3.1.0"
    assert len([op for ops in spec["paths"].values() for op in ops]) == 11


def test_cross_session_access_is_refused_on_every_endpoint(stack: Stack) -> None:
    data = jpeg(7)
    a = stack.init(2, [fspec("mine.jpg", data)])
    b = stack.init(1)
    stack.upload(a["uploads"][0], data)
    a_key = a["uploads"][0]["key"]
    forged = f"{a['sessionId']}.{'A' * 43}"

    for method, route, body in JOB_ROUTES:
        template = route.replace("{fileId}", a["uploads"][0]["fileId"])
        path = template.replace("{jobId}", a["jobId"])
        cross = stack.api(method, path, json=body, token=b["sessionToken"])
        ghost = stack.api(
            method, template.replace("{jobId}", "0" * 32), json=body, token=b["sessionToken"]
        )
        assert cross.status_code == 404, (method, template, cross.text)
        assert cross.json()["error"] == ghost.json()["error"]  # nothing leaks
        assert stack.api(method, path, json=body, token=forged).status_code == 403
        assert stack.api(method, path, json=body).status_code == 401

    job = stack.job_row(a["sessionId"], a["jobId"])
    assert job["status"] in {"pending", "processing"}
    assert job["expectedFileCount"] == 2
    assert stack.client("s3").head_object(Bucket=stack.bucket, Key=a_key)["ContentLength"] == len(
        data
    )
    # and A's own token still works
    assert results(stack, a).status_code == 200
    for init in (a, b):
        stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])


# ---------------------------------------------------------------------------- multipart


def _threshold(stack: Stack) -> int:
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.functions["init_session"]
    )
    env = config.get("Environment", {}).get("Variables", {})
    return int(env.get("MULTIPART_THRESHOLD_BYTES", 100 * 1024 * 1024))


@pytest.mark.slow
def test_multipart_upload_through_presigned_parts(stack: Stack) -> None:
    size = _threshold(stack) + 1
    head = jpeg(11)
    data = head + b"\0" * (size - len(head))
    init = stack.init(1, [fspec("long video.mp4", data, "video/mp4")])
    (target,) = init["uploads"]
    plan = target["multipart"]
    assert target["method"] == "PUT"
    assert "url" not in target  # the plan has no URLs: parts are presigned on demand
    assert plan["partCount"] >= 2
    parts = []
    for number in range(1, plan["partCount"] + 1):  # one part per call: the smallest batch
        answer = stack.api(
            "POST",
            f"/api/triage/{init['jobId']}/multipart/parts",
            json={
                "fileId": target["fileId"],
                "uploadId": plan["uploadId"],
                "partNumbers": [number],
            },
            token=init["sessionToken"],
        )
        assert answer.status_code == 200, answer.text
        (part,) = answer.json()["parts"]
        start = (number - 1) * plan["partSize"]
        assert part["size"] == len(data[start : start + plan["partSize"]])
        resp = requests.put(part["url"], data=data[start : start + part["size"]], timeout=300)
        assert resp.status_code == 200, resp.text
        parts.append({"partNumber": number, "etag": resp.headers["ETag"]})
    done = stack.api(
        "POST",
        f"/api/triage/{init['jobId']}/multipart/complete",
        json={"fileId": target["fileId"], "uploadId": plan["uploadId"], "parts": parts},
        token=init["sessionToken"],
    )
    assert done.status_code == 200, done.text
    head_obj = stack.client("s3").head_object(Bucket=stack.bucket, Key=target["key"])
    assert head_obj["ContentLength"] == size
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=180)
    assert job["processedCount"] == 1


def test_multipart_parts_refuse_other_uploads_and_numbers_past_the_plan(stack: Stack) -> None:
    size = _threshold(stack) + 1
    init = stack.init(2, [fspec("big.mov", b"", "video/quicktime") | {"size": size}])
    (big,) = init["uploads"]
    path, token = f"/api/triage/{init['jobId']}/multipart/parts", init["sessionToken"]
    req = {"fileId": big["fileId"], "uploadId": big["multipart"]["uploadId"]}
    count = big["multipart"]["partCount"]
    past = stack.api("POST", path, json={**req, "partNumbers": [count + 1]}, token=token)
    assert past.status_code == 400
    assert past.json()["error"]["details"][0]["field"] == "body.partNumbers.0"
    other = stack.api("POST", path, json={**req, "uploadId": "x", "partNumbers": [1]}, token=token)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "upload_id_mismatch"
    stack.api("DELETE", f"/api/triage/{init['jobId']}", token=token)


def test_a_retried_uploads_call_with_a_key_leaves_no_phantom_rows(stack: Stack) -> None:
    init = stack.init(3, [])
    path, token = f"/api/triage/{init['jobId']}/uploads", init["sessionToken"]
    body = {"files": [fspec("a.jpg", jpeg(20)), fspec("b.jpg", jpeg(21))]}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = stack.api("POST", path, json=body, token=token, headers=key)
    again = stack.api("POST", path, json=body, token=token, headers=key)
    assert first.status_code == again.status_code == 200, again.text
    ids = [u["fileId"] for u in first.json()["uploads"]]
    assert [u["fileId"] for u in again.json()["uploads"]] == ids
    assert sorted(r["fileId"] for r in stack.file_rows(init["jobId"])) == sorted(ids)
    assert stack.job_row(init["sessionId"], init["jobId"])["uploadTargetCount"] == 2
    stack.api("DELETE", f"/api/triage/{init['jobId']}", token=token)


def test_multipart_abort_and_lowered_count(stack: Stack) -> None:
    size = _threshold(stack) + 1
    data = jpeg(12)
    init = stack.init(
        2, [fspec("big.mov", b"", "video/quicktime") | {"size": size}, fspec("s.jpg", data)]
    )
    big, small = init["uploads"]
    aborted = stack.api(
        "POST",
        f"/api/triage/{init['jobId']}/multipart/abort",
        json={"fileId": big["fileId"], "uploadId": big["multipart"]["uploadId"]},
        token=init["sessionToken"],
    )
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["aborted"] is True
    uploads = stack.client("s3").list_multipart_uploads(
        Bucket=stack.bucket, Prefix=f"uploads/{init['sessionId']}/"
    )
    assert uploads.get("Uploads", []) == []
    patched = stack.api(
        "PATCH",
        f"/api/triage/{init['jobId']}",
        json={"expectedFileCount": 1},
        token=init["sessionToken"],
    )
    assert patched.status_code == 200
    stack.upload(small, data)
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=90)
    assert job["status"] == "complete"
    assert [f["fileId"] for f in results(stack, init).json()["files"]] == [small["fileId"]]


# ---------------------------------------------------------------------------- scale


def _timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, round(q * (len(values) - 1)))]


@pytest.mark.slow
def test_500_files_in_one_job(stack: Stack, record_property: Any) -> None:
    files = [fspec(f"IMG_{i:04}.jpg", b"0" * 1000) for i in range(500)]
    started = time.perf_counter()
    init = stack.init(500, files[:250])
    init_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    more = stack.api(
        "POST",
        f"/api/triage/{init['jobId']}/uploads",
        json={"files": files[250:]},
        token=init["sessionToken"],
    )
    uploads_ms = (time.perf_counter() - started) * 1000
    assert more.status_code == 200, more.text
    targets = init["uploads"] + more.json()["uploads"]
    assert len({t["key"] for t in targets}) == 500

    body = results(stack, init).json()
    assert len(body["files"]) == 500
    assert {f["status"] for f in body["files"]} == {"uploading"}

    s3 = stack.client("s3")
    for i, target in enumerate(targets):  # direct puts: every one an ObjectCreated event
        s3.put_object(Bucket=stack.bucket, Key=target["key"], Body=jpeg(i, (96, 64)))
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=600)
    assert job["processedCount"] == 500, job
    assert job["status"] == "complete", job

    full = results(stack, init)
    assert full.status_code == 200
    assert len(full.json()["files"]) == 500
    etag = full.headers["etag"]
    not_modified = results(stack, init, **{"If-None-Match": etag})
    api_ms = _timed(lambda: results(stack, init), 5)
    not_modified_ms = _timed(lambda: results(stack, init, **{"If-None-Match": etag}), 5)
    ddb = stack.client("dynamodb")
    query_ms = _timed(
        lambda: list(
            ddb.get_paginator("query").paginate(
                TableName=stack.files_table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"JOB#{init['jobId']}"}},
                ConsistentRead=True,
            )
        ),
        5,
    )
    numbers = {
        "init_250_ms": round(init_ms),
        "uploads_250_ms": round(uploads_ms),
        "results_p50_ms": round(statistics.median(api_ms)),
        "results_p95_ms": round(_pct(api_ms, 0.95)),
        "results_304_p50_ms": round(statistics.median(not_modified_ms)),
        "bare_query_p50_ms": round(statistics.median(query_ms)),
        "response_bytes": len(full.text),
    }
    for name, value in numbers.items():
        record_property(name, value)
    print(f"\n500-file job: {numbers}")  # reported, not asserted: timings are for benchmarks
    assert not_modified.status_code == 304
    stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])


# ---------------------------------------------------------------------------- ADR 0019


def _without_urls(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "files": [{**f, "thumbnailUrl": None} for f in body["files"]]}


def _unchanged(stack: Stack, init: dict[str, Any], etag: str, seen: dict[str, Any]) -> str:
    """A poll with nothing changed is a 304. The ETag also rotates with the thumbnail URLs'
    signing window: one 200 is allowed when the window turned, with the same content."""
    resp = results(stack, init, **{"If-None-Match": etag})
    if resp.status_code == 200:
        assert _without_urls(resp.json()) == _without_urls(seen), "a 200 that changed nothing"
        etag = resp.headers["etag"]
        resp = results(stack, init, **{"If-None-Match": etag})
    assert resp.status_code == 304, resp.text
    return etag


def _poll_until(
    stack: Stack, init: dict[str, Any], etag: str, done: Any, timeout: float = 120
) -> tuple[dict[str, Any], str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = results(stack, init, **{"If-None-Match": etag})
        if resp.status_code == 200:
            body, etag = resp.json(), resp.headers["etag"]
            if done(body):
                return body, etag
        time.sleep(0.3)
    raise AssertionError("the results never showed the change")


def test_a_poll_is_304_until_a_file_is_processed_or_a_verdict_flips(stack: Stack) -> None:
    """The ETag comes from the job row's version (ADR 0019): a poll is a 304 while nothing
    changed, and a 200 right after the counting transaction or a verdict write."""
    photos = [jpeg(300 + i) for i in range(2)]
    init = stack.init(2, [fspec(f"v{i}.jpg", d) for i, d in enumerate(photos)])
    first = results(stack, init)
    assert first.status_code == 200
    body, etag = first.json(), first.headers["etag"]
    etag = _unchanged(stack, init, etag, body)

    stack.upload(init["uploads"][0], photos[0])
    body, etag = _poll_until(stack, init, etag, lambda b: b["processedCount"] == 1)
    landed = {f["fileId"]: f["status"] for f in body["files"]}
    assert landed[init["uploads"][0]["fileId"]] in {"valid", "duplicate"}
    etag = _unchanged(stack, init, etag, body)

    stack.upload(init["uploads"][1], photos[1])
    body, etag = _poll_until(stack, init, etag, lambda b: b["status"] in {"complete", "failed"})
    assert body["status"] == "complete", body
    etag = _unchanged(stack, init, etag, body)

    # A verdict flipped through the adapter every verdict write goes through.
    files = DynamoFileRepository(
        stack.client("dynamodb"), stack.files_table, stack.sessions_table, 24
    )
    kept = (body["verdicts"]["keep"] + body["verdicts"]["discard"])[0]
    row = files.get_file(init["jobId"], kept["fileId"])
    assert row is not None
    assert row.verdict is not None
    other = VerdictKind.DISCARD if row.verdict is VerdictKind.KEEP else VerdictKind.KEEP
    files.write_verdicts([row.model_copy(update={"verdict": other, "reason": "flipped"})])
    flipped = results(stack, init, **{"If-None-Match": etag})
    assert flipped.status_code == 200
    moved = flipped.json()["verdicts"][other.value]
    assert [v["reason"] for v in moved if v["fileId"] == kept["fileId"]] == ["flipped"]
    _unchanged(stack, init, flipped.headers["etag"], flipped.json())
    stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])


def test_a_poll_with_the_cursor_gets_only_the_files_that_changed(stack: Stack) -> None:
    """ADR 0022 on the deployed stack: MediaProcess's writes are stamped, so a poll that sends
    the last cursor as ``?since=`` gets the processed file alone, and merging it into the copy
    gives the whole document."""
    photos = [jpeg(320 + i) for i in range(3)]
    init = stack.init(3, [fspec(f"d{i}.jpg", d) for i, d in enumerate(photos)])
    path = f"/api/triage/{init['jobId']}/results"
    first = results(stack, init)
    copy = first.json()
    assert copy["delta"] is False
    assert len(copy["files"]) == 3
    stack.upload(init["uploads"][1], photos[1])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        resp = stack.api(
            "GET",
            f"{path}?since={copy['cursor']}",
            token=init["sessionToken"],
            headers={"If-None-Match": first.headers["etag"]},
        )
        assert resp.status_code in {200, 304}, resp.text  # 304: MediaProcess not started yet
        delta = resp.json() if resp.status_code == 200 else {"processedCount": 0}
        if delta["processedCount"] == 1:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the file was never processed")
    assert delta["delta"] is True
    assert [f["fileId"] for f in delta["files"]] == [init["uploads"][1]["fileId"]]
    merged = {f["fileId"]: f for f in copy["files"]} | {f["fileId"]: f for f in delta["files"]}
    whole = results(stack, init).json()
    assert _without_urls({**whole, "files": [merged[k] for k in sorted(merged)]}) == _without_urls(
        whole
    )
    malformed = stack.api("GET", f"{path}?since=nope", token=init["sessionToken"])
    assert malformed.status_code == 400
    assert malformed.json()["error"]["details"][0]["field"] == "query.since"
    stack.api("DELETE", path.removesuffix("/results"), token=init["sessionToken"])
