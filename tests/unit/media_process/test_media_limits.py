"""Configurable limits, judged before anything expensive, and how much of a video is read."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import Env
from support.corpus import BY_NAME

from media_process.settings import MediaProcessSettings
from media_triage_shared.models import FileStatus


def _limits(env: Env, **changes: object) -> object:
    return dataclasses.replace(env.limits, **changes)


def test_a_photo_over_the_byte_limit_is_too_large_without_being_downloaded(env: Env) -> None:
    env.create_job()
    upload = env.put("big.jpg", BY_NAME["jpeg_large"].data())
    outcome = env.process(upload, limits=_limits(env, max_photo_bytes=100_000))  # type: ignore[arg-type]
    assert outcome.row.error is not None
    assert outcome.row.error.code == "too_large"
    assert "MiB" in outcome.row.error.message
    assert [r for r in env.store.reads if r[1] is None] == []  # only the 4 KiB sniff


def test_a_video_over_the_byte_limit_is_too_large(env: Env) -> None:
    env.create_job()
    outcome = env.process(
        env.put("big.mp4", BY_NAME["mp4"].data()),
        limits=_limits(env, max_video_bytes=1000),  # type: ignore[arg-type]
    )
    assert outcome.row.error is not None
    assert outcome.row.error.code == "too_large"


def test_a_video_over_the_duration_limit_is_too_long(env: Env) -> None:
    env.create_job()
    outcome = env.process(
        env.put("long.mp4", BY_NAME["mp4"].data()),
        limits=_limits(env, max_video_seconds=1.0),  # type: ignore[arg-type]
    )
    row = outcome.row
    assert row.status is FileStatus.INVALID
    assert row.error is not None
    assert row.error.code == "too_long"
    assert row.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert env.derived(row.file_id) == set()


def test_a_pixel_limit_below_the_image_is_too_many_pixels(env: Env) -> None:
    env.create_job()
    outcome = env.process(
        env.put("a.jpg", BY_NAME["jpeg_exif"].data()),
        limits=_limits(env, max_photo_pixels=640 * 480 - 1),  # type: ignore[arg-type]
    )
    assert outcome.row.error is not None
    assert outcome.row.error.code == "too_many_pixels"


def test_a_large_video_is_fingerprinted_from_samples_not_read_whole(env: Env) -> None:
    env.create_job(expected=2)
    data = BY_NAME["mov_rotated"].data()
    limits = _limits(env, full_hash_max_bytes=10_000)
    first = env.process(env.put("a.mov", data), limits=limits).row  # type: ignore[arg-type]
    second = env.process(env.put("b.mov", data), limits=limits).row  # type: ignore[arg-type]
    assert first.fingerprint is not None
    assert first.fingerprint.startswith("sha256-sampled:")
    assert second.status is FileStatus.DUPLICATE
    whole_reads = [key for key, rng in env.store.reads if rng is None]
    assert whole_reads == []  # ffmpeg streamed it from the (presigned) URL


def test_settings_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MEDIA_BUCKET": "bucket",
        "SESSIONS_TABLE": "sessions",
        "FILES_TABLE": "files",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:t",
        "MAX_PHOTO_PIXELS": "50000000",
    }.items():
        monkeypatch.setenv(name, value)
    s = MediaProcessSettings.from_env()
    assert s.max_photo_bytes == 100 * 1024 * 1024
    assert s.max_photo_pixels == 50_000_000
    assert s.max_video_bytes == 5 * 1024**3
    assert s.max_video_seconds == 3 * 3600
    assert s.processing_deadline_seconds == 240


def test_settings_refuse_a_reserve_that_eats_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MEDIA_BUCKET": "bucket",
        "SESSIONS_TABLE": "sessions",
        "FILES_TABLE": "files",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:t",
        "PROCESSING_DEADLINE_SECONDS": "5",
        "FINALIZE_RESERVE_SECONDS": "5",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="FINALIZE_RESERVE_SECONDS"):
        MediaProcessSettings.from_env()
