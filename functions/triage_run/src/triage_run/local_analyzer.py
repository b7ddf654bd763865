"""The offline analyzer: real image checks with Pillow, no model, no network.

Every photo is judged on its preview (the 400 px thumbnail, else the display image or a small
original), scaled to at most ``ANALYSIS_EDGE`` px and converted to grayscale, so the numbers
below do not depend on the camera's resolution. Videos are judged on ``VIDEO_FRAMES`` frames
sampled from the proxy with ffmpeg (or on the video's thumbnail when there is no proxy or no
ffmpeg); a video has an issue when at least half of its frames have it.

Checks and thresholds (levels are 0-255 luminance):

- **dark**: mean luminance < ``DARK_MEAN`` (45) *and* at least ``DARK_FRACTION`` (70 %) of the
  pixels below ``DARK_LEVEL`` (32): underexposed, not merely a dark subject on a bright scene.
- **overexposed**: mean >= ``BRIGHT_MEAN`` (210) *and* at least ``BRIGHT_FRACTION`` (55 %) of
  the pixels at or above ``BRIGHT_LEVEL`` (240): blown highlights over most of the frame.
- **no_subject**: luminance standard deviation < ``FLAT_STDDEV`` (6): a wall, a lens cap, a
  pocket shot (checked when the exposure is fine).
- **blurry**: sharpness < ``BLUR_THRESHOLD`` (40; ``VIDEO_BLUR_THRESHOLD`` 20 for video frames,
  where some motion blur is normal). Sharpness is the variance of a 3x3 Laplacian (edge
  energy) over the grayscale preview; a sharp photo scores in the hundreds, a photo blurred
  by ~1 % of its width scores below 20. Only checked on well exposed, non-uniform images.
- **duplicate** (near-duplicates within the job, e.g. burst shots): a 128-bit difference hash
  (dHash: 9x8 row and 8x9 column gradients); two files whose hashes differ in at most
  ``DUPLICATE_MAX_DISTANCE`` (16) bits are the same picture (re-encodes and 1 % shifts differ
  in < 10 bits, different scenes in ~50-70). Of a group, the best file is kept (no other
  issue first, then the sharpest); the others are discarded. Uniform images carry no hash.

A file whose preview cannot be read or decoded gets no verdict here: the core keeps it with
reason "not evaluated" (never discard what was not looked at).
"""

from __future__ import annotations

import io
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFilter, ImageStat, UnidentifiedImageError

from media_triage_shared.logging import get_logger
from media_triage_shared.models import Issue, MediaItem, MediaRef, Verdict, VerdictKind
from media_triage_shared.ports import ObjectStore

ANALYSIS_EDGE = 400
DARK_LEVEL, DARK_MEAN, DARK_FRACTION = 32, 45.0, 0.70
BRIGHT_LEVEL, BRIGHT_MEAN, BRIGHT_FRACTION = 240, 210.0, 0.55
FLAT_STDDEV = 6.0
BLUR_THRESHOLD = 40.0
VIDEO_BLUR_THRESHOLD = 20.0
DUPLICATE_MAX_DISTANCE = 16
VIDEO_FRAMES = 3
FRAME_TIMEOUT_SECONDS = 20.0

_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)
# Scores: keeps 55-100, discards 0-40, both rising with sharpness and exposure quality.
_KEEP_BASE, _KEEP_SPAN, _DISCARD_SPAN = 55, 45, 40

log = get_logger()


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


@dataclass
class Judgement:
    item: MediaItem
    issues: list[Issue]
    sharpness: float
    dhash: int | None  # None: carries no information (uniform image)
    details: list[str]
    quality: float  # 0..1, for the score
    duplicate_of: Judgement | None = field(default=None, repr=False)


def _details(m: Measures, issues: list[Issue], blur_threshold: float) -> list[str]:
    text = {
        Issue.DARK: f"too dark (mean brightness {m.mean:.0f}/255)",
        Issue.OVEREXPOSED: f"overexposed ({m.bright_fraction:.0%} of the picture blown out)",
        Issue.NO_SUBJECT: "almost uniform picture: nothing in frame",
        Issue.BLURRY: f"out of focus (sharpness {m.sharpness:.0f} < {blur_threshold:.0f})",
    }
    return [text[i] for i in issues if i in text]


def _quality(m: Measures, blur_threshold: float) -> float:
    sharp = min(1.0, m.sharpness / (8 * blur_threshold))
    exposure = 1.0 - max(m.dark_fraction, m.bright_fraction)
    return max(0.0, min(1.0, 0.6 * sharp + 0.4 * exposure))


