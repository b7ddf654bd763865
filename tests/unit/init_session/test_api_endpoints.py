"""Every endpoint of SPEC section 3 through the HTTP layer, with in-memory fakes."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import replace
from datetime import timedelta

import pytest
from support.api import MIB, SECRET, T0, Api, spec
from support.fakes import RecordingWaker

from init_session import results, tokens, uploads
from media_triage_shared import keys
from media_triage_shared.models import FileStatus, JobStatus, VerdictKind, VerdictSummary, iso


@pytest.fixture
def api() -> Api:
    return Api()


def _policy(fields: dict[str, str]) -> dict[str, object]:
    return dict(json.loads(base64.b64decode(fields["policy"])))


# ---------------------------------------------------------------------------- init


def test_init_creates_job_rows_targets_and_one_execution_named_after_the_job(api: Api) -> None:
    body = api.init(2, [spec("../../etc/pass\x00wd.jpg", 1234), spec("b.heic", 99, "")])
    session_id, job_id, token = body["sessionId"], body["jobId"], body["sessionToken"]

    job = api.jobs.get_job(session_id, job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.expected_file_count == 2
    assert job.token_hash == tokens.hash_token(SECRET, token)
    assert token not in job.model_dump_json()
    assert job.stall_deadline == iso(T0 + timedelta(seconds=600))
    assert list(api.executions.started) == [job_id]
    assert api.executions.started[job_id].session_id == session_id
    assert job.execution_arn == api.executions.arn(job_id)

    first, second = body["uploads"]
    assert first["method"] == "POST"
    assert first["filename"] == "../../etc/pass\x00wd.jpg"
    assert first["key"] == f"uploads/{session_id}/{job_id}/{first['fileId']}/passwd.jpg"
    conditions = _policy(first["fields"])["conditions"]
    assert {"key": first["key"]} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1234, 1234] in conditions
    assert second["fields"]["Content-Type"] == "application/octet-stream"  # "" -> default

    rows = {r.file_id: r for r in api.files.list_files(job_id)}
    assert rows[first["fileId"]].status is FileStatus.UPLOADING
    assert rows[first["fileId"]].filename == "../../etc/pass\x00wd.jpg"  # original kept
    assert rows[second["fileId"]].original_key == second["key"]


def test_token_is_256_random_bits_bound_to_the_session(api: Api) -> None:
    a, b = api.init(), api.init()
    for body in (a, b):
        session_id, secret = body["sessionToken"].split(".")
        assert session_id == body["sessionId"]
        assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert a["sessionToken"].split(".")[1] != b["sessionToken"].split(".")[1]


def test_init_without_files_and_expires_at(api: Api) -> None:
    body = api.init(3)
    assert body["uploads"] == []
    assert body["expiresAt"] == iso(T0 + timedelta(hours=24))


def test_large_files_get_a_multipart_plan_without_urls(api: Api) -> None:
    size = 5 * 1024 * MIB
    body = api.init(2, [spec("big.mov", size, "video/quicktime"), spec("edge.jpg", 100 * MIB)])
    big, edge = body["uploads"]
    assert edge["method"] == "POST"  # exactly at the threshold: one POST
    assert big["method"] == "PUT"
    assert "fields" not in big
    assert "url" not in big  # no URL at all: parts are presigned on demand
    plan = big["multipart"]
    assert set(plan) == {"uploadId", "partSize", "partCount"}
    assert plan["partCount"] == math.ceil(size / plan["partSize"])
    assert plan["partCount"] <= 10_000
    assert plan["partSize"] >= 5 * MIB
    assert api.uploads.uploads[plan["uploadId"]]["key"] == big["key"]
    row = api.files.get_file(body["jobId"], big["fileId"])
    assert row is not None
    assert row.upload_id == plan["uploadId"]
    assert big["expiresAt"] == iso(T0 + timedelta(hours=24))  # the plan lasts as the row does


@pytest.mark.parametrize(
    ("size", "parts_at_most"),
    [(100 * MIB + 1, 7), (5 * 1024**3, 100), (200 * 1024**3, 100), (5 * 1024**4, 1024)],
)
def test_part_size_keeps_parts_within_limits(size: int, parts_at_most: int) -> None:
    """At most 100 parts per file up to 5 GiB (one /multipart/parts call presigns them all),
    never more than S3's 10,000 parts, each part 5 MiB..5 GiB."""
    part = uploads.part_size_for(size, 16 * MIB)
    assert 5 * MIB <= part <= 5 * 1024**3
    assert part % MIB == 0
    assert math.ceil(size / part) <= parts_at_most


