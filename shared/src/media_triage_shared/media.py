"""Media vocabulary: stable error and warning codes of a file row, and the value types of the
``MediaTool`` port (ports.py) that MediaProcess's Pillow and ffmpeg adapters implement.

Failures are values (``MediaFailure``), never exceptions: a bad file becomes ``invalid`` with a
code the page and the API can rely on, and a human message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from media_triage_shared.models import Gps


class MediaErrorCode(StrEnum):
    """``error.code`` of an ``invalid`` file row. Stable: the page and the API key on them."""

    UNSUPPORTED_TYPE = "unsupported_type"  # content is not a supported photo or video
    CORRUPT = "corrupt"  # looks like a supported type but does not decode
    EMPTY = "empty"  # zero bytes
    TOO_LARGE = "too_large"  # bytes above the photo / video limit
    TOO_MANY_PIXELS = "too_many_pixels"  # decompression-bomb guard (photos)
    TOO_LONG = "too_long"  # video duration above the limit
    NO_VIDEO_STREAM = "no_video_stream"  # a container with no picture (audio only, ...)
    TIMEOUT = "timeout"  # the processing deadline passed before the file could be judged
    MISSING = "missing"  # the object was gone when processing started (cancelled job)
    INTERNAL = "internal"  # an unexpected failure on the last attempt (a bug; original kept)


class MediaWarningCode(StrEnum):
    """Prefix of an entry of a file row's ``warnings`` (``"<code>: <message>"``)."""

    EXTENSION_MISMATCH = "extension_mismatch"  # the name says one type, the content another
    PROXY_SKIPPED = "proxy_skipped"  # deadline: valid, but no proxy.mp4
    PROXY_FAILED = "proxy_failed"  # the encoder failed: valid, but no proxy.mp4
    PROXY_TRUNCATED = "proxy_truncated"  # the proxy covers only the start of a long video


def warning(code: MediaWarningCode, message: str) -> str:
    return f"{code.value}: {message}"


def gps(lat: Any, lon: Any, alt: Any = None) -> Gps | None:
    """A ``Gps`` from what a file says, or None. Metadata is untrusted: a non-finite or
    out-of-range position is no position; a bad altitude alone (EXIF ``0/0`` reads as NaN) is
    dropped and the position kept. Never raises."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError, OverflowError):
        return None
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        return None
    try:
        position = Gps(lat=lat_f, lon=lon_f)
    except ValidationError:
        return None
    if alt is None:
        return position
    try:
        return Gps(lat=lat_f, lon=lon_f, alt=float(alt))
    except (TypeError, ValueError, OverflowError):  # ValidationError is a ValueError
        return position


@dataclass(frozen=True, slots=True)
class MediaFailure:
    code: MediaErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Rendition:
    """An encoded derived object (thumb.jpg, display.jpg, proxy.mp4)."""

    data: bytes
    content_type: str
    width: int
    height: int
    duration_seconds: float | None = None  # videos: the span the rendition covers


@dataclass(frozen=True, slots=True)
class Capture:
    """When, where and with what a photo or video was taken (from EXIF / container tags)."""

    taken_at: str | None = None  # ISO-8601; with an offset or Z when the source says so
    gps: Gps | None = None
    camera: str | None = None


@dataclass(frozen=True, slots=True)
class PhotoResult:
    width: int  # as displayed: EXIF orientation / HEIF transforms applied
    height: int
    capture: Capture
    thumbnail: Rendition
    display: Rendition | None  # display.jpg: a downscaled copy and/or a JPEG conversion
    converted: bool  # display.jpg is a format conversion (HEIC/HEIF, GIF -> JPEG)


@dataclass(frozen=True, slots=True)
class VideoProbe:
    container: str  # ffprobe's format_name
    width: int  # as displayed: rotation applied
    height: int
    duration_seconds: float | None
    fps: float | None
    rotation: int  # degrees from the display matrix, 0 when none
    video_codec: str
    audio_codec: str | None
    capture: Capture