def judge_frames(item: MediaItem, frames: Sequence[Measures], *, video: bool) -> Judgement:
    threshold = VIDEO_BLUR_THRESHOLD if video else BLUR_THRESHOLD
    per_frame = [f.issues(threshold) for f in frames]
    issues = [i for i in Issue if sum(i in found for found in per_frame) * 2 >= len(frames)]
    middle = sorted(frames, key=lambda f: f.sharpness)[len(frames) // 2]
    return Judgement(
        item=item,
        issues=issues,
        sharpness=statistics.median(f.sharpness for f in frames),
        dhash=None if middle.is_flat else frames[len(frames) // 2].dhash,
        details=_details(middle, issues, threshold),
        quality=statistics.fmean(_quality(f, threshold) for f in frames),
    )


def group_duplicates(judged: Sequence[Judgement]) -> None:
    """Mark near-duplicates (same media type, dHash distance <= threshold): in each group the
    best file (no other issue first, then the sharpest) stays, the others point at it."""
    parent = list(range(len(judged)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(judged):
        if a.dhash is None:
            continue
        for j in range(i + 1, len(judged)):
            b = judged[j]
            if (
                b.dhash is not None
                and a.item.media_type is b.item.media_type
                and hamming(a.dhash, b.dhash) <= DUPLICATE_MAX_DISTANCE
            ):
                parent[find(j)] = find(i)
    groups: dict[int, list[Judgement]] = {}
    for index, judgement in enumerate(judged):
        groups.setdefault(find(index), []).append(judgement)
    for members in groups.values():
        if len(members) < 2:
            continue
        best = max(members, key=lambda m: (not m.issues, m.sharpness))
        for member in members:
            if member is not best:
                member.duplicate_of = best


def to_verdict(j: Judgement) -> Verdict:
    issues = list(j.issues)
    details = list(j.details)
    if j.duplicate_of is not None:
        issues.append(Issue.DUPLICATE)
        details.append(f'near-duplicate of "{j.duplicate_of.item.filename}", which is sharper')
    if issues:
        return Verdict(
            file_id=j.item.file_id,
            filename=j.item.filename,
            verdict=VerdictKind.DISCARD,
            reason="; ".join(details),
            score=round(_DISCARD_SPAN * j.quality),
            issues=[i.value for i in issues],
        )
    kind = "video" if j.item.media_type.value == "video" else "photo"
    return Verdict(
        file_id=j.item.file_id,
        filename=j.item.filename,
        verdict=VerdictKind.KEEP,
        reason=f"well exposed and sharp {kind} (sharpness {j.sharpness:.0f})",
        score=_KEEP_BASE + round(_KEEP_SPAN * j.quality),
        issues=[],
    )


class LocalAnalyzer:
    """Analyzer port: Pillow checks on previews read through the ObjectStore."""

    name = "local"
    model: str | None = None
    url_ttl_seconds = 0  # reads the objects itself: no presigned URLs needed

    def __init__(
        self, store: ObjectStore, *, ffmpeg: str | None = "ffmpeg", workers: int | None = None
    ) -> None:
        self._store = store
        self._ffmpeg = shutil.which(ffmpeg) if ffmpeg else None
        self._workers = workers or min(8, (os.cpu_count() or 2) * 2)

    # ------------------------------------------------------------------ per item

    def _read(self, ref: MediaRef) -> bytes:
        try:
            return self._store.get_bytes(ref.key)
        except Exception as exc:  # missing object, S3 error: the file is not evaluated
            raise PreviewUnreadable(f"cannot read preview: {type(exc).__name__}") from exc

    def _image_measures(self, ref: MediaRef) -> Measures:
        with decode(self._read(ref)) as img:
            return measure(img)

    def _video_frames(self, ref: MediaRef, duration: float | None) -> list[Measures]:
        if self._ffmpeg is None:
            raise PreviewUnreadable("ffmpeg is not available")
        data = self._read(ref)
        with tempfile.TemporaryDirectory(prefix="triage-") as tmp:
            path = Path(tmp) / "proxy.mp4"
            path.write_bytes(data)
            if duration and duration > 0:
                stamps = [duration * f for f in (0.15, 0.5, 0.85)][:VIDEO_FRAMES]
            else:
                stamps = [0.0, 1.0, 2.0][:VIDEO_FRAMES]
            frames = []
            for at in stamps:
                out = subprocess.run(
                    [
                        self._ffmpeg,
                        "-hide_banner",
                        "-loglevel",
                        "error",
                        "-ss",
                        f"{at:.3f}",
                        "-i",
                        str(path),
                        "-frames:v",
                        "1",
                        "-f",
                        "image2pipe",
                        "-c:v",
                        "bmp",
                        "-",
                    ],
                    capture_output=True,
                    timeout=FRAME_TIMEOUT_SECONDS,
                    check=False,
                )
                if out.returncode == 0 and out.stdout:
                    with decode(out.stdout) as img:
                        frames.append(measure(img))
        if not frames:
            raise PreviewUnreadable("no frame could be decoded from the video")
        return frames

    def judge(self, item: MediaItem) -> Judgement:
        if item.media.mime_type.startswith("video/"):
            try:
                frames = self._video_frames(item.media, item.duration_seconds)
            except (PreviewUnreadable, OSError, subprocess.SubprocessError) as exc:
                if item.thumbnail is None:
                    raise PreviewUnreadable(str(exc)) from exc
                frames = [self._image_measures(item.thumbnail)]
            return judge_frames(item, frames, video=True)
        ref = item.thumbnail or item.media  # the thumbnail is enough, and cheapest
        try:
            measures = self._image_measures(ref)
        except PreviewUnreadable:
            if ref is item.media:
                raise
            measures = self._image_measures(item.media)
        return judge_frames(item, [measures], video=item.media_type.value == "video")

    # ------------------------------------------------------------------ the port

    def with_model(self, model: str) -> LocalAnalyzer:
        return self  # no model to choose

    def analyze(self, items: Sequence[MediaItem], *, deadline: float) -> list[Verdict]:
        judged: dict[str, Judgement] = {}
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="local-analyzer")
        try:
            pending: dict[Future[Judgement], MediaItem] = {
                pool.submit(self.judge, item): item for item in items
            }
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("triage.local_deadline", unjudged=len(pending))
                    break
                done, _ = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = pending.pop(fut)
                    try:
                        judged[item.file_id] = fut.result()
                    except PreviewUnreadable as exc:
                        log.warning(
                            "triage.preview_unreadable", file_id=item.file_id, error=str(exc)
                        )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        ordered = [judged[i.file_id] for i in items if i.file_id in judged]
        group_duplicates(ordered)
        return [to_verdict(j) for j in ordered]