def test_file_over_the_size_limit_names_the_field(api: Api) -> None:
    resp = api.call(
        "POST",
        "/api/triage/init",
        {"expectedFileCount": 2, "files": [spec(), spec(size=5 * 1024 * MIB + 1)]},
    )
    assert resp.status_code == 400
    assert resp.error["details"][0]["field"] == "body.files.1.size"
    assert api.executions.started == {}


# ---------------------------------------------------------------------------- idempotent init


KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


def test_retried_init_with_the_same_key_returns_the_same_job_and_starts_nothing_new(
    api: Api,
) -> None:
    files = [spec("a.jpg"), spec("v.mp4", 300 * MIB, "video/mp4")]
    first = api.init(2, files, headers={"Idempotency-Key": KEY})
    api.tick(5)
    again = api.init(2, files, headers={"Idempotency-Key": f'"{KEY}"'})  # RFC-draft quoting

    for field in ("sessionId", "jobId", "sessionToken", "expiresAt"):
        assert again[field] == first[field]
    assert [(u["fileId"], u["key"]) for u in again["uploads"]] == [
        (u["fileId"], u["key"]) for u in first["uploads"]
    ]
    assert (
        again["uploads"][1]["multipart"]["uploadId"] == first["uploads"][1]["multipart"]["uploadId"]
    )
    assert list(api.executions.started) == [first["jobId"]]
    assert len(api.jobs.jobs) == 1
    assert len(api.files.rows) == 2
    assert len(api.uploads.uploads) == 1  # no second multipart upload
    # the replayed token works
    assert (
        api.call(
            "GET", f"/api/triage/{first['jobId']}/results", token=again["sessionToken"]
        ).status_code
        == 200
    )
    # the store never holds the key or the token
    (record,) = api.idempotency.records.values()
    assert KEY not in record.model_dump_json()
    assert first["sessionToken"] not in str(record)


def test_same_key_with_another_body_is_a_conflict(api: Api) -> None:
    api.init(1, headers={"Idempotency-Key": KEY})
    resp = api.call(
        "POST", "/api/triage/init", {"expectedFileCount": 2}, headers={"Idempotency-Key": KEY}
    )
    assert resp.status_code == 409
    assert resp.error["code"] == "idempotency_key_reused"
    assert len(api.executions.started) == 1


def test_init_that_died_half_way_is_finished_by_its_retry(api: Api) -> None:
    api.executions.fail_next = 1  # the first call dies before the execution starts
    resp = api.call(
        "POST",
        "/api/triage/init",
        {"expectedFileCount": 1, "files": [spec()]},
        headers={"Idempotency-Key": KEY},
    )
    assert resp.status_code == 500
    assert resp.error["code"] == "internal_error"
    assert api.executions.started == {}
    body = api.init(1, [spec()], headers={"Idempotency-Key": KEY})
    assert list(api.executions.started) == [body["jobId"]]
    assert len(api.files.rows) == 1  # the first call's row, reused


def test_expired_idempotency_record_starts_a_new_session(api: Api) -> None:
    first = api.init(1, headers={"Idempotency-Key": KEY})
    api.tick(25 * 3600)
    second = api.init(1, headers={"Idempotency-Key": KEY})
    assert second["jobId"] != first["jobId"]


