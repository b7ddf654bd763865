"""Pillow (+ pillow-heif) implementation of the photo half of the ``MediaTool`` port.

One decode per photo, as small as the outputs allow: JPEG decodes through ``draft`` (libjpeg's
DCT scaling: 1/2, 1/4 or 1/8 of the pixels), other formats reduce by box-averaging before the
final Lanczos resize. The pixel limit is checked from the header, before any pixel is decoded,
and Pillow's own decompression-bomb warning is an error too.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from media_process import detect
from media_triage_shared import media
from media_triage_shared.media import (
    Capture,
    MediaErrorCode,
    MediaFailure,
    PhotoResult,
    Rendition,
)
from media_triage_shared.models import Gps

pillow_heif.register_heif_opener()
pillow_heif.options.THUMBNAILS = False  # the primary image only: less to parse
pillow_heif.options.DEPTH_IMAGES = False
pillow_heif.options.AUX_IMAGES = False
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is corrupt, not half grey

_PIL_FORMATS = {
    detect.JPEG: "JPEG",
    detect.PNG: "PNG",
    detect.WEBP: "WEBP",
    detect.GIF: "GIF",
    detect.HEIC: "HEIF",
    detect.HEIF: "HEIF",
}
# Formats the analyzers and browsers cannot be relied on to read: always get a display.jpg.
_CONVERT = frozenset({detect.HEIC, detect.HEIF, detect.GIF})

# EXIF tags (TIFF/EXIF 2.3 numbering).
_ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011


@dataclass(frozen=True, slots=True)
class PhotoOptions:
    thumbnail_edge: int = 400
    thumbnail_quality: int = 80
    display_edge: int = 2048
    display_quality: int = 85


class PillowPhotoTool:
    def __init__(self, options: PhotoOptions | None = None) -> None:
        self.options = options or PhotoOptions()

    def process_photo(
        self, data: bytes, mime_type: str, *, max_pixels: int
    ) -> PhotoResult | MediaFailure:
        label = detect.LABELS.get(mime_type, mime_type)
        # Pillow's own guard (process-wide) agrees with ours: it warns above the limit and
        # refuses above twice the limit while opening; both become too_many_pixels.
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                # Pillow's notes on odd metadata ("Possibly corrupt EXIF data") are not
                # failures; its decompression-bomb warning is.
                warnings.simplefilter("ignore")
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                return self._process(data, mime_type, max_pixels)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            return MediaFailure(MediaErrorCode.TOO_MANY_PIXELS, _bomb_message(str(exc)))
        except UnidentifiedImageError:
            return MediaFailure(MediaErrorCode.CORRUPT, f"not a readable {label} image")
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
            # What Pillow's decoders raise on damaged data ("image file is truncated", bad
            # chunk CRCs, broken EXIF, libheif errors...).
            return MediaFailure(MediaErrorCode.CORRUPT, f"the {label} data is damaged: {exc}")

    def _process(self, data: bytes, mime_type: str, max_pixels: int) -> PhotoResult | MediaFailure:
        opts = self.options
        im: Image.Image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[mime_type]])
        raw_w, raw_h = im.size
        if raw_w <= 0 or raw_h <= 0:
            return MediaFailure(MediaErrorCode.CORRUPT, "the image has no pixels")
        if raw_w * raw_h > max_pixels:
            return MediaFailure(
                MediaErrorCode.TOO_MANY_PIXELS,
                f"{raw_w}x{raw_h} is {raw_w * raw_h / 1e6:.1f} megapixels; "
                f"the limit is {max_pixels / 1e6:g}",
            )
        jpeg = mime_type == detect.JPEG
        if not jpeg:
            # Only JPEG has its EXIF before the pixels (and a draft mode to use it for); PNG's
            # getexif() would decode the image itself and a decode error must not be swallowed.
            im.load()
        exif = _safe_exif(im)
        heif = mime_type in (detect.HEIC, detect.HEIF)
        # HEIF carries its rotation in the container (irot/imir), which libheif applies while
        # decoding; its EXIF orientation is informational and applying it would rotate twice.
        orientation = 1 if heif else _orientation(exif)
        swapped = orientation in (5, 6, 7, 8)
        width, height = (raw_h, raw_w) if swapped else (raw_w, raw_h)
        long_edge = max(width, height)
        want_display = long_edge > opts.display_edge or mime_type in _CONVERT
        # The smallest decode that still covers the largest output (2x the thumbnail, for a
        # clean Lanczos pass): JPEG picks its DCT scale from it.
        need_edge = min(long_edge, opts.display_edge) if want_display else opts.thumbnail_edge * 2
        scale = need_edge / long_edge
        if jpeg:
            if scale < 1:
                im.draft(None, (max(1, int(raw_w * scale)), max(1, int(raw_h * scale))))
            im.load()
        if orientation != 1:
            im = ImageOps.exif_transpose(im)
        rgb = _to_rgb(im)

        display: Rendition | None = None
        source = rgb
        if want_display:
            disp = _fit(rgb, opts.display_edge, reducing_gap=3.0)
            display = _jpeg(disp, opts.display_quality)
            source = disp
        thumb = _jpeg(_fit(source, opts.thumbnail_edge, reducing_gap=2.0), opts.thumbnail_quality)
        return PhotoResult(
            width=width,
            height=height,
            capture=_capture(exif),
            thumbnail=thumb,
            display=display,
            converted=mime_type in _CONVERT,
        )


def _bomb_message(detail: str) -> str:
    return f"too many pixels to decode safely (decompression-bomb guard): {detail}"


def _safe_exif(im: Image.Image) -> Image.Exif | None:
    try:
        return im.getexif()
    except Exception:  # hostile EXIF must not fail an otherwise good photo
        return None


def _orientation(exif: Image.Exif | None) -> int:
    try:
        value = int(exif.get(_ORIENTATION, 1)) if exif is not None else 1
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    if im.mode == "F":
        return im.convert("L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode == "P" and "transparency" in im.info
    ):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _fit(im: Image.Image, edge: int, *, reducing_gap: float) -> Image.Image:
    """A copy whose long edge is at most ``edge`` (never upscaled)."""
    out = im.copy()
    if max(out.size) > edge:
        out.thumbnail((edge, edge), Image.Resampling.LANCZOS, reducing_gap=reducing_gap)
    return out


def _jpeg(im: Image.Image, quality: int) -> Rendition:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Rendition(buf.getvalue(), "image/jpeg", im.width, im.height)


# ---------------------------------------------------------------------------- EXIF metadata


def _capture(exif: Image.Exif | None) -> Capture:
    if exif is None:
        return Capture()
    try:
        exif_ifd: dict[int, Any] = dict(exif.get_ifd(_EXIF_IFD))
        gps_ifd: dict[int, Any] = dict(exif.get_ifd(_GPS_IFD))
    except Exception:  # a broken sub-IFD: keep what the main IFD has
        exif_ifd, gps_ifd = {}, {}
    taken_at = _taken_at(exif_ifd.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME))
    return Capture(
        taken_at=_with_offset(taken_at, exif_ifd.get(_OFFSET_TIME_ORIGINAL)),
        gps=_gps(gps_ifd),
        camera=_camera(exif.get(_MAKE), exif.get(_MODEL)),
    )


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _taken_at(value: Any) -> str | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` (local time of the camera) -> ISO-8601."""
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _with_offset(taken_at: str | None, offset: Any) -> str | None:
    text = _text(offset)
    if taken_at is None or text is None or len(text) != 6 or text[0] not in "+-":
        return taken_at
    return taken_at + ("Z" if text[1:] == "00:00" else text)


