"""ffmpeg / ffprobe implementation of the video half of the ``MediaTool`` port.

Both read the original straight from ``source_url`` (a presigned GET URL: ffmpeg's HTTP client
issues range requests, so a multi-GB original is streamed, never copied to memory or /tmp).
The demuxer is forced from the sniffed type (``-f mov|matroska|avi``): ffprobe happily "finds"
an ANSI-art video stream in a text file and exits 0, so it is never left to guess. Every call
takes a ``Deadline``; each subprocess runs for what is left of it, is killed when it passes,
and the result is then a ``timeout`` failure. ffmpeg-python builds the argument lists;
running them is ours.

The tools read hostile files, so they get nothing they do not need (issue 13 item 11): a clean
environment (``child_environment``: no AWS credentials, no proxies; only PATH, the library
path, the temp dir and the locale) and ``-protocol_whitelist`` with the source URL's own
protocols only (``https,tls,tcp`` for a presigned URL on AWS, ``http,tcp`` on the local
emulator, ``file`` for a local path in tests), so a container that points at another resource
(a QuickTime data reference, a playlist) cannot make ffmpeg open a local file or a URL.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg
from PIL import Image

from media_process import detect
from media_process.adapters.probe import parse_probe
from media_triage_shared.deadline import Deadline
from media_triage_shared.media import (
    MediaErrorCode,
    MediaFailure,
    Rendition,
    VideoProbe,
)

MIB = 1024 * 1024

_DEMUXERS = {
    detect.MP4: "mov",
    detect.MOV: "mov",
    detect.WEBM: "matroska",
    detect.MKV: "matroska",
    detect.AVI: "avi",
}
_URL = re.compile(r"(?:https?|file)://\S+")
# What the tools may inherit from the Lambda's environment: never AWS_* (the function's
# credentials), never proxies or anything else a hostile file could make ffmpeg use or leak.
CHILD_ENVIRONMENT = ("PATH", "LD_LIBRARY_PATH", "TMPDIR", "LANG", "LC_ALL", "TZ")
_PROTOCOLS = {"https": "https,tls,tcp", "http": "http,tcp"}


@dataclass(frozen=True, slots=True)
class VideoOptions:
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    thumbnail_edge: int = 400
    thumbnail_at_seconds: float = 1.0
    proxy_edge: int = 960
    proxy_fps: float = 15.0
    proxy_max_seconds: float = 300.0
    proxy_video_kbps: int = 320
    proxy_audio_kbps: int = 64
    proxy_max_bytes: int = 15 * MIB
    io_timeout_seconds: float = 30.0  # a stalled HTTP read fails instead of hanging
    scratch_dir: str | None = None  # where the (small) proxy is encoded before its upload


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment ffmpeg and ffprobe run with: only ``CHILD_ENVIRONMENT``'s variables."""
    return {name: environ[name] for name in CHILD_ENVIRONMENT if name in environ}


def protocol_whitelist(source_url: str) -> str:
    """The protocols ffmpeg may open for ``source_url``: its own scheme's chain, nothing else
    (``file`` only for a local path, which only tests use)."""
    scheme, sep, _ = source_url.partition("://")
    if not sep:
        return "file"
    return _PROTOCOLS.get(scheme.lower(), "file" if scheme.lower() == "file" else "none")


