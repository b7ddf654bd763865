"""Issue 13 items 7d and 11 on the ffmpeg adapter: what ffmpeg and ffprobe inherit (no AWS
credentials), which protocols they may open, one time budget for both thumbnail attempts, and
the pixel cap checked before any frame is decoded."""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Env, FakeClock
from support.corpus import BY_NAME, FFMPEG, mp4

from media_process.adapters import video
from media_process.adapters.video import (
    FfmpegVideoTool,
    VideoOptions,
    child_environment,
    protocol_whitelist,
)
from media_triage_shared.deadline import Deadline
from media_triage_shared.media import Capture, MediaErrorCode, MediaFailure, Rendition, VideoProbe
from media_triage_shared.models import FileStatus

PRESIGNED = "https://bucket.s3.eu-west-1.amazonaws.com/uploads/s/j/f/clip.mp4?X-Amz-Signature=x"
PROBE = VideoProbe(
    container="mov,mp4",
    width=320,
    height=240,
    duration_seconds=3.0,
    fps=25.0,
    rotation=0,
    video_codec="h264",
    audio_codec="aac",
    capture=Capture(),
)


def _spy_tool(tmp_path: Path) -> tuple[FfmpegVideoTool, Path]:
    """ffmpeg and ffprobe replaced by one script that records its environment and arguments
    (one file per run) and fails like a tool that could not read its input."""
    log = tmp_path / "runs"
    log.mkdir()
    script = tmp_path / "spy-tool"
    script.write_text(
        "#!/bin/sh\n"
        f'out="{log}/$$"\n'
        'env > "$out.env"\n'
        'for a in "$@"; do printf "%s\\n" "$a"; done > "$out.args"\n'
        "echo 'Invalid data found when processing input' >&2\n"
        "exit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return FfmpegVideoTool(VideoOptions(ffmpeg=str(script), ffprobe=str(script))), log


def test_ffmpeg_and_ffprobe_run_without_aws_credentials_or_extra_protocols(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret-key-value",
        "AWS_SESSION_TOKEN": "session-token-value",
        "AWS_LAMBDA_FUNCTION_NAME": "media-triage-prod-media-process",
        "GEMINI_API_KEY": "gemini-secret",
        "HTTPS_PROXY": "http://proxy.invalid:3128",
        "TZ": "UTC",
    }.items():
        monkeypatch.setenv(name, value)
    tool, log = _spy_tool(tmp_path)

    assert isinstance(
        tool.probe_video(PRESIGNED, "video/mp4", deadline=Deadline.after(10)), MediaFailure
    )
    assert isinstance(
        tool.video_thumbnail(PRESIGNED, "video/mp4", PROBE, deadline=Deadline.after(10)),
        MediaFailure,
    )
    assert isinstance(
        tool.video_proxy(PRESIGNED, "video/mp4", PROBE, deadline=Deadline.after(10)), MediaFailure
    )

    runs = sorted(log.glob("*.env"))
    assert len(runs) == 4  # probe, two thumbnail seeks, proxy
    for run in runs:
        env = dict(line.split("=", 1) for line in run.read_text().splitlines() if "=" in line)
        assert not [k for k in env if k.startswith("AWS_")], run.read_text()
        assert "secret-key-value" not in run.read_text()
        assert "GEMINI_API_KEY" not in env
        assert "HTTPS_PROXY" not in env
        assert env["PATH"] == os.environ["PATH"]
        assert env["TZ"] == "UTC"
        args = run.with_suffix(".args").read_text().splitlines()
        at = args.index("-protocol_whitelist")
        assert args[at + 1] == "https,tls,tcp"
        assert at < args.index("-i")  # an input option: it applies to the source and below


def test_the_whitelist_follows_the_source_scheme_only() -> None:
    assert protocol_whitelist(PRESIGNED) == "https,tls,tcp"
    assert protocol_whitelist("http://127.0.0.1:4566/media/uploads/x.mp4?sig=1") == "http,tcp"
    assert protocol_whitelist("/tmp/pytest/clip.mp4") == "file"  # tests' local paths
    assert protocol_whitelist("file:///tmp/clip.mp4") == "file"
    assert protocol_whitelist("ftp://host/clip.mp4") == "none"
    assert child_environment({"PATH": "/bin", "AWS_REGION": "x", "HOME": "/root"}) == {
        "PATH": "/bin"
    }


def test_a_reference_to_a_local_file_inside_an_http_source_is_refused(tmp_path: Path) -> None:
    """What the whitelist stops: a source served over HTTP that names a file on the Lambda's
    disk (here an ffconcat list; a QuickTime data reference works alike) cannot make ffmpeg
    open it."""
    secret = tmp_path / "local.mp4"
    secret.write_bytes(mp4(1.0, "64x48", seed="secret"))
    listing = f"ffconcat version 1.0\nfile 'file:{secret}'\n".encode()

    class Listing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(listing)))
            self.end_headers()
            self.wfile.write(listing)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Listing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/list.txt"
    try:

        def run(whitelist: str) -> subprocess.CompletedProcess[bytes]:
            args = [FFMPEG, "-v", "error", "-protocol_whitelist", whitelist, "-f", "concat"]
            args += ["-safe", "0", "-i", url, "-f", "null", "-"]
            return subprocess.run(args, capture_output=True, timeout=30, check=False)

        refused = run(protocol_whitelist(url))
        assert refused.returncode != 0
        assert b"not on whitelist" in refused.stderr
        assert run("http,tcp,file").returncode == 0  # the control: file allowed, it is read
    finally:
        server.shutdown()
        server.server_close()


