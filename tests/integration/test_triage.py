"""TriageRun on the deployed local stack with the local analyzer: a generated batch (good,
dark, blurry, overexposed, duplicate photos) goes API -> S3 -> MediaProcess -> poll ->
TriageRun and ends with exactly one verdict per valid file, the right issues, good ones kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import triage_images as ti
from support.stack import Stack

pytestmark = pytest.mark.integration


def _batch() -> dict[str, bytes]:
    good_a, good_b = ti.scene(101), ti.scene(102)
    good_a_bytes = ti.jpeg(good_a)
    return {
        "beach.jpg": good_a_bytes,
        "forest.jpg": ti.jpeg(good_b),
        "night.jpg": ti.jpeg(ti.dark(ti.scene(103))),
        "shaky.jpg": ti.jpeg(ti.blurry(ti.scene(104))),
        "sun glare.jpg": ti.jpeg(ti.overexposed(ti.scene(105))),
        "beach (copy).jpg": good_a_bytes,  # byte-identical
        "forest burst.jpg": ti.jpeg(ti.slightly_soft(good_b), quality=80),  # a softer twin
        "broken.jpg": b"\xff\xd8\xff\xe0 not really a jpeg " * 20,
    }


def _run(stack: Stack, batch: dict[str, bytes]) -> tuple[dict[str, Any], dict[str, Any]]:
    specs = [{"filename": n, "contentType": "image/jpeg", "size": len(b)} for n, b in batch.items()]
    init = stack.init(len(batch), specs)
    for target in init["uploads"]:
        stack.upload(target, batch[target["filename"]])
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=180)
    return init, job


def test_a_generated_batch_gets_one_right_verdict_per_valid_file(stack: Stack) -> None:
    batch = _batch()
    init, job = _run(stack, batch)
    assert job["status"] == "complete", job
    assert job["summary"]["analyzer"] == "local"

    rows = {r["filename"]: r for r in stack.file_rows(init["jobId"])}
    assert set(rows) == set(batch)
    judged = {n: r for n, r in rows.items() if r["status"] in {"valid", "duplicate"}}
    assert set(judged) == set(batch) - {"broken.jpg"}
    assert rows["broken.jpg"]["status"] == "invalid"
    assert "verdict" not in rows["broken.jpg"]
    for name, r in judged.items():
        assert r["verdict"] in {"keep", "discard"}, name
        assert r["reason"], name
        assert 0 <= r["score"] <= 100, name

    def issues(name: str) -> list[str]:
        return list(rows[name].get("issues") or [])

    assert rows["forest.jpg"]["verdict"] == "keep"
    assert issues("forest.jpg") == []
    assert rows["night.jpg"]["verdict"] == "discard"
    assert "dark" in issues("night.jpg")
    assert rows["shaky.jpg"]["verdict"] == "discard"
    assert "blurry" in issues("shaky.jpg")
    assert rows["sun glare.jpg"]["verdict"] == "discard"
    assert "overexposed" in issues("sun glare.jpg")
    assert rows["forest burst.jpg"]["verdict"] == "discard"
    assert "duplicate" in issues("forest burst.jpg")
    # of the two identical files exactly one is kept, the other names it
    pair = sorted(["beach.jpg", "beach (copy).jpg"], key=lambda n: rows[n]["verdict"])
    kept, dropped = pair[1], pair[0]
    assert (rows[kept]["verdict"], rows[dropped]["verdict"]) == ("keep", "discard")
    assert "duplicate" in issues(dropped)
    assert kept in rows[dropped]["reason"]

    # what the page shows: every judged file once, in keep or discard
    resp = stack.api("GET", f"/api/triage/{init['jobId']}/results", token=init["sessionToken"])
    assert resp.status_code == 200, resp.text
    verdicts = resp.json()["verdicts"]
    shown = [v["filename"] for v in verdicts["keep"] + verdicts["discard"]]
    assert sorted(shown) == sorted(judged)
    assert sorted(v["filename"] for v in verdicts["keep"]) == sorted(["forest.jpg", kept])


def test_rerunning_triage_replaces_verdicts_and_keeps_the_counters(stack: Stack) -> None:
    batch = {"a.jpg": ti.jpeg(ti.scene(111)), "b.jpg": ti.jpeg(ti.dark(ti.scene(112)))}
    init, job = _run(stack, batch)
    assert job["status"] == "complete", job
    before = stack.file_rows(init["jobId"])

    resp = stack.client("lambda").invoke(
        FunctionName=stack.functions["triage_run"],
        Payload=json.dumps(
            {"sessionId": init["sessionId"], "jobId": init["jobId"], "partial": False}
        ).encode(),
    )
    assert "FunctionError" not in resp, resp["Payload"].read()
    assert json.loads(resp["Payload"].read())["status"] == "complete"

    after = stack.file_rows(init["jobId"])
    assert [(r["fileId"], r["verdict"], r["issues"]) for r in after] == [
        (r["fileId"], r["verdict"], r["issues"]) for r in before
    ]
    again = stack.job_row(init["sessionId"], init["jobId"])
    assert again["processedCount"] == job["processedCount"] == 2
    assert again["expectedFileCount"] == 2
    assert again["tokenHash"] == job["tokenHash"]
    assert again["summary"]["keep"] == 1
    assert again["summary"]["discard"] == 1


def test_the_state_machine_runs_triage_on_rows_left_by_media_process(stack: Stack) -> None:
    """TriageRun alone (independent of MediaProcess): rows and thumbnails as MediaProcess leaves
    them, the counter at the expected count -> Poll -> TriageRun -> verdicts."""
    from media_triage_shared import keys
    from media_triage_shared.models import FileRow, FileStatus, MediaType, serialize

    init = stack.init(5)
    session_id, job_id = init["sessionId"], init["jobId"]
    images = {
        "good": ti.scene(121),
        "dark": ti.dark(ti.scene(122)),
        "blurry": ti.blurry(ti.scene(123)),
        "overexposed": ti.overexposed(ti.scene(124)),
        "twin": ti.burst_twin(ti.scene(121)),
    }
    ddb, s3 = stack.client("dynamodb"), stack.client("s3")
    for name, img in images.items():
        thumb = keys.derived_key(session_id, job_id, name, "thumb.jpg")
        s3.put_object(Bucket=stack.bucket, Key=thumb, Body=ti.thumbnail(ti.jpeg(img)))
        row = FileRow(
            job_id=job_id,
            file_id=name,
            session_id=session_id,
            filename=f"{name}.jpg",
            original_key=keys.upload_key(session_id, job_id, name, f"{name}.jpg"),
            status=FileStatus.VALID,
            media_type=MediaType.PHOTO,
            mime_type="image/jpeg",
            thumbnail_key=thumb,
            counted=True,
            created_at="2026-11-28T12:00:00Z",
            updated_at="2026-11-28T12:00:00Z",
            expires_at=2_000_000_000,
        )
        ddb.put_item(TableName=stack.files_table, Item=row.to_item())
    ddb.update_item(
        TableName=stack.sessions_table,
        Key=serialize({"pk": keys.job_pk(session_id), "sk": keys.job_sk(job_id)}),
        UpdateExpression="SET processedCount = :n",
        ExpressionAttributeValues=serialize({":n": len(images)}),
    )

    job = stack.wait_job(session_id, job_id, {"complete", "failed"}, timeout=120)
    assert job["status"] == "complete", job
    rows = {r["fileId"]: r for r in stack.file_rows(job_id)}
    assert (rows["good"]["verdict"], rows["good"]["issues"]) == ("keep", [])
    for name in ("dark", "blurry", "overexposed"):
        assert (rows[name]["verdict"], rows[name]["issues"]) == ("discard", [name]), rows[name]
    assert rows["twin"]["verdict"] == "discard"
    assert rows["twin"]["issues"] == ["duplicate"]
    assert job["summary"]["keep"] == 1
    assert job["summary"]["discard"] == 4
    assert stack.execution(job_id)["status"] == "SUCCEEDED"