@pytest.mark.parametrize(
    "key", ["short", "x" * 256, "has space in the middle!", "ünïcode-key-123456"]
)
def test_malformed_idempotency_key_is_rejected_by_name(api: Api, key: str) -> None:
    resp = api.call(
        "POST", "/api/triage/init", {"expectedFileCount": 1}, headers={"Idempotency-Key": key}
    )
    assert resp.status_code == 400
    assert resp.error["details"][0]["field"] == "header.idempotency-key"


# ---------------------------------------------------------------------------- uploads


def test_more_upload_targets_push_the_stall_deadline_and_stay_in_the_prefix(api: Api) -> None:
    body = api.init(3, [spec()])
    job_id, token = body["jobId"], body["sessionToken"]
    api.tick(120)
    resp = api.call(
        "POST",
        f"/api/triage/{job_id}/uploads",
        {"files": [spec("../x/../../y.png", 5, "image/png"), spec("z.jpg")]},
        token=token,
    )
    assert resp.status_code == 200, resp.text
    uploads = resp.json()["uploads"]
    prefix = keys.upload_prefix(body["sessionId"], job_id)
    assert all(u["key"].startswith(prefix) and u["key"].count("/") == 4 for u in uploads)
    assert uploads[0]["key"].endswith("/y.png")
    job = api.jobs.get_job(body["sessionId"], job_id)
    assert job is not None
    assert job.stall_deadline == iso(T0 + timedelta(seconds=720))
    assert job.upload_target_count == 3
    assert len(api.files.list_files(job_id)) == 3


def test_upload_targets_are_capped_per_job(api: Api) -> None:
    api.with_config(max_targets_per_job=3)
    body = api.init(2, [spec(), spec()])
    path, token = f"/api/triage/{body['jobId']}/uploads", body["sessionToken"]
    assert api.call("POST", path, {"files": [spec()]}, token=token).status_code == 200
    resp = api.call("POST", path, {"files": [spec()]}, token=token)
    assert resp.status_code == 409
    assert resp.error["code"] == "too_many_uploads"


def test_a_patch_that_makes_the_job_ready_wakes_the_state_machine(api: Api) -> None:
    waker = RecordingWaker()
    api.svc = replace(api.svc, waker=waker)
    body = api.init(3, [spec(), spec(), spec()])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    api.land(sid, jid, body["uploads"][0]["fileId"])
    api.land(sid, jid, body["uploads"][1]["fileId"])

    still_waiting = api.call("PATCH", f"/api/triage/{jid}", {"expectedFileCount": 3}, token=token)
    assert still_waiting.status_code == 200
    assert waker.calls == []  # 2 of 3: nothing to wake (a keep-alive PATCH)
    ready = api.call("PATCH", f"/api/triage/{jid}", {"expectedFileCount": 2}, token=token)
    assert ready.status_code == 200
    assert waker.calls == [(sid, jid)]


@pytest.mark.parametrize(
    "status", [JobStatus.ANALYZING, JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED]
)
def test_no_uploads_once_the_job_moved_on(api: Api, status: JobStatus) -> None:
    body = api.init(1)
    api.set_job(body["sessionId"], body["jobId"], status)
    resp = api.call(
        "POST",
        f"/api/triage/{body['jobId']}/uploads",
        {"files": [spec()]},
        token=body["sessionToken"],
    )
    assert resp.status_code == 409
    assert resp.error["code"] == "job_not_active"


# ---------------------------------------------------------------------------- multipart


def _multipart_job(api: Api) -> tuple[dict[str, object], dict[str, object]]:
    api.with_config(multipart_threshold_bytes=10 * MIB, multipart_part_bytes=16 * MIB)
    body = api.init(1, [spec("big.mp4", 40 * MIB, "video/mp4")])
    (target,) = body["uploads"]
    return body, target