def test_both_thumbnail_attempts_share_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    tool = FfmpegVideoTool()
    timeouts: list[float] = []
    real_run = video._run

    def slow_failure(
        args: list[str], timeout: float, what: str, env: Any
    ) -> subprocess.CompletedProcess[bytes] | MediaFailure:
        if timeout <= 0:  # the real runner refuses to start without time left
            return real_run(args, timeout, what, env)
        timeouts.append(timeout)
        clock.now += 7  # the first seek reads for 7 s and decodes nothing
        return subprocess.CompletedProcess(args, 1, b"", b"nothing decoded")

    monkeypatch.setattr(video, "_run", slow_failure)
    result = tool.video_thumbnail(
        "/x/clip.mp4", "video/mp4", PROBE, deadline=Deadline.after(10, clock)
    )
    assert isinstance(result, MediaFailure)
    assert timeouts == [10, 3]  # the retry at 0 s gets what is left, not another 10 s

    timeouts.clear()
    result = tool.video_thumbnail(
        "/x/clip.mp4", "video/mp4", PROBE, deadline=Deadline.after(5, clock)
    )
    assert timeouts == [5]  # nothing left: no second ffmpeg at all
    assert isinstance(result, MediaFailure)
    assert result.code is MediaErrorCode.TIMEOUT


def test_a_real_thumbnail_still_works_with_the_clean_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.mp4"
    path.write_bytes(BY_NAME["mp4"].data())
    tool = FfmpegVideoTool()
    probe = tool.probe_video(str(path), "video/mp4", deadline=Deadline.after(30))
    assert isinstance(probe, VideoProbe), probe
    assert isinstance(
        tool.video_thumbnail(str(path), "video/mp4", probe, deadline=Deadline.after(30)), Rendition
    )


# ---------------------------------------------------------------------------- pixel cap


class _Recording:
    """The real toolkit, recording which steps ran."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return getattr(self.inner, name)(*args, **kwargs)

        return call


def test_a_video_over_the_pixel_cap_is_refused_before_any_frame_is_decoded(env: Env) -> None:
    env.create_job()
    media = _Recording(env.media)
    limits = dataclasses.replace(env.limits, max_video_pixels=320 * 240 - 1)
    outcome = env.process(env.put("big.mp4", BY_NAME["mp4"].data()), media=media, limits=limits)
    row = outcome.row
    assert row.status is FileStatus.INVALID
    assert row.error is not None
    assert row.error.code == "too_many_pixels"
    assert "320x240" in row.error.message
    assert media.calls == ["probe_video"]  # no thumbnail, no proxy
    assert env.derived(row.file_id) == set()
    assert outcome.counted
    # at the limit it passes
    ok = env.process(
        env.put("ok.mp4", BY_NAME["mp4"].data()),
        limits=dataclasses.replace(env.limits, max_video_pixels=320 * 240),
    )
    assert ok.row.status is FileStatus.VALID


def test_the_default_pixel_cap_is_8k(monkeypatch: pytest.MonkeyPatch) -> None:
    from media_process.settings import MediaProcessSettings

    for name, value in {
        "MEDIA_BUCKET": "bucket",
        "SESSIONS_TABLE": "sessions",
        "FILES_TABLE": "files",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:t",
    }.items():
        monkeypatch.setenv(name, value)
    assert MediaProcessSettings.from_env().max_video_pixels == 7680 * 4320
    monkeypatch.setenv("MAX_VIDEO_PIXELS", "1920")
    assert MediaProcessSettings.from_env().max_video_pixels == 1920