class FfmpegVideoTool:
    """Every call runs until a ``Deadline`` (the tools' share of the processing deadline):
    each subprocess gets what is left of it, and is killed when it passes."""

    def __init__(self, options: VideoOptions | None = None) -> None:
        self.options = options or VideoOptions()

    # ------------------------------------------------------------------------ probe

    def probe_video(
        self, source_url: str, mime_type: str, *, deadline: Deadline
    ) -> VideoProbe | MediaFailure:
        label = detect.LABELS.get(mime_type, mime_type)
        args = [
            self.options.ffprobe,
            "-v",
            "error",
            *self._input_options(mime_type, source_url),
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            "-i",
            source_url,
        ]
        done = _run(args, deadline.remaining(), "ffprobe", _environment())
        if isinstance(done, MediaFailure):
            return done
        if done.returncode != 0:
            return MediaFailure(
                MediaErrorCode.CORRUPT, f"not a readable {label} file: {_stderr(done, source_url)}"
            )
        try:
            info = json.loads(done.stdout or b"{}")
        except ValueError:
            return MediaFailure(MediaErrorCode.CORRUPT, f"ffprobe could not describe the {label}")
        return parse_probe(info, label)

    # ------------------------------------------------------------------------ thumbnail

    def video_thumbnail(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        """One frame near ``thumbnail_at_seconds`` (the first frame of shorter clips), JPEG.
        The retry at 0 s shares the deadline with the first attempt: one budget, not two."""
        at = self.options.thumbnail_at_seconds
        duration = probe.duration_seconds
        start = at if duration is None or duration > at + 0.25 else 0.0
        for seek in dict.fromkeys((start, 0.0)):  # past the real end (a lying duration): retry
            result = self._frame(source_url, mime_type, seek, deadline.remaining())
            if not isinstance(result, MediaFailure) or result.code is MediaErrorCode.TIMEOUT:
                return result
        return result

    def _frame(
        self, source_url: str, mime_type: str, seek: float, timeout: float
    ) -> Rendition | MediaFailure:
        edge = self.options.thumbnail_edge
        seek_kwargs = {"ss": seek} if seek else {}
        inp = ffmpeg.input(source_url, **self._input_kwargs(mime_type, source_url), **seek_kwargs)
        out = inp["v:0"].filter(
            "scale",
            f"min({edge},iw)",
            f"min({edge},ih)",
            force_original_aspect_ratio="decrease",
        )
        stream = ffmpeg.output(
            out, "pipe:", vframes=1, format="image2pipe", vcodec="mjpeg", **{"q:v": 4}
        )
        done = _run(self._ffmpeg_args(stream), timeout, "ffmpeg (thumbnail)", _environment())
        if isinstance(done, MediaFailure):
            return done
        try:
            with Image.open(io.BytesIO(done.stdout), formats=["JPEG"]) as im:
                width, height = im.size
        except Exception:  # no frame decoded: whatever ffmpeg said is the reason
            return MediaFailure(
                MediaErrorCode.CORRUPT,
                f"no video frame could be decoded: {_stderr(done, source_url) or 'no output'}",
            )
        return Rendition(bytes(done.stdout), "image/jpeg", width, height)

    # ------------------------------------------------------------------------ proxy

    def video_proxy(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        """A small H.264/AAC MP4 for the analyzer: long edge <= ``proxy_edge``, <= ``proxy_fps``,
        capped bitrate and length (``proxy_max_seconds``) and a hard size cap."""
        opts = self.options
        fps = opts.proxy_fps if not probe.fps else min(opts.proxy_fps, probe.fps)
        covered = probe.duration_seconds
        if covered is None or covered > opts.proxy_max_seconds:
            covered = opts.proxy_max_seconds if covered is not None else None
        edge = opts.proxy_edge
        with tempfile.TemporaryDirectory(prefix="proxy-", dir=opts.scratch_dir) as tmp:
            target = Path(tmp) / "proxy.mp4"
            inp = ffmpeg.input(source_url, **self._input_kwargs(mime_type, source_url))
            video = (
                inp["v:0"]
                .filter("fps", fps=round(fps, 3))
                .filter(
                    "scale",
                    f"min({edge},iw)",
                    f"min({edge},ih)",
                    force_original_aspect_ratio="decrease",
                    force_divisible_by=2,
                )
                .filter("format", "yuv420p")
            )
            streams = [video] if probe.audio_codec is None else [video, inp["a:0"]]
            audio = (
                {"acodec": "aac", "audio_bitrate": f"{opts.proxy_audio_kbps}k", "ac": 2}
                if probe.audio_codec
                else {"an": None}
            )
            stream = ffmpeg.output(
                *streams,
                str(target),
                t=opts.proxy_max_seconds,
                vcodec="libx264",
                preset="veryfast",
                crf=28,
                maxrate=f"{opts.proxy_video_kbps}k",
                bufsize=f"{2 * opts.proxy_video_kbps}k",
                g=max(1, round(2 * fps)),
                **{"profile:v": "main", "map_metadata": -1, "sn": None, "dn": None},
                movflags="+faststart",
                fs=opts.proxy_max_bytes,
                format="mp4",
                **audio,
            )
            done = _run(
                self._ffmpeg_args(stream), deadline.remaining(), "ffmpeg (proxy)", _environment()
            )
            if isinstance(done, MediaFailure):
                return done
            if done.returncode != 0 or not target.exists() or target.stat().st_size == 0:
                return MediaFailure(
                    MediaErrorCode.CORRUPT, f"the proxy encode failed: {_stderr(done, source_url)}"
                )
            data = target.read_bytes()
        width, height = _fit_even(probe.width, probe.height, edge)
        return Rendition(data, "video/mp4", width, height, duration_seconds=covered)

    # ------------------------------------------------------------------------ helpers

    def _input_kwargs(self, mime_type: str, source_url: str) -> dict[str, Any]:
        return {
            "f": _DEMUXERS[mime_type],
            "protocol_whitelist": protocol_whitelist(source_url),
            "rw_timeout": int(self.options.io_timeout_seconds * 1_000_000),
        }

    def _input_options(self, mime_type: str, source_url: str) -> list[str]:
        kwargs = self._input_kwargs(mime_type, source_url)
        return [arg for k, v in kwargs.items() for arg in (f"-{k}", str(v))]

    def _ffmpeg_args(self, stream: Any) -> list[str]:
        head = [self.options.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y"]
        return [*head, *stream.get_args()]


def _environment() -> dict[str, str]:
    return child_environment(os.environ)


def _run(
    args: list[str], timeout: float, what: str, env: Mapping[str, str]
) -> subprocess.CompletedProcess[bytes] | MediaFailure:
    """The subprocess, killed at ``timeout`` seconds (the caller's share of the deadline), with
    ``env`` as its whole environment."""
    if timeout <= 0:
        return MediaFailure(MediaErrorCode.TIMEOUT, f"no time left for {what} before the deadline")
    try:
        return subprocess.run(
            args,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env=dict(env),
        )
    except subprocess.TimeoutExpired:
        return MediaFailure(
            MediaErrorCode.TIMEOUT, f"{what} did not finish within {timeout:.3g} s and was stopped"
        )


def _stderr(done: subprocess.CompletedProcess[bytes], source_url: str) -> str:
    """The last useful line of ffmpeg's stderr, without the (presigned) source URL."""
    text = (done.stderr or b"").decode("utf-8", "replace").replace(source_url, "<source>")
    lines = [_URL.sub("<url>", line).strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit status {done.returncode}")[:300]


def _fit_even(width: int, height: int, edge: int) -> tuple[int, int]:
    scale = min(1.0, edge / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


# ---------------------------------------------------------------------------- probe parsing