def test_multipart_complete_lists_every_part(api: Api) -> None:
    body, target = _multipart_job(api)
    plan = target["multipart"]
    assert isinstance(plan, dict)
    assert plan["partCount"] == 3
    path, token = f"/api/triage/{body['jobId']}/multipart/complete", str(body["sessionToken"])
    req = {"fileId": target["fileId"], "uploadId": plan["uploadId"]}

    missing = api.call(
        "POST", path, {**req, "parts": [{"partNumber": 1, "etag": "a"}]}, token=token
    )
    assert missing.status_code == 400
    assert missing.error["details"][0]["field"] == "body.parts"

    parts = [{"partNumber": n, "etag": f'"e{n}"'} for n in (3, 1, 2)]
    done = api.call("POST", path, {**req, "parts": parts}, token=token)
    assert done.status_code == 200, done.text
    assert done.json() == {"fileId": target["fileId"], "key": target["key"]}
    assert api.store.head(str(target["key"])) is not None
    # a retried complete (response lost) is the same success
    assert api.call("POST", path, {**req, "parts": parts}, token=token).status_code == 200


def test_multipart_wrong_upload_id_or_file(api: Api) -> None:
    body, target = _multipart_job(api)
    path, token = f"/api/triage/{body['jobId']}/multipart/complete", str(body["sessionToken"])
    parts = [{"partNumber": n, "etag": "e"} for n in (1, 2, 3)]
    wrong = api.call(
        "POST", path, {"fileId": target["fileId"], "uploadId": "nope", "parts": parts}, token=token
    )
    assert wrong.status_code == 409
    assert wrong.error["code"] == "upload_id_mismatch"
    unknown = api.call(
        "POST", path, {"fileId": "f" * 32, "uploadId": "nope", "parts": parts}, token=token
    )
    assert unknown.status_code == 404


def test_multipart_abort_drops_the_upload_and_the_row(api: Api) -> None:
    body, target = _multipart_job(api)
    plan = target["multipart"]
    assert isinstance(plan, dict)
    path, token = f"/api/triage/{body['jobId']}/multipart/abort", str(body["sessionToken"])
    resp = api.call(
        "POST", path, {"fileId": target["fileId"], "uploadId": plan["uploadId"]}, token=token
    )
    assert resp.status_code == 200
    assert resp.json()["aborted"] is True
    assert api.uploads.aborted == [plan["uploadId"]]
    assert api.files.list_files(str(body["jobId"])) == []


# ---------------------------------------------------------------------------- PATCH


def test_patch_changes_expected_count_even_below_processed(api: Api) -> None:
    body = api.init(3, [spec(), spec(), spec()])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    api.land(sid, jid, body["uploads"][0]["fileId"])
    api.land(sid, jid, body["uploads"][1]["fileId"])
    api.jobs.mark_processing(sid, jid, iso(T0))
    api.tick(60)
    resp = api.call("PATCH", f"/api/triage/{jid}", {"expectedFileCount": 1}, token=token)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "jobId": jid,
        "sessionId": sid,
        "status": "processing",
        "phase": "processing_files",
        "expectedFileCount": 1,
        "processedCount": 2,
    }
    job = api.jobs.get_job(sid, jid)
    assert job is not None
    assert job.stall_deadline == iso(T0 + timedelta(seconds=660))


@pytest.mark.parametrize(
    "status", [JobStatus.ANALYZING, JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED]
)
def test_patch_conflicts_once_past_processing(api: Api, status: JobStatus) -> None:
    body = api.init(2)
    api.set_job(body["sessionId"], body["jobId"], status)
    resp = api.call(
        "PATCH",
        f"/api/triage/{body['jobId']}",
        {"expectedFileCount": 1},
        token=body["sessionToken"],
    )
    assert resp.status_code == 409
    assert resp.error["code"] == "job_not_active"


# ---------------------------------------------------------------------------- results


