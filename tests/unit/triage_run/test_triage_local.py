"""The offline analyzer on generated media: exposure, sharpness, near-duplicates, videos."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from support import triage_images as ti
from support.fakes import FakeObjectStore
from triage_harness import JOB, SESSION, World, derived, row

from media_triage_shared.models import (
    NOT_EVALUATED,
    MediaItem,
    MediaRef,
    MediaType,
    TriageInput,
    Verdict,
    VerdictKind,
)
from triage_run import core
from triage_run.local import LocalAnalyzer
from triage_run.local import measures as la

FFMPEG = Path(ti.FFMPEG)
needs_ffmpeg = pytest.mark.skipif(not FFMPEG.exists(), reason="ffmpeg not installed")


class Batch:
    """Thumbnails in a fake store, as MediaProcess leaves them."""

    def __init__(self) -> None:
        self.store = FakeObjectStore()
        self.items: list[MediaItem] = []

    def photo(self, file_id: str, img: Image.Image, *, thumb: bool = True) -> MediaItem:
        data = ti.jpeg(img)
        if thumb:
            key = derived(file_id, "thumb.jpg")
            self.store.put_bytes(key, ti.thumbnail(data), "image/jpeg")
        else:
            key = derived(file_id, "display.jpg")
            self.store.put_bytes(key, data, "image/jpeg")
        ref = MediaRef(key=key, mime_type="image/jpeg")
        item = MediaItem(
            file_id=file_id,
            filename=f"{file_id}.jpg",
            media_type=MediaType.PHOTO,
            media=ref,
            thumbnail=ref if thumb else None,
        )
        self.items.append(item)
        return item

    def video(
        self, file_id: str, proxy: Path | None, thumb: Image.Image | None = None
    ) -> MediaItem:
        thumb_ref = None
        if thumb is not None:
            thumb_ref = MediaRef(key=derived(file_id, "thumb.jpg"), mime_type="image/jpeg")
            self.store.put_bytes(thumb_ref.key, ti.thumbnail(ti.jpeg(thumb)), "image/jpeg")
        media = thumb_ref
        if proxy is not None:
            media = MediaRef(key=derived(file_id, "proxy.mp4"), mime_type="video/mp4")
            self.store.put_bytes(media.key, proxy.read_bytes(), "video/mp4")
        assert media is not None
        item = MediaItem(
            file_id=file_id,
            filename=f"{file_id}.mp4",
            media_type=MediaType.VIDEO,
            media=media,
            thumbnail=thumb_ref,
            duration_seconds=2.0,
        )
        self.items.append(item)
        return item

    def analyze(self, **kw: object) -> dict[str, Verdict]:
        analyzer = LocalAnalyzer(self.store, **kw)  # type: ignore[arg-type]
        found = analyzer.analyze(self.items, deadline=time.monotonic() + 60)
        return {v.file_id: v for v in found}


def thumb_measures(img: Image.Image) -> la.Measures:
    with la.decode(ti.thumbnail(ti.jpeg(img))) as decoded:
        return la.measure(decoded)


# ---------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize("seed", range(4))
def test_thresholds_separate_generated_images_with_margin(seed: int) -> None:
    scene = ti.scene(seed)
    sharp = thumb_measures(scene)
    assert sharp.issues() == []
    assert sharp.sharpness > 5 * la.BLUR_THRESHOLD  # sharp photos score in the hundreds
    assert sharp.stddev > la.FLAT_STDDEV * 2
    assert la.DARK_MEAN < sharp.mean < la.BRIGHT_MEAN

    blurry = thumb_measures(ti.blurry(scene))
    assert blurry.sharpness < la.BLUR_THRESHOLD / 2
    assert blurry.issues() == ["blurry"]

    dark = thumb_measures(ti.dark(scene))
    assert dark.mean < la.DARK_MEAN / 2
    assert dark.dark_fraction > 0.95
    assert dark.issues() == ["dark"]

    over = thumb_measures(ti.overexposed(scene))
    assert over.bright_fraction > la.BRIGHT_FRACTION + 0.2
    assert over.issues() == ["overexposed"]


def test_a_uniform_frame_has_no_subject_and_no_hash_to_match() -> None:
    flat = thumb_measures(ti.flat())
    assert flat.issues() == ["no_subject"]
    lens_cap = thumb_measures(ti.flat((8, 8, 8)))
    assert lens_cap.issues() == ["dark"]  # exposure is named first


def test_near_duplicate_hash_matches_burst_twins_and_not_other_scenes() -> None:
    hashes = [thumb_measures(ti.scene(seed)).dhash for seed in range(10)]
    closest_strangers = min(la.hamming(a, b) for a, b in itertools.combinations(hashes, 2))
    assert closest_strangers > 2 * la.DUPLICATE_MAX_DISTANCE
    for seed in range(3):
        scene = ti.scene(seed)
        twin = thumb_measures(ti.burst_twin(scene)).dhash
        assert la.hamming(hashes[seed], twin) <= 3 * la.DUPLICATE_MAX_DISTANCE // 4


# ---------------------------------------------------------------------------- verdicts


def test_a_generated_batch_gets_the_right_verdicts_and_issues() -> None:
    b = Batch()
    b.photo("good-a", ti.scene(10))
    b.photo("good-b", ti.scene(11))
    b.photo("dark", ti.dark(ti.scene(12)))
    b.photo("blurry", ti.blurry(ti.scene(13)))
    b.photo("overexposed", ti.overexposed(ti.scene(14)))
    b.photo("wall", ti.flat())
    verdicts = b.analyze()

    assert set(verdicts) == {i.file_id for i in b.items}
    for good in ("good-a", "good-b"):
        assert verdicts[good].verdict is VerdictKind.KEEP, verdicts[good]
        assert verdicts[good].issues == []
        assert verdicts[good].score >= 55
    expected = {
        "dark": ["dark"],
        "blurry": ["blurry"],
        "overexposed": ["overexposed"],
        "wall": ["no_subject"],
    }
    for file_id, issues in expected.items():
        v = verdicts[file_id]
        assert (v.verdict, v.issues) == (VerdictKind.DISCARD, issues), v
        assert v.score <= 40
        assert v.reason
    assert "too dark" in verdicts["dark"].reason
    assert "out of focus" in verdicts["blurry"].reason


def test_of_near_duplicates_the_sharpest_is_kept() -> None:
    b = Batch()
    scene = ti.scene(20)
    b.photo("burst-1-soft", ti.slightly_soft(scene))
    b.photo("burst-2-sharp", scene)
    b.photo("burst-3-twin", ti.burst_twin(scene))
    b.photo("other", ti.scene(21))
    verdicts = b.analyze()

    assert verdicts["burst-2-sharp"].verdict is VerdictKind.KEEP
    assert verdicts["other"].verdict is VerdictKind.KEEP
    for dup in ("burst-1-soft", "burst-3-twin"):
        assert verdicts[dup].verdict is VerdictKind.DISCARD
        assert "duplicate" in verdicts[dup].issues
        assert 'near-duplicate of "burst-2-sharp.jpg"' in verdicts[dup].reason


def test_the_display_image_is_used_when_there_is_no_thumbnail() -> None:
    b = Batch()
    b.photo("no-thumb", ti.blurry(ti.scene(30)), thumb=False)
    assert b.analyze()["no-thumb"].issues == ["blurry"]


def test_unreadable_previews_get_no_verdict_and_the_core_keeps_them() -> None:
    world = World()
    world.job(expected=3)
    world.add(row("garbage"), row("missing"), row("fine"))
    world.store.put_bytes(derived("garbage", "thumb.jpg"), b"\xff\xd8\xff not a jpeg", "image/jpeg")
    world.store.put_bytes(derived("fine", "thumb.jpg"), ti.thumbnail(ti.jpeg(ti.scene(5))), "")
    analyzer = LocalAnalyzer(world.store, ffmpeg=None)

    core.triage(
        TriageInput(session_id=SESSION, job_id=JOB),
        files=world.files,
        jobs=world.jobs,
        store=world.store,
        analyzer=analyzer,
        budget_seconds=60,
    )
    rows = world.stored()
    assert rows["fine"].verdict is VerdictKind.KEEP
    assert rows["fine"].reason != NOT_EVALUATED
    for fid in ("garbage", "missing"):
        assert (rows[fid].verdict, rows[fid].reason) == (VerdictKind.KEEP, NOT_EVALUATED)
    summary = world.job_row().summary
    assert summary is not None
    assert (summary.analyzer, summary.model) == ("local", None)


def test_a_passed_deadline_returns_without_judging() -> None:
    b = Batch()
    b.photo("a", ti.scene(1))
    analyzer = LocalAnalyzer(b.store)
    assert analyzer.analyze(b.items, deadline=time.monotonic() - 1) == []


# ---------------------------------------------------------------------------- videos


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    if not FFMPEG.exists():
        pytest.skip("ffmpeg not installed")
    tmp = tmp_path_factory.mktemp("videos")
    return {kind: ti.video(tmp / f"{kind}.mp4", kind) for kind in ("good", "dark", "blurry")}


@needs_ffmpeg
def test_videos_are_judged_on_frames_sampled_from_the_proxy(videos: dict[str, Path]) -> None:
    b = Batch()
    for kind, path in videos.items():
        # a misleading thumbnail: the verdict must come from the proxy's frames
        b.video(f"clip-{kind}", path, thumb=ti.scene(40 + len(b.items)))
    verdicts = b.analyze()

    assert verdicts["clip-good"].verdict is VerdictKind.KEEP
    assert "video" in verdicts["clip-good"].reason
    assert verdicts["clip-dark"].issues == ["dark"]
    assert verdicts["clip-blurry"].verdict is VerdictKind.DISCARD
    assert "blurry" in verdicts["clip-blurry"].issues


@needs_ffmpeg
def test_without_ffmpeg_a_video_falls_back_to_its_thumbnail(videos: dict[str, Path]) -> None:
    b = Batch()
    b.video("clip", videos["good"], thumb=ti.dark(ti.scene(50)))
    b.video("no-thumb", videos["good"])
    verdicts = b.analyze(ffmpeg=None)
    assert verdicts["clip"].issues == ["dark"]  # judged on the (dark) thumbnail
    assert "no-thumb" not in verdicts  # nothing to look at: the core keeps it


def test_a_video_without_proxy_is_judged_on_its_thumbnail() -> None:
    b = Batch()
    b.video("thumb-only", None, thumb=ti.overexposed(ti.scene(60)))
    assert b.analyze()["thumb-only"].issues == ["overexposed"]
