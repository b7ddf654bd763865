"""The CLI against the deployed local stack, driven the way a user drives it: the demo batch,
a 36-file session, an upload that fails for good, and a multipart upload that is interrupted
(the process killed) and resumed from its journal.

Every assertion is on what the user gets: the final results JSON, the exit code, the
contact sheet, how long the job took.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support.stack import ROOT, Stack

from media_triage_cli.api import ApiClient, InitResponse
from media_triage_cli.command import Run, RunOptions

sys.path.insert(0, str(ROOT / "devtools"))
from sample_batch import write_demo, write_mixed

pytestmark = pytest.mark.e2e

FINAL = {"valid", "invalid", "duplicate"}
CLI_TIMEOUT = 300


def cli(*args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "media_triage_cli", "run", *args, "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        check=False,
    )


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["filename"]: f for f in results["files"]}


def assert_verdicts_cover_valid_files(results: dict[str, Any]) -> None:
    """Every valid file has a verdict; invalid files never reach the analyzer (duplicates may
    get a discard verdict saying whose duplicate they are)."""
    verdicts = results["verdicts"]
    judged = [v["fileId"] for kind in ("keep", "discard") for v in verdicts[kind]]
    status = {f["fileId"]: f["status"] for f in results["files"]}
    assert len(judged) == len(set(judged))
    assert {fid for fid, s in status.items() if s == "valid"} <= set(judged)
    assert {status[fid] for fid in judged} <= {"valid", "duplicate"}
    for kind in ("keep", "discard"):
        for v in verdicts[kind]:
            assert v["verdict"] == kind
            assert 0 <= v["score"] <= 100
            assert v["reason"]


def test_the_demo_batch_ends_in_verdicts_and_a_contact_sheet(stack: Stack, tmp_path: Path) -> None:
    paths = write_demo(tmp_path / "batch")
    sheet = tmp_path / "contact-sheet.jpg"

    done = cli(
        str(tmp_path / "batch"), "--api", stack.api_url, "--json", "--contact-sheet", str(sheet)
    )

    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert results["status"] == "complete"
    assert results["expectedFileCount"] == results["processedCount"] == len(paths)
    files = by_name(results)
    assert set(files) == {p.name for p in paths}
    assert {f["status"] for f in files.values()} <= FINAL
    # the corrupt file is invalid with a code, and never reaches the analyzer
    assert files["broken.jpg"]["status"] == "invalid"
    assert files["broken.jpg"]["error"]["code"]
    # one of the two identical photos is flagged as the other's duplicate
    pair = [files["beach sunset.jpg"], files["beach sunset (copy).jpg"]]
    dup = [f for f in pair if f["status"] == "duplicate"]
    assert len(dup) == 1
    assert dup[0]["duplicateOf"] == next(f for f in pair if f is not dup[0])["fileId"]
    # everything else is a photo or video the pipeline understood
    for name in (
        "night shot.jpg",
        "shaky hands.jpg",
        "snow glare.jpg",
        "garden.heic",
        "portrait rotated.jpg",
        "screenshot.png",
        "waves.mp4",
    ):
        assert files[name]["status"] == "valid", files[name]
    assert files["waves.mp4"]["mediaType"] == "video"
    assert_verdicts_cover_valid_files(results)
    # the contact sheet shows one tile per file
    with Image.open(sheet) as img:
        assert img.format == "JPEG"
        assert img.width > 6 * 216
        assert img.height > 2 * 256


def test_a_36_file_session_of_photos_and_videos(stack: Stack, tmp_path: Path) -> None:
    paths = write_mixed(tmp_path / "batch", 36, videos=4)

    done = cli(str(tmp_path / "batch"), "--api", stack.api_url, "--json", "--concurrency", "6")

    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert results["status"] == "complete"
    assert results["processedCount"] == 36
    files = by_name(results)
    assert set(files) == {p.name for p in paths}
    assert {f["status"] for f in files.values()} == {"valid"}
    assert sum(f["mediaType"] == "video" for f in files.values()) == 4
    assert_verdicts_cover_valid_files(results)
    assert not results.get("partial")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def _run(
    stack: Stack,
    paths: list[Path],
    on_init: Callable[[InitResponse], InitResponse] | None = None,
    **opts: Any,
) -> tuple[int, Run, str]:
    err = io.StringIO()
    command = Run(
        RunOptions(paths=[str(p) for p in paths], api=stack.api_url, timeout=CLI_TIMEOUT, **opts),
        client=ApiClient(stack.api_url),
        stdout=io.StringIO(),
        stderr=err,
        on_init=on_init,
    )
    return command.execute(), command, err.getvalue()


def test_an_upload_failing_for_good_lowers_the_count_and_the_job_completes(
    stack: Stack, tmp_path: Path
) -> None:
    paths = write_mixed(tmp_path / "batch", 5, videos=0)
    doomed = paths[2].name
    dead = f"http://127.0.0.1:{_closed_port()}/"

    def sabotage(init: InitResponse) -> InitResponse:
        # the page's upload to S3 keeps failing (here: nothing listens at the target)
        uploads = [
            t.model_copy(update={"url": dead}) if t.filename == doomed else t for t in init.uploads
        ]
        return init.model_copy(update={"uploads": uploads})

    started = time.monotonic()
    code, command, err = _run(stack, paths, sabotage, attempts=3, backoff=0.2)
    took = time.monotonic() - started

    assert code == 0, err[-3000:]
    results = command.outcome.results
    assert results is not None
    assert results["status"] == "complete"
    assert results["expectedFileCount"] == 4
    assert results["processedCount"] == 4
    assert not results.get("partial")
    files = by_name(results)
    assert files[doomed]["status"] == "invalid"  # never arrived: not waited for
    assert files[doomed]["error"]["code"] == "not_uploaded"
    assert command.outcome.failures[0][:2] == (doomed, "connection_error")
    assert_verdicts_cover_valid_files(results)
    # the job moved on at once: nowhere near the 10-minute stall deadline
    assert took < 120


def test_an_interrupted_multipart_upload_resumes_where_it_stopped(
    stack: Stack, tmp_path: Path
) -> None:
    big = tmp_path / "batch" / "long take.bin"
    big.parent.mkdir()
    size = 101 * 1024 * 1024  # above the default 100 MiB multipart threshold
    with big.open("wb") as fh:
        for i in range(101):
            fh.write(bytes([i]) * (1024 * 1024))
    journal = tmp_path / "journal.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "media_triage_cli",
            "run",
            str(big.parent),
            "--api",
            stack.api_url,
            "--concurrency",
            "1",
            "--resume",
            str(journal),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        parts: dict[str, Any] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists():
                state = json.loads(journal.read_text())
                parts = next(iter(state["parts"].values()), {})
                if len(parts) >= 2:
                    break
            time.sleep(0.05)
        if not parts and proc.poll() is not None:
            _, err = proc.communicate()
            pytest.skip(f"the API gave no multipart plan for {size} bytes: {err[-500:]}")
        assert len(parts) >= 2, "no parts were uploaded"
        proc.send_signal(signal.SIGKILL)  # the laptop lid closes: no Ctrl-C, no cancel
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    already = len(json.loads(journal.read_text())["parts"][next(iter(state["parts"]))])

    code, command, err = _run(stack, [big.parent], resume=journal, concurrency=2)

    assert code == 0, err[-3000:]
    assert f"{already} part(s) already uploaded" in err
    results = command.outcome.results
    assert results is not None
    assert results["status"] == "complete"
    (entry,) = results["files"]
    assert entry["status"] in FINAL
    assert entry.get("error", {}).get("code") != "not_uploaded"
    head = stack.client("s3").head_object(
        Bucket=stack.bucket,
        Key=next(row["originalKey"] for row in stack.file_rows(results["jobId"])),
    )
    assert head["ContentLength"] == size
    assert not journal.exists()


def test_a_file_grown_after_init_is_not_sent_and_not_waited_for(
    stack: Stack, tmp_path: Path
) -> None:
    paths = write_mixed(tmp_path / "batch", 3, videos=0)
    grown = paths[1]

    def grow(init: InitResponse) -> InitResponse:
        # the file changes on disk between the init (which declared its size) and the upload
        with grown.open("ab") as fh:
            fh.write(b"\0" * 4096)
        return init

    code, command, err = _run(stack, paths, grow, attempts=2, backoff=0.2)

    # The target pins the declared size (S3 would refuse the POST: EntityTooLarge); the CLI
    # notices first and neither sends a truncated copy nor lets the job wait for it.
    assert [(name, why) for name, why, _ in command.outcome.failures] == [
        (grown.name, "size_changed")
    ]
    assert code == 0, err[-3000:]
    assert command.outcome.failures[0][0] == grown.name
    results = command.outcome.results
    assert results is not None
    assert results["status"] == "complete"
    assert results["expectedFileCount"] == 2
    assert by_name(results)[grown.name]["error"]["code"] == "not_uploaded"