def test_results_show_uploading_processed_thumbnails_and_verdicts(api: Api) -> None:
    body = api.init(3, [spec("a.jpg"), spec("b.jpg"), spec("c.jpg")])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    a, b, c = (u["fileId"] for u in body["uploads"])
    path = f"/api/triage/{jid}/results"

    first = api.call("GET", path, token=token)
    assert first.status_code == 200
    assert {f["status"] for f in first.json()["files"]} == {"uploading"}
    assert "verdicts" not in first.json()

    api.land(sid, jid, a, verdict=VerdictKind.KEEP)
    api.land(sid, jid, b, FileStatus.INVALID, verdict=VerdictKind.DISCARD)
    mid = api.call("GET", path, token=token).json()
    by_id = {f["fileId"]: f for f in mid["files"]}
    assert by_id[a]["status"] == "valid"
    assert by_id[a]["width"] == 400
    assert by_id[a]["thumbnailUrl"].startswith("https://")
    assert "X-Amz-Expires=900" in by_id[a]["thumbnailUrl"]
    assert by_id[c]["status"] == "uploading"
    assert "thumbnailUrl" not in by_id[c]
    assert mid["processedCount"] == 2

    assert "analyzer" not in mid
    judged = VerdictSummary(
        keep=1, discard=1, analyzer="gemini", model="gemini-2.5-flash", duration_ms=5
    )
    api.set_job(sid, jid, JobStatus.COMPLETE, partial=True, summary=judged)
    done = api.call("GET", path, token=token).json()
    assert done["status"] == "complete"
    assert done["partial"] is True
    assert (done["analyzer"], done["model"]) == ("gemini", "gemini-2.5-flash")
    assert [v["fileId"] for v in done["verdicts"]["keep"]] == [a]
    assert [v["fileId"] for v in done["verdicts"]["discard"]] == [b]
    assert done["verdicts"]["keep"][0] == {
        "fileId": a,
        "filename": "a.jpg",
        "verdict": "keep",
        "reason": "r",
        "score": 70,
        "issues": [],
    }
    never = {f["fileId"]: f for f in done["files"]}[c]
    assert never["status"] == "invalid"
    assert never["error"]["code"] == "not_uploaded"


def test_results_never_presign_outside_the_jobs_derived_prefix(api: Api) -> None:
    body = api.init(1, [spec()])
    sid, jid = body["sessionId"], body["jobId"]
    fid = body["uploads"][0]["fileId"]
    row = api.land(sid, jid, fid)
    api.files.rows[(jid, fid)] = row.model_copy(
        update={"thumbnail_key": "derived/other-session/other-job/x/thumb.jpg"}
    )
    files = api.call("GET", f"/api/triage/{jid}/results", token=body["sessionToken"]).json()
    assert "thumbnailUrl" not in files["files"][0]


