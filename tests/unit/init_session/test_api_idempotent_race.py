"""Issue 13 item 5: a retried init (same Idempotency-Key) that runs while the first call is still
creating its multipart uploads. The interleaving is forced deterministically: the first call's
``create_multipart`` runs the whole replay, and MediaProcess's count of the replay's small
file, before it returns."""

from __future__ import annotations

from typing import Any

from support.api import MIB, Api, spec

from media_triage_shared.models import FileStatus

KEY = "0f6f1d0e-2b9a-4c55-9d2e-5b8f3f7c1a42"
FILES = [spec("small.jpg", 2000), spec("big.mp4", 300 * MIB, "video/mp4")]


def _complete(api: Api, body: dict[str, Any], target: dict[str, Any]) -> Any:
    plan = target["multipart"]
    numbers = range(1, plan["partCount"] + 1)
    parts = [{"partNumber": n, "etag": f"e{n}"} for n in numbers]
    return api.call(
        "POST",
        f"/api/triage/{body['jobId']}/multipart/complete",
        {"fileId": target["fileId"], "uploadId": plan["uploadId"], "parts": parts},
        token=body["sessionToken"],
    )


def test_a_replay_during_the_first_inits_multipart_creation_keeps_its_rows() -> None:
    api = Api()
    create = api.uploads.create_multipart
    replayed: dict[str, Any] = {}
    armed = [True]

    def first_call_is_slow(key: str, content_type: str) -> str:
        upload_id = create(key, content_type)
        if armed.pop() if armed else False:  # once: the replay creates its own upload too
            replayed.update(api.init(2, FILES, headers={"Idempotency-Key": KEY}))
            small = replayed["uploads"][0]
            # The replay's client uploads the small file; MediaProcess finalizes and counts it.
            api.land(replayed["sessionId"], replayed["jobId"], small["fileId"])
        return upload_id

    api.uploads.create_multipart = first_call_is_slow  # type: ignore[method-assign]
    first = api.init(2, FILES, headers={"Idempotency-Key": KEY})

    assert first["jobId"] == replayed["jobId"]
    # Both responses name the same multipart upload: the one whose row was written first.
    replay_upload = replayed["uploads"][1]["multipart"]["uploadId"]
    assert first["uploads"][1]["multipart"]["uploadId"] == replay_upload
    row = api.files.get_file(first["jobId"], first["uploads"][1]["fileId"])
    assert row is not None
    assert row.upload_id == replay_upload
    # The first call's own upload was aborted, not leaked.
    assert list(api.uploads.uploads) == [replay_upload]
    assert len(api.uploads.aborted) == 1
    # The replay's client completes its upload: no upload_id_mismatch.
    done = _complete(api, replayed, replayed["uploads"][1])
    assert done.status_code == 200, done.text
    # The small file stays final and counted: the first call never put it back to uploading.
    small = api.files.get_file(first["jobId"], first["uploads"][0]["fileId"])
    assert small is not None
    assert small.status is FileStatus.VALID
    assert small.counted
    results = api.call(
        "GET", f"/api/triage/{first['jobId']}/results", token=first["sessionToken"]
    ).json()
    assert results["processedCount"] == 1
    assert sorted(f["status"] for f in results["files"]) == ["uploading", "valid"]
    assert list(api.executions.started) == [first["jobId"]]


def test_the_first_call_writing_first_is_adopted_by_a_later_replay() -> None:
    api = Api()
    first = api.init(2, FILES, headers={"Idempotency-Key": KEY})
    api.land(first["sessionId"], first["jobId"], first["uploads"][0]["fileId"])
    again = api.init(2, FILES, headers={"Idempotency-Key": KEY})
    assert [u["fileId"] for u in again["uploads"]] == [u["fileId"] for u in first["uploads"]]
    assert (
        again["uploads"][1]["multipart"]["uploadId"] == first["uploads"][1]["multipart"]["uploadId"]
    )
    assert api.uploads.counter == 1  # the replay created no multipart upload
    small = api.files.get_file(first["jobId"], first["uploads"][0]["fileId"])
    assert small is not None
    assert small.status is FileStatus.VALID
