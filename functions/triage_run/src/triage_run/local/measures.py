"""Measures of one image: exposure, contrast, sharpness (Laplacian variance) and a dHash."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageFilter, ImageStat, UnidentifiedImageError

from media_triage_shared.models import Issue

ANALYSIS_EDGE = 400
DARK_LEVEL, DARK_MEAN, DARK_FRACTION = 32, 45.0, 0.70
BRIGHT_LEVEL, BRIGHT_MEAN, BRIGHT_FRACTION = 240, 210.0, 0.55
FLAT_STDDEV = 6.0
BLUR_THRESHOLD = 40.0
VIDEO_BLUR_THRESHOLD = 20.0
DUPLICATE_MAX_DISTANCE = 16


_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)


class PreviewUnreadable(Exception):
    """The preview object could not be fetched or decoded."""


@dataclass(frozen=True, slots=True)
class Measures:
    mean: float
    dark_fraction: float
    bright_fraction: float
    stddev: float
    sharpness: float
    dhash: int

    @property
    def exposure_issue(self) -> Issue | None:
        if self.mean < DARK_MEAN and self.dark_fraction >= DARK_FRACTION:
            return Issue.DARK
        if self.mean >= BRIGHT_MEAN and self.bright_fraction >= BRIGHT_FRACTION:
            return Issue.OVEREXPOSED
        return None

    @property
    def is_flat(self) -> bool:
        return self.stddev < FLAT_STDDEV

    def issues(self, blur_threshold: float = BLUR_THRESHOLD) -> list[Issue]:
        exposure = self.exposure_issue
        if exposure is not None:
            return [exposure]
        if self.is_flat:
            return [Issue.NO_SUBJECT]
        return [Issue.BLURRY] if self.sharpness < blur_threshold else []


def _dhash(gray: Image.Image) -> int:
    rows = gray.resize((9, 8), Image.Resampling.BOX).tobytes()
    cols = gray.resize((8, 9), Image.Resampling.BOX).tobytes()
    bits = 0
    for y in range(8):
        for x in range(8):
            bits = bits << 1 | (rows[y * 9 + x] < rows[y * 9 + x + 1])
    for y in range(8):
        for x in range(8):
            bits = bits << 1 | (cols[y * 8 + x] < cols[(y + 1) * 8 + x])
    return bits


def measure(img: Image.Image) -> Measures:
    """Exposure, contrast, sharpness and a perceptual hash of one image."""
    gray = img.convert("L")
    if max(gray.size) > ANALYSIS_EDGE:
        gray.thumbnail((ANALYSIS_EDGE, ANALYSIS_EDGE), Image.Resampling.BILINEAR)
    hist = gray.histogram()
    total = sum(hist) or 1
    mean = sum(level * count for level, count in enumerate(hist)) / total
    var = sum(count * (level - mean) ** 2 for level, count in enumerate(hist)) / total
    w, h = gray.size
    edges = gray.filter(_LAPLACIAN)
    if w > 2 and h > 2:  # Pillow leaves the 1 px border unfiltered
        edges = edges.crop((1, 1, w - 1, h - 1))
    return Measures(
        mean=mean,
        dark_fraction=sum(hist[:DARK_LEVEL]) / total,
        bright_fraction=sum(hist[BRIGHT_LEVEL:]) / total,
        stddev=math.sqrt(var),
        sharpness=float(ImageStat.Stat(edges).var[0]),
        dhash=_dhash(gray),
    )


def decode(data: bytes) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.draft("L", (ANALYSIS_EDGE, ANALYSIS_EDGE))  # JPEG: decode at a reduced scale
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PreviewUnreadable(f"cannot decode preview: {exc}") from exc
    return img


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
