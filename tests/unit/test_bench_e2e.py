"""``make bench-e2e`` (issue 15 item 2): camera-roll batches of realistic sizes, cached; the
tail after the last byte split from the CLI's polls; the targets printed beside the figures."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1].parent
sys.path.insert(0, str(ROOT / "devtools"))

from bench_e2e import Batch, PipelineTimes, Row, growth, pipeline_times, table  # noqa: E402
from sample_batch import (  # noqa: E402
    CAMERA_PHOTO,
    camera_photo,
    landscape,
    sensor_noise,
    write_camera_roll,
)

from media_triage_cli.command import Outcome  # noqa: E402


def test_the_tail_is_split_into_last_file_processing_wake_up_lag_and_triage() -> None:
    outcome = Outcome(
        0,
        results={"status": "complete"},
        timeline={"upload_start": 0.0, "upload_done": 10.0, "done": 13.1},
        polls=[
            (9.0, "processing", 3),
            (10.25, "processing", 4),
            (11.0, "processing", 5),  # every file processed
            (12.0, "analyzing", 5),  # TriageRun started
            (13.0, "complete", 5),
        ],
        targets=[("f1", "IMG_0001.jpg", "k1"), ("f2", "IMG_0002.jpg", "k2")],
        uploaded={"f1": 10.0, "f2": 7.5},
    )

    times = pipeline_times(outcome, expected=5)

    assert (times.upload, times.processing, times.wake, times.triage) == (10.0, 1.0, 1.0, 1.0)
    assert times.tail == 3.0
    assert times.total == 13.0
    assert times.last_file == "IMG_0001.jpg"  # the file whose last byte went last
    assert times.analyzing_seen


def _row(batch: str, rate: float, *, total: float, tail: float, own: float) -> Row:
    pipe = PipelineTimes(
        upload=total - tail,
        processing=tail - 1.0,
        wake=0.5,
        triage=0.5,
        total=total,
        analyzing_seen=True,
        status="complete",
        last_file="IMG_0036.jpg",
        poll_interval=0.25,
    )
    serial = {"download": 5.0, "processing": 40.0, "triage": 5.0, "engine": "x"}
    return Row(batch, 36, 4, 150.0, rate, pipe, 60.0, serial, own)


def test_the_table_puts_each_target_beside_its_figure() -> None:
    rows = [
        _row("mix36", 2_500_000, total=62.0, tail=2.0, own=0.8),  # serial 110 s: 0.56x
        _row("mix36", 12_500_000, total=80.0, tail=9.0, own=0.8),
    ]

    lines = table(rows)

    at_20, at_100 = lines[2], lines[3]
    assert "20 Mbit/s" in at_20
    assert "0.56x (<= 0.6x: met)" in at_20
    assert "<= 2.7 s (own 0.80 s): met" in at_20  # 1.5 x 0.8 + triage 0.5 + 1
    assert "<= 0.6x" not in at_100  # the ratio target is stated at 20 Mbit/s only
    assert "**not met**" in at_100  # a 9 s tail over its 2.7 s target


def test_the_photo_batch_tail_is_compared_with_the_mix_at_the_same_uplink() -> None:
    rows = [
        _row("mix36", 2_500_000, total=62.0, tail=2.0, own=0.8),
        _row("photos200", 2_500_000, total=300.0, tail=3.0, own=0.8),
    ]
    (line,) = growth(rows)
    assert "photos200 / tail of mix36 at 20 Mbit/s: 1.50x" in line
    assert "**not met**" in line


@pytest.mark.parametrize(
    ("name", "count", "clips"), [("mix36", 36, 4), ("photos200", 200, 0), ("mix8", 8, 1)]
)
def test_batches_are_named_by_kind_and_count(name: str, count: int, clips: int) -> None:
    assert Batch.parse(name) == Batch(name, count, clips)


def test_an_unknown_batch_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="mixN or photosN"):
        Batch.parse("videos3")


def test_a_12_mp_camera_photo_weighs_what_a_real_one_does() -> None:
    scene = landscape(1, CAMERA_PHOTO)
    data = camera_photo(scene, sensor_noise(CAMERA_PHOTO), 3)
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (4000, 3000)
        assert img.getexif()[0x0110] == "Roll 12"  # camera model, like a phone's
    assert 3_000_000 <= len(data) <= 5_000_000


def test_a_generated_roll_is_cached_and_regenerated_only_when_asked_differently(
    tmp_path: Path,
) -> None:
    roll = tmp_path / "roll"
    kw = {"photo_size": (320, 240), "clip_size": "160x90", "clip_seconds": 0.5}
    paths = write_camera_roll(roll, 5, 1, **kw)  # type: ignore[arg-type]
    assert [p.name for p in paths] == [
        "IMG_0001.jpg",
        "IMG_0002.jpg",
        "IMG_0003.mp4",  # clips sit inside the roll, not at its end
        "IMG_0004.jpg",
        "IMG_0005.jpg",
    ]
    stamps = [p.stat().st_mtime_ns for p in paths]

    again = write_camera_roll(roll, 5, 1, **kw)  # type: ignore[arg-type]
    assert again == paths
    assert [p.stat().st_mtime_ns for p in again] == stamps  # not regenerated

    fewer = write_camera_roll(roll, 3, 0, **kw)  # type: ignore[arg-type]
    assert [p.name for p in fewer] == ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0003.jpg"]
    assert sorted(p.name for p in roll.glob("IMG_*")) == [p.name for p in fewer]
