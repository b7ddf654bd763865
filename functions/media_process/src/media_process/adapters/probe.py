"""ffprobe's JSON -> ``VideoProbe``: the picture, the length and the capture metadata, every
value untrusted (a missing, non-numeric or non-finite field is None, never a failure)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from media_triage_shared import media
from media_triage_shared.media import Capture, MediaErrorCode, MediaFailure, VideoProbe
from media_triage_shared.models import Gps

_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _rate(value: Any) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _number(value)
    num, _, den = value.partition("/")
    numerator, denominator = _number(num), _number(den)
    return None if numerator is None or denominator is None else numerator / denominator


def _rotation(stream: dict[str, Any]) -> int:
    """Degrees of the display matrix (or the legacy ``rotate`` tag), in 0..359."""
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            try:
                return round(float(side["rotation"])) % 360
            except (TypeError, ValueError):
                return 0
    try:
        return int((stream.get("tags") or {}).get("rotate", 0)) % 360
    except (TypeError, ValueError):
        return 0


def parse_probe(info: dict[str, Any], label: str) -> VideoProbe | MediaFailure:
    streams = [s for s in info.get("streams") or [] if isinstance(s, dict)]
    fmt = info.get("format") or {}
    if not streams:
        return MediaFailure(MediaErrorCode.CORRUPT, f"the {label} file holds no streams")
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos:
        kinds = sorted({str(s.get("codec_type")) for s in streams})
        return MediaFailure(
            MediaErrorCode.NO_VIDEO_STREAM,
            f"the {label} file has no video, only {', '.join(kinds)}",
        )
    video = videos[0]
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        return MediaFailure(MediaErrorCode.CORRUPT, f"the {label} video stream has no picture size")
    rotation = _rotation(video)
    if rotation in (90, 270):
        width, height = height, width
    duration = _number(fmt.get("duration")) or _number(video.get("duration"))
    return VideoProbe(
        container=str(fmt.get("format_name") or ""),
        width=width,
        height=height,
        duration_seconds=None if duration is None else round(duration, 3),
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        rotation=rotation,
        video_codec=str(video.get("codec_name") or "unknown"),
        audio_codec=str(audios[0].get("codec_name") or "unknown") if audios else None,
        capture=_capture({k.lower(): v for k, v in (fmt.get("tags") or {}).items()}),
    )


def _capture(tags: dict[str, Any]) -> Capture:
    camera = ""
    for make, model in (
        ("com.apple.quicktime.make", "com.apple.quicktime.model"),
        ("com.android.manufacturer", "com.android.model"),
        ("make", "model"),
    ):
        camera = camera or " ".join(str(tags[k]).strip() for k in (make, model) if tags.get(k))
    return Capture(
        taken_at=_taken_at(tags.get("com.apple.quicktime.creationdate"))
        or _taken_at(tags.get("creation_time")),
        gps=_location(tags.get("com.apple.quicktime.location.iso6709") or tags.get("location")),
        camera=camera[:128] or None,
    )


def _taken_at(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.year < 1971:  # 1904/1970 epochs of "no date" in QuickTime/MP4 headers
        return None
    if parsed.tzinfo is not None and parsed.utcoffset() == UTC.utcoffset(None):
        return parsed.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
    return parsed.replace(microsecond=0).isoformat()


def _location(value: Any) -> Gps | None:
    """ISO 6709 (``+48.8577+002.2950+035.000/``): an altitude that is no number (a 400-digit one
    is inf) is dropped, the position kept; a position out of range is no position."""
    match = _ISO6709.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    return media.gps(match.group(1), match.group(2), match.group(3))
