"""The ffmpeg adapter on generated videos: ffprobe checks, the thumbnail frame, the proxy's
codecs and size (checked with ffprobe), streaming over HTTP range requests, and timeouts."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image
from support.corpus import BY_NAME, FFMPEG, ffmpeg_make, lavfi_video, mp4

from media_process.adapters.probe import parse_probe
from media_process.adapters.video import FfmpegVideoTool, VideoOptions
from media_triage_shared.deadline import Deadline
from media_triage_shared.media import MediaErrorCode, MediaFailure, Rendition, VideoProbe

TOOL = FfmpegVideoTool()
FFPROBE = str(Path(FFMPEG).with_name("ffprobe"))


@pytest.fixture
def write(tmp_path: Path) -> object:
    def _write(name: str, data: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return _write


def _probe(path: str, mime: str = "video/mp4") -> VideoProbe:
    result = TOOL.probe_video(path, mime, deadline=Deadline.after(30))
    assert isinstance(result, VideoProbe), result
    return result


def _streams(data: bytes, tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "check.mp4"
    path.write_bytes(data)
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return list(json.loads(out)["streams"])


def test_proxy_is_small_h264_aac_with_reduced_size_and_rate(tmp_path: Path, write: object) -> None:
    source = ffmpeg_make(
        ".mp4",
        *lavfi_video(3.0, "1280x720", 60, seed="hd"),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-shortest",
    )
    path = write("hd.mp4", source)  # type: ignore[operator]
    probe = _probe(path)
    proxy = TOOL.video_proxy(path, "video/mp4", probe, deadline=Deadline.after(60))
    assert isinstance(proxy, Rendition), proxy
    streams = _streams(proxy.data, tmp_path)
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = next(s for s in streams if s["codec_type"] == "audio")
    assert video["codec_name"] == "h264"
    assert audio["codec_name"] == "aac"
    assert max(int(video["width"]), int(video["height"])) <= 960  # type: ignore[call-overload]
    assert (video["width"], video["height"]) == (960, 540)
    num, den = str(video["avg_frame_rate"]).split("/")
    assert int(num) / int(den) <= 15.01
    assert proxy.data[4:8] == b"ftyp"
    # Budget: 320 kbit/s video + 64 kbit/s audio -> 5 minutes stay under 15 MiB.
    assert len(proxy.data) < 3.0 * (320 + 64) * 1000 / 8 * 1.5


def test_rotated_video_is_portrait_everywhere(tmp_path: Path, write: object) -> None:
    path = write("rot.mov", BY_NAME["mov_rotated"].data())  # type: ignore[operator]
    probe = _probe(path, "video/quicktime")
    assert probe.rotation in (90, 270)
    assert (probe.width, probe.height) == (240, 320)
    thumb = TOOL.video_thumbnail(path, "video/quicktime", probe, deadline=Deadline.after(30))
    assert isinstance(thumb, Rendition)
    assert Image.open(io.BytesIO(thumb.data)).size == (240, 320)
    proxy = TOOL.video_proxy(path, "video/quicktime", probe, deadline=Deadline.after(60))
    assert isinstance(proxy, Rendition)
    video = next(s for s in _streams(proxy.data, tmp_path) if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (240, 320)  # rotated pixels, no matrix left
    assert not video.get("side_data_list")


def _red_then_blue(seconds: float) -> bytes:
    return ffmpeg_make(
        ".mp4",
        "-f",
        "lavfi",
        "-i",
        f"color=c=red:s=160x120:r=30:d={seconds}",
        "-vf",
        "drawbox=c=blue:t=fill:enable='gte(t,0.5)'",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    )


@pytest.mark.parametrize(("seconds", "expected"), [(2.0, "blue"), (0.4, "red")])
def test_thumbnail_is_near_one_second_or_the_first_frame(
    seconds: float, expected: str, write: object
) -> None:
    path = write("rb.mp4", _red_then_blue(seconds))  # type: ignore[operator]
    probe = _probe(path)
    thumb = TOOL.video_thumbnail(path, "video/mp4", probe, deadline=Deadline.after(30))
    assert isinstance(thumb, Rendition), thumb
    r, _, b = Image.open(io.BytesIO(thumb.data)).convert("RGB").getpixel((80, 60))  # type: ignore[misc]
    assert ("blue" if b > r else "red") == expected


def test_a_video_shorter_than_the_proxy_cap_is_not_truncated_but_a_long_one_is(
    write: object,
) -> None:
    path = write("c.mp4", BY_NAME["mp4"].data())  # type: ignore[operator]
    probe = _probe(path)
    full = TOOL.video_proxy(path, "video/mp4", probe, deadline=Deadline.after(60))
    capped = FfmpegVideoTool(VideoOptions(proxy_max_seconds=1.0)).video_proxy(
        path, "video/mp4", probe, deadline=Deadline.after(60)
    )
    assert isinstance(full, Rendition)
    assert isinstance(capped, Rendition)
    assert full.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert capped.duration_seconds == 1.0
    assert len(capped.data) < len(full.data)


@pytest.mark.parametrize(
    ("data", "mime", "code"),
    [
        (BY_NAME["audio_only"].data(), "video/mp4", MediaErrorCode.NO_VIDEO_STREAM),
        (BY_NAME["mp4_truncated"].data(), "video/mp4", MediaErrorCode.CORRUPT),
        # ffprobe alone finds an "ansi" video stream in text and exits 0; the forced demuxer
        # refuses it.
        (b"hello world\n" * 200, "video/mp4", MediaErrorCode.CORRUPT),
        (b"hello world\n" * 200, "video/x-matroska", MediaErrorCode.CORRUPT),
        (
            b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 500,
            "video/x-msvideo",
            MediaErrorCode.CORRUPT,
        ),
    ],
)
def test_probe_failures_are_values(
    data: bytes, mime: str, code: MediaErrorCode, write: object
) -> None:
    result = TOOL.probe_video(write("x.bin", data), mime, deadline=Deadline.after(30))  # type: ignore[operator]
    assert isinstance(result, MediaFailure)
    assert result.code is code


def test_subprocess_timeouts_kill_and_report(write: object) -> None:
    path = write("c.mp4", BY_NAME["mp4"].data())  # type: ignore[operator]
    probe = _probe(path)
    for result in (
        TOOL.probe_video(path, "video/mp4", deadline=Deadline.after(0.001)),
        TOOL.video_thumbnail(path, "video/mp4", probe, deadline=Deadline.after(0.001)),
        TOOL.video_proxy(path, "video/mp4", probe, deadline=Deadline.after(0.001)),
        TOOL.video_proxy(path, "video/mp4", probe, deadline=Deadline.after(0)),
    ):
        assert isinstance(result, MediaFailure)
        assert result.code is MediaErrorCode.TIMEOUT


def test_messages_never_carry_the_presigned_url() -> None:
    url = "http://127.0.0.1:9/uploads/x.mp4?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA"
    result = TOOL.probe_video(url, "video/mp4", deadline=Deadline.after(30))
    assert isinstance(result, MediaFailure)
    assert "deadbeef" not in result.message
    assert "AKIA" not in result.message


# ---------------------------------------------------------------------------- streaming


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves one blob with HTTP range support, like S3 behind a presigned URL."""

    blob: ClassVar[bytes] = b""
    ranges: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        header = self.headers.get("Range")
        start, end = 0, len(self.blob) - 1
        if header:
            type(self).ranges.append(header)
            first, _, last = header.removeprefix("bytes=").partition("-")
            start = int(first or 0)
            end = min(int(last), end) if last else end
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(self.blob)}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(self.blob[start : end + 1])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    _RangeHandler.blob = mp4(3.0, "320x240", seed="http", faststart=False)  # moov at the end
    _RangeHandler.ranges = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/uploads/clip.mp4?X-Amz-Signature=x"
    finally:
        server.shutdown()
        server.server_close()