def _rational(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator)
        return float(Fraction(int(value[0]), int(value[1])))
    return float(value)


def _gps(ifd: dict[int, Any]) -> Gps | None:
    try:
        lat_ref, lat, lon_ref, lon = ifd[1], ifd[2], ifd[3], ifd[4]
        lat_deg = sum(_rational(v) / 60**i for i, v in enumerate(lat))
        lon_deg = sum(_rational(v) / 60**i for i, v in enumerate(lon))
        if (_text(lat_ref) or "N").upper().startswith("S"):
            lat_deg = -lat_deg
        if (_text(lon_ref) or "E").upper().startswith("W"):
            lon_deg = -lon_deg
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError, OverflowError):
        return None
    if lat_deg == lon_deg == 0:  # "no fix" written as zeros
        return None
    # media.gps drops what is not finite or out of range: an altitude of 0/0 (NaN, written by
    # some phones) loses the altitude, not the position.
    return media.gps(_round(lat_deg, 7), _round(lon_deg, 7), _altitude(ifd))


def _altitude(ifd: dict[int, Any]) -> float | None:
    if 6 not in ifd:
        return None
    try:
        alt = _rational(ifd[6])
        ref = ifd.get(5, 0)
        if (ref[0] if isinstance(ref, bytes) and ref else ref) == 1:
            alt = -alt
    except (TypeError, ValueError, ZeroDivisionError, IndexError, OverflowError):
        return None
    return _round(alt, 2)


def _round(value: float, digits: int) -> float:
    return round(value, digits) if math.isfinite(value) else value


def _camera(make: Any, model: Any) -> str | None:
    make_s, model_s = _text(make), _text(model)
    if make_s and model_s and model_s.lower().startswith(make_s.lower()):
        return model_s[:128]
    joined = " ".join(p for p in (make_s, model_s) if p)
    return joined[:128] or None
