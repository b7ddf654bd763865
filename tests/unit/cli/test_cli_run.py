"""``media-triage run`` against the fake API: what a user sees and what the API receives."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support.cli import fake_api
from support.cli.fake_api import State, serve
from support.cli.helpers import blob, jpeg, run

from media_triage_cli import __main__ as cli
from media_triage_cli import report
from media_triage_cli.files import collect


@pytest.fixture
def api() -> State:
    with serve() as state:
        yield state


@pytest.fixture
def batch(tmp_path: Path) -> list[Path]:
    return [
        jpeg(tmp_path / "beach.jpg"),
        jpeg(tmp_path / "night dark.jpg", (5, 5, 5)),
        jpeg(tmp_path / "broken corrupt.jpg"),
        jpeg(tmp_path / "beach copy.jpg"),
    ]


def test_presigned_post_sends_the_policy_fields_then_the_file(
    api: State, batch: list[Path]
) -> None:
    result = run(api, batch)

    assert result.code == 0, result.err
    job = api.only_job()
    assert job.status == "complete"
    for path in batch:
        assert api.file_by_name(path.name).data == path.read_bytes()
    for form in api.post_forms:
        names = [name for name, _ in form]
        assert names == ["key", "Content-Type", "policy", "x-amz-signature", "file"]
        assert dict(form)["Content-Type"] == "image/jpeg"
    # init once, with the whole list and an Idempotency-Key
    (body,) = api.init_bodies
    assert body["expectedFileCount"] == 4
    assert [f["filename"] for f in body["files"]] == [p.name for p in batch]
    assert [f["size"] for f in body["files"]] == [p.stat().st_size for p in batch]
    assert api.init_headers[0].get("Idempotency-Key")


def test_the_table_lists_keep_discard_and_what_was_not_triaged(
    api: State, batch: list[Path]
) -> None:
    result = run(api, batch)

    lines = result.out.splitlines()
    assert "1 keep, 1 discard, 2 not triaged" in lines[0]
    row = {line.split()[0] + " " + line.split()[1]: line for line in lines[2:]}
    assert "sharp and well exposed" in row["KEEP beach.jpg"]
    assert "too dark [dark]" in row["DISCARD night"]
    assert "corrupt: cannot decode the image" in row["INVALID broken"]
    assert "duplicate of beach.jpg" in row["DUPLICATE beach"]


def test_json_prints_the_final_results_only(
    api: State, batch: list[Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # through the console script's entry point (real argument parsing, 1 s polls)
    code = cli.main(["run", str(tmp_path), "--api", api.base, "--json", "--concurrency", "2"])

    captured = capsys.readouterr()
    assert code == 0
    results = json.loads(captured.out)
    assert results["status"] == "complete"
    assert results["jobId"] == api.only_job().job_id
    assert {f["filename"]: f["status"] for f in results["files"]} == {
        "beach.jpg": "valid",
        "night dark.jpg": "valid",
        "broken corrupt.jpg": "invalid",
        "beach copy.jpg": "duplicate",
    }
    assert [v["filename"] for v in results["verdicts"]["discard"]] == ["night dark.jpg"]
    # progress went to stderr, one line per change (not a TTY)
    assert "beach.jpg: valid" in captured.err


def test_results_are_polled_with_if_none_match_and_304_keeps_the_last_body(
    api: State, batch: list[Path]
) -> None:
    api.faults.never_complete = True  # the job sits still: every later poll is a 304
    result = run(api, batch, timeout=1.0, json=True)

    assert result.code == 1  # timed out
    assert api.results_304 > 3
    assert api.if_none_match[0] is None
    assert all(tag and tag.startswith('W/"') for tag in api.if_none_match[-3:])
    body = json.loads(result.out)  # the last 200 body, kept across the 304s
    assert body["status"] == "processing"
    assert body["processedCount"] == 4
    # the job stays live: every later poll asks for what changed since the last answer
    assert api.since[-3:] == [api.only_job().last_cursor] * 3


def test_the_run_polls_deltas_and_ends_with_the_whole_document(api: State, tmp_path: Path) -> None:
    paths = [jpeg(tmp_path / f"photo {n}.jpg") for n in range(6)]
    # paced (~0.5 s of uploads, polls every 20 ms): files turn valid while the job is live
    result = run(api, paths, json=True, concurrency=1, max_upload_rate=8_000.0)

    assert result.code == 0
    assert api.results_deltas > 0
    body = json.loads(result.out)
    assert body == fake_api._results_body(api, api.only_job()) | {"delta": False}
    assert len(body["files"]) == len(paths)
    assert result.outcome.results == body


def test_uploads_are_retried_on_5xx_with_backoff(api: State, batch: list[Path]) -> None:
    api.faults.post_500["beach.jpg"] = 2

    result = run(api, batch)

    assert result.code == 0
    assert api.post_attempts["beach.jpg"] == 3
    assert api.file_by_name("beach.jpg").data == batch[0].read_bytes()
    assert api.patches == []


def test_results_polls_survive_a_5xx(api: State, batch: list[Path]) -> None:
    api.faults.results_500 = 2
    assert run(api, batch).code == 0


def test_an_upload_failing_for_good_lowers_expected_file_count(
    api: State, batch: list[Path]
) -> None:
    api.faults.post_500["beach.jpg"] = 100

    result = run(api, batch, attempts=3)

    assert result.code == 0, result.err
    assert api.post_attempts["beach.jpg"] == 3
    assert api.patches == [3]
    job = api.only_job()
    assert job.status == "complete"
    assert "1 upload(s) failed for good" in result.out
    assert "beach.jpg: InternalError" in result.out
    assert result.outcome.failures == [("beach.jpg", "InternalError", "try again")]


def test_a_refused_upload_is_not_retried(api: State, batch: list[Path]) -> None:
    api.faults.post_403.add("night dark.jpg")

    result = run(api, batch)

    assert result.code == 0
    assert api.post_attempts["night dark.jpg"] == 1
    assert api.patches == [3]
    assert "night dark.jpg: upload failed (AccessDenied)" in result.err


def test_a_file_changed_after_init_fails_for_good_instead_of_uploading_truncated(
    api: State, batch: list[Path]
) -> None:
    grown = batch[0]

    def grow(init: Any) -> Any:
        with grown.open("ab") as fh:
            fh.write(b"\0" * 4096)
        return init

    result = run(api, batch, on_init=grow)

    assert result.code == 0, result.err
    assert api.post_attempts.get(grown.name, 0) == 0  # never sent, not even truncated
    assert api.patches == [3]
    ((name, code, message),) = result.outcome.failures
    assert (name, code) == (grown.name, "size_changed")
    assert "bytes" in message


def test_every_upload_failing_cancels_the_job(api: State, tmp_path: Path) -> None:
    paths = [jpeg(tmp_path / "a.jpg"), jpeg(tmp_path / "b.jpg")]
    api.faults.post_403.update({"a.jpg", "b.jpg"})

    result = run(api, paths)

    assert result.code == 1
    assert api.patches == [1]  # the first failure; the second leaves nothing to wait for
    assert api.deletes == [api.only_job().job_id]
    assert "every upload failed" in result.err


def test_a_failed_job_exits_1(api: State, batch: list[Path]) -> None:
    api.faults.fail_job = True
    result = run(api, batch)
    assert result.code == 1
    assert "error: analyzer exploded" in result.out


def test_multipart_puts_every_part_and_completes_with_the_etags(tmp_path: Path) -> None:
    with serve(State(multipart_threshold=1000, part_size=700)) as api:
        big = blob(tmp_path / "clip.mp4", 2500)
        small = jpeg(tmp_path / "small.jpg", size=16)

        result = run(api, [big, small])

        assert result.code == 0, result.err
        f = api.file_by_name("clip.mp4")
        assert f.data == big.read_bytes()
        (complete,) = api.completes
        assert [p["partNumber"] for p in complete["parts"]] == [1, 2, 3, 4]
        assert complete["uploadId"] == f.upload_id
        assert api.file_by_name("small.jpg").data == small.read_bytes()


def test_a_multipart_part_is_retried_alone(tmp_path: Path) -> None:
    with serve(State(multipart_threshold=1000, part_size=700)) as api:
        big = blob(tmp_path / "clip.mp4", 2500)
        api.faults.part_500[("clip.mp4", 3)] = 2

        result = run(api, [big])

        assert result.code == 0
        assert api.part_attempts == {
            ("clip.mp4", 1): 1,
            ("clip.mp4", 2): 1,
            ("clip.mp4", 3): 3,
            ("clip.mp4", 4): 1,
        }
        assert api.file_by_name("clip.mp4").data == big.read_bytes()


def test_a_multipart_upload_given_up_is_aborted_and_uncounted(tmp_path: Path) -> None:
    with serve(State(multipart_threshold=1000, part_size=700)) as api:
        big = blob(tmp_path / "clip.mp4", 2500)
        small = jpeg(tmp_path / "small.jpg", size=16)
        api.faults.part_500[("clip.mp4", 2)] = 100

        result = run(api, [big, small], attempts=2)

        assert result.code == 0
        (abort,) = api.aborts
        assert abort["uploadId"].startswith("mpu-")
        assert api.completes == []
        assert api.patches == [1]


def test_contact_sheet_shows_every_thumbnail_with_keep_and_discard_borders(
    api: State, batch: list[Path], tmp_path: Path
) -> None:
    sheet = tmp_path / "out" / "sheet.jpg"

    result = run(api, batch, contact_sheet=sheet)

    assert result.code == 0
    with Image.open(sheet) as img:
        assert img.format == "JPEG"
        # 4 tiles in one row: 12 + 4 * (216 + 12) wide
        assert img.size == (12 + 4 * 228, 36 + 12 + 256 + 12)
        rgb = img.convert("RGB")
        # the border of the first tile (keep) is green, of the second (discard) red
        keep = rgb.getpixel((12 + 3, 48 + 100))
        discard = rgb.getpixel((12 + 228 + 3, 48 + 100))
        other = rgb.getpixel((12 + 2 * 228 + 3, 48 + 100))
        assert isinstance(keep, tuple)
        assert isinstance(discard, tuple)
        assert isinstance(other, tuple)
        assert keep[1] > 140
        assert max(keep[0], keep[2]) < 120
        assert discard[0] > 180
        assert discard[1] < 80
        assert abs(other[0] - other[1]) < 20
        assert 90 < other[0] < 170
        # the kept file's thumbnail (orange) is inside its border
        inner = rgb.getpixel((12 + 108, 48 + 108))
        assert isinstance(inner, tuple)
        assert inner[0] > 160
        assert 80 < inner[1] < 160
    assert "contact sheet:" in result.err


def test_folders_are_searched_recursively_without_hidden_files(tmp_path: Path) -> None:
    jpeg(tmp_path / "a.jpg")
    jpeg(tmp_path / "sub" / "deeper" / "b.jpg")
    jpeg(tmp_path / ".hidden.jpg")
    jpeg(tmp_path / ".cache" / "c.jpg")
    (tmp_path / "notes.txt").write_text("x")

    found = collect([tmp_path, tmp_path / "a.jpg"])

    assert [f.path.relative_to(tmp_path).as_posix() for f in found] == [
        "a.jpg",
        "notes.txt",
        "sub/deeper/b.jpg",
    ]
    assert {f.content_type for f in found} == {"image/jpeg", "text/plain"}


def test_no_files_is_a_usage_error(api: State, tmp_path: Path) -> None:
    result = run(api, [tmp_path])
    assert result.code == 2
    assert "no files" in result.err
    assert api.init_bodies == []


def test_model_is_sent_at_init(api: State, batch: list[Path]) -> None:
    run(api, batch[:1], model="gemini-2.5-flash")
    assert api.init_bodies[0]["model"] == "gemini-2.5-flash"


def test_the_table_names_who_judged() -> None:
    results = {"jobId": "j1", "status": "complete", "files": [], "verdicts": {"keep": []}}
    assert "judged by" not in report.table(results)
    judged = report.table({**results, "analyzer": "gemini", "model": "gemini-2.5-flash"})
    assert judged.splitlines()[1] == "judged by: gemini (gemini-2.5-flash)"


def test_a_long_upload_keeps_the_job_alive_with_unchanged_patches(tmp_path: Path) -> None:
    with serve(State(multipart_threshold=1000, part_size=700)) as api:
        big = blob(tmp_path / "long video.mp4", 2500)
        api.faults.part_hang.add(("long video.mp4", 2))  # the upload sits still for a while

        def unstick() -> None:
            deadline = time.monotonic() + 20
            while len(api.patches) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            api.faults.part_hang.clear()
            api.release.set()

        watcher = threading.Thread(target=unstick)
        watcher.start()
        result = run(api, [big], keepalive=0.05, concurrency=1)
        watcher.join()

        assert result.code == 0, result.err
        assert len(api.patches) >= 3  # signs of life while the part hung...
        assert set(api.patches) == {1}  # ...each with the unchanged count
        # none once the upload was done (processing pushes the deadline itself)
        methods = [m for m, path in api.log if m == "PATCH" or path.endswith("/multipart/complete")]
        assert methods[-1] == "POST"
        assert methods.count("POST") == 1


def test_short_uploads_send_no_keepalive(api: State, batch: list[Path]) -> None:
    result = run(api, batch)  # the default interval (2 min) is far longer than this run
    assert result.code == 0
    assert api.patches == []