def test_video_is_read_over_http_with_range_requests(http_url: str) -> None:
    probe = TOOL.probe_video(http_url, "video/mp4", deadline=Deadline.after(30))
    assert isinstance(probe, VideoProbe), probe
    thumb = TOOL.video_thumbnail(http_url, "video/mp4", probe, deadline=Deadline.after(30))
    proxy = TOOL.video_proxy(http_url, "video/mp4", probe, deadline=Deadline.after(60))
    assert isinstance(thumb, Rendition)
    assert isinstance(proxy, Rendition)
    # ffmpeg seeked to the moov box at the end instead of needing a local copy.
    assert any(not r.startswith("bytes=0-") for r in _RangeHandler.ranges)


# ---------------------------------------------------------------------------- parsing


def test_cover_art_alone_is_no_video_stream() -> None:
    info = {
        "streams": [
            {"codec_type": "audio", "codec_name": "aac"},
            {
                "codec_type": "video",
                "codec_name": "mjpeg",
                "width": 500,
                "height": 500,
                "disposition": {"attached_pic": 1},
            },
        ],
        "format": {"format_name": "mov,mp4", "duration": "3.0"},
    }
    result = parse_probe(info, "MP4")
    assert isinstance(result, MediaFailure)
    assert result.code is MediaErrorCode.NO_VIDEO_STREAM


def test_probe_metadata_from_container_tags() -> None:
    info = {
        "streams": [
            {
                "codec_type": "video",
                "codec_name": "hevc",
                "width": 1920,
                "height": 1080,
                "avg_frame_rate": "30000/1001",
                "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}],
            },
        ],
        "format": {
            "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
            "duration": "12.345678",
            "tags": {
                "creation_time": "2024-05-01T08:20:30.000000Z",
                "com.apple.quicktime.location.ISO6709": "+48.8566+002.3522+035.000/",
                "com.apple.quicktime.make": "Apple",
                "com.apple.quicktime.model": "iPhone 15 Pro",
            },
        },
    }
    probe = parse_probe(info, "QuickTime")
    assert isinstance(probe, VideoProbe)
    assert (probe.width, probe.height, probe.rotation) == (1080, 1920, 270)
    assert probe.duration_seconds == 12.346
    assert probe.fps == pytest.approx(29.97, abs=0.01)
    assert probe.capture.taken_at == "2024-05-01T08:20:30Z"
    assert probe.capture.gps is not None
    assert (probe.capture.gps.lat, probe.capture.gps.lon) == (48.8566, 2.3522)
    assert probe.capture.camera == "Apple iPhone 15 Pro"


@pytest.mark.parametrize(
    "info",
    [
        {},
        {"streams": []},
        {"streams": [{"codec_type": "video", "width": 0, "height": 0}], "format": {}},
    ],
)
def test_probe_output_without_a_picture_is_corrupt(info: dict[str, object]) -> None:
    result = parse_probe(info, "MP4")
    assert isinstance(result, MediaFailure)
    assert result.code is MediaErrorCode.CORRUPT