def test_etag_and_if_none_match(api: Api) -> None:
    body = api.init(2, [spec(), spec()])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    path = f"/api/triage/{jid}/results"
    api.land(sid, jid, body["uploads"][0]["fileId"])

    first = api.call("GET", path, token=token)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "private, no-cache"
    presigned = api.store.presigned

    same = api.call("GET", path, token=token, headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.text == ""
    assert same.headers["etag"] == etag
    assert same.headers["x-request-id"] == "req-123"
    assert api.store.presigned == presigned  # a 304 presigns nothing
    listed = api.call("GET", path, token=token, headers={"If-None-Match": f'"x", {etag}'})
    assert listed.status_code == 304
    assert api.call("GET", path, token=token, headers={"If-None-Match": "*"}).status_code == 304

    api.land(sid, jid, body["uploads"][1]["fileId"])  # something changed
    changed = api.call("GET", path, token=token, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag

    # before the thumbnail URLs expire (900 s), the ETag moves on so the page gets fresh ones
    etag2 = changed.headers["etag"]
    api.tick(300)
    assert api.call("GET", path, token=token, headers={"If-None-Match": etag2}).status_code == 200


def test_results_of_500_files_is_one_query(api: Api) -> None:
    body = api.init(500, [spec(f"IMG_{i:04}.jpg") for i in range(500)])
    sid, jid = body["sessionId"], body["jobId"]
    for target in body["uploads"][:400]:
        api.land(sid, jid, target["fileId"])
    calls = 0
    original = api.files.list_files

    def counting(job_id: str, since: int | None = None) -> list[object]:
        nonlocal calls
        calls += 1
        return original(job_id, since)  # type: ignore[return-value]

    api.files.list_files = counting  # type: ignore[method-assign]
    resp = api.call("GET", f"/api/triage/{jid}/results", token=body["sessionToken"])
    assert resp.status_code == 200
    assert len(resp.json()["files"]) == 500
    assert calls == 1
    assert api.store.presigned == 400


def test_a_poll_with_the_cursor_gets_only_what_changed(api: Api) -> None:
    """ADR 0022 through the route: ``?since=`` with the last cursor answers the changed files,
    presigning only theirs; the ETag still answers 304 first."""
    body = api.init(500, [spec(f"IMG_{i:04}.jpg") for i in range(500)])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    ids = [t["fileId"] for t in body["uploads"]]
    for file_id in ids[:400]:
        api.land(sid, jid, file_id)
    path = f"/api/triage/{jid}/results"
    first = api.call("GET", path, token=token)
    copy = first.json()
    assert (copy["delta"], len(copy["files"])) == (False, 500)
    cursor, etag = copy["cursor"], first.headers["etag"]
    unchanged = api.call(
        "GET", f"{path}?since={cursor}", token=token, headers={"If-None-Match": etag}
    )
    assert unchanged.status_code == 304

    api.land(sid, jid, ids[400])
    api.land(sid, jid, ids[401])
    presigned = api.store.presigned
    delta = api.call("GET", f"{path}?since={cursor}", token=token, headers={"If-None-Match": etag})
    changed = delta.json()
    assert (delta.status_code, changed["delta"]) == (200, True)
    assert sorted(f["fileId"] for f in changed["files"]) == sorted(ids[400:402])
    assert changed["processedCount"] == 402
    assert changed["cursor"] != cursor
    assert api.store.presigned - presigned == 2  # only the changed files' thumbnails
    whole = api.call("GET", path, token=token).json()
    merged = {f["fileId"]: f for f in copy["files"]} | {f["fileId"]: f for f in changed["files"]}

    def unsigned(files: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in f.items() if k != "thumbnailUrl"} for f in files]

    assert unsigned([merged[k] for k in sorted(merged)]) == unsigned(whole["files"])


@pytest.mark.parametrize("since", ["", "x", "1", "1.2.3", "-1.0", "1.2,3.4", "9" * 20 + ".0"])
def test_a_malformed_cursor_is_a_400_naming_the_parameter(api: Api, since: str) -> None:
    body = api.init(1, [spec()])
    resp = api.call(
        "GET", f"/api/triage/{body['jobId']}/results?since={since}", token=body["sessionToken"]
    )
    if since == "":  # an empty parameter is no cursor
        assert resp.status_code == 200
        assert resp.json()["delta"] is False
        return
    assert resp.status_code == 400
    assert resp.error["code"] == "invalid_request"
    assert resp.error["details"][0]["field"] == "query.since"


def test_unknown_query_parameters_are_ignored(api: Api) -> None:
    body = api.init(1, [spec()])
    resp = api.call("GET", f"/api/triage/{body['jobId']}/results?x=1", token=body["sessionToken"])
    assert resp.status_code == 200


# ---------------------------------------------------------------------------- retry


def test_retry_only_after_failed_and_names_executions_from_a_counter(api: Api) -> None:
    body = api.init(1, [spec()])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    path = f"/api/triage/{jid}/retry"
    refused = api.call("POST", path, token=token)
    assert refused.status_code == 409
    assert refused.error["code"] == "job_not_failed"

    api.land(sid, jid, body["uploads"][0]["fileId"])
    api.set_job(sid, jid, JobStatus.FAILED, error="TriageRun: boom")
    first = api.call("POST", path, token=token)
    assert first.status_code == 202, first.text
    assert first.json()["executionName"] == f"{jid}-r1"
    assert first.json()["status"] == "processing"
    job = api.jobs.get_job(sid, jid)
    assert job is not None
    assert job.error is None
    assert job.stall_deadline == iso(T0)
    assert job.execution_arn == api.executions.arn(f"{jid}-r1")
    assert api.call("POST", path, token=token).status_code == 409  # running again

    api.set_job(sid, jid, JobStatus.FAILED, error="again")
    assert api.call("POST", path, token=token).json()["executionName"] == f"{jid}-r2"
    assert list(api.executions.started) == [jid, f"{jid}-r1", f"{jid}-r2"]


def test_retry_with_no_file_waits_for_uploads_again(api: Api) -> None:
    body = api.init(1, [spec()])
    sid, jid = body["sessionId"], body["jobId"]
    api.set_job(sid, jid, JobStatus.FAILED, error="stalled: no file arrived")
    resp = api.call("POST", f"/api/triage/{jid}/retry", token=body["sessionToken"])
    assert resp.status_code == 202
    assert resp.json()["status"] == "pending"
    job = api.jobs.get_job(sid, jid)
    assert job is not None
    assert job.stall_deadline == iso(T0 + timedelta(seconds=600))


def test_retry_that_cannot_start_leaves_the_job_failed(api: Api) -> None:
    body = api.init(1)
    sid, jid = body["sessionId"], body["jobId"]
    api.set_job(sid, jid, JobStatus.FAILED, error="x")
    api.executions.fail_next = 1
    resp = api.call("POST", f"/api/triage/{jid}/retry", token=body["sessionToken"])
    assert resp.status_code == 500
    job = api.jobs.get_job(sid, jid)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert api.call("POST", f"/api/triage/{jid}/retry", token=body["sessionToken"]).status_code == (
        202
    )


# ---------------------------------------------------------------------------- cancel


def test_cancel_stops_deletes_everything_past_1000_keys_and_aborts_multipart(api: Api) -> None:
    api.with_config(multipart_threshold_bytes=10 * MIB)
    body = api.init(2, [spec(), spec("big.mov", 50 * MIB, "video/quicktime")])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    for i in range(1500):
        api.store.put_bytes(keys.upload_key(sid, jid, f"f{i}", "x.jpg"), b"1", "image/jpeg")
        api.store.put_bytes(keys.derived_key(sid, jid, f"f{i}", "thumb.jpg"), b"1", "image/jpeg")
    other = api.init(1)
    other_key = keys.upload_key(other["sessionId"], other["jobId"], "f", "x.jpg")
    api.store.put_bytes(other_key, b"1", "image/jpeg")

    resp = api.call("DELETE", f"/api/triage/{jid}", token=token)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["status"] == "cancelled"
    assert out["deletedObjects"] == 3000
    assert out["abortedUploads"] == 1
    assert api.executions.stopped == [jid]
    assert list(api.store.list_keys(f"uploads/{sid}/")) == []
    assert list(api.store.list_keys(f"derived/{sid}/")) == []
    assert api.store.head(other_key) is not None  # another job is untouched

    again = api.call("DELETE", f"/api/triage/{jid}", token=token)
    assert again.status_code == 200
    assert again.json()["deletedObjects"] == 0
    assert api.executions.stopped == [jid]
    results = api.call("GET", f"/api/triage/{jid}/results", token=token).json()
    assert results["status"] == "cancelled"


def test_cancel_of_a_finished_job_deletes_media_without_stopping_anything(api: Api) -> None:
    body = api.init(1, [spec()])
    sid, jid = body["sessionId"], body["jobId"]
    api.land(sid, jid, body["uploads"][0]["fileId"], verdict=VerdictKind.KEEP)
    api.set_job(sid, jid, JobStatus.COMPLETE)
    resp = api.call("DELETE", f"/api/triage/{jid}", token=body["sessionToken"])
    assert resp.status_code == 200
    assert resp.json()["deletedObjects"] == 1
    assert api.executions.stopped == []
    results = api.call("GET", f"/api/triage/{jid}/results", token=body["sessionToken"]).json()
    assert "thumbnailUrl" not in results["files"][0]
    assert "verdicts" not in results


@pytest.mark.parametrize(
    ("cause", "shown"),
    [
        (
            json.dumps(
                {
                    "errorMessage": "Gemini unavailable after 3 attempts: 503",
                    "errorType": "AnalyzerUnavailable",
                    "requestId": "r-1",
                    "stackTrace": ['  File "/var/task/triage_run/core.py", line 210'],
                }
            ),
            "AnalyzerUnavailable: Gemini unavailable after 3 attempts: 503",
        ),
        ("stalled: no file arrived", "stalled: no file arrived"),
        ("x" * 1000, "x" * 297 + "..."),
    ],
)
def test_a_failed_jobs_error_is_readable_and_never_a_stack_trace(
    api: Api, cause: str, shown: str
) -> None:
    body = api.init(1)
    api.set_job(body["sessionId"], body["jobId"], JobStatus.FAILED, error=cause)
    resp = api.call("GET", f"/api/triage/{body['jobId']}/results", token=body["sessionToken"])
    assert resp.status_code == 200
    assert resp.json()["error"] == shown
    job = api.jobs.get_job(body["sessionId"], body["jobId"])
    assert job is not None
    assert job.error == cause  # operators keep the whole cause


# ---------------------------------------------------------------------------- orphaned jobs


def _stalled_long_ago(api: Api) -> tuple[str, str, str]:
    """A job in processing whose stall deadline (init + 600 s) is well past the grace."""
    body = api.init(2, [spec("a.jpg"), spec("b.jpg")])
    api.set_job(body["sessionId"], body["jobId"], JobStatus.PROCESSING)
    api.tick(600 + results.ORPHAN_GRACE_SECONDS + 1)
    return body["sessionId"], body["jobId"], body["sessionToken"]


def test_a_job_whose_workflow_ended_is_failed_by_the_next_poll_and_can_be_retried(
    api: Api,
) -> None:
    sid, jid, token = _stalled_long_ago(api)
    api.executions.ended[jid] = "TIMED_OUT"  # the execution-timeout backstop hit

    body = api.call("GET", f"/api/triage/{jid}/results", token=token).json()

    assert body["status"] == "failed"
    assert "TIMED_OUT" in body["error"]
    job = api.jobs.get_job(sid, jid)
    assert job is not None
    assert job.status is JobStatus.FAILED
    retry = api.call("POST", f"/api/triage/{jid}/retry", token=token)
    assert retry.status_code == 202, retry.text


def test_a_running_workflow_past_its_stall_deadline_is_left_alone(api: Api) -> None:
    _sid, jid, token = _stalled_long_ago(api)
    body = api.call("GET", f"/api/triage/{jid}/results", token=token).json()
    assert body["status"] == "processing"
    assert api.executions.status_calls == 1


def test_before_the_stall_deadline_no_execution_is_described(api: Api) -> None:
    body = api.init(1, [spec()])
    api.tick(600)  # at the deadline, not past it plus the grace
    api.call("GET", f"/api/triage/{body['jobId']}/results", token=body["sessionToken"])
    assert api.executions.status_calls == 0


def test_a_job_completing_while_its_ended_workflow_is_checked_stays_complete(api: Api) -> None:
    sid, jid, token = _stalled_long_ago(api)
    api.executions.ended[jid] = "SUCCEEDED"
    api.executions.on_status = lambda: api.set_job(sid, jid, JobStatus.COMPLETE)

    body = api.call("GET", f"/api/triage/{jid}/results", token=token).json()

    assert body["status"] == "complete"
