"""The processing deadline: every file is finalised before Lambda's timeout, valid without a
proxy (with a warning) or invalid ``timeout``, and no subprocess is left running."""

from __future__ import annotations

import time

import pytest
from conftest import Env, FakeClock
from support.corpus import BY_NAME

from media_process import core
from media_triage_shared.deadline import Deadline
from media_triage_shared.media import MediaFailure, Rendition, VideoProbe
from media_triage_shared.models import FileStatus


class SlowTool:
    """The real tool, but the probe and the thumbnail "take" some seconds on the fake clock."""

    def __init__(self, env: Env, clock: FakeClock, *, probe: float, thumbnail: float = 0) -> None:
        self.env, self.clock = env, clock
        self.probe_seconds, self.thumbnail_seconds = probe, thumbnail
        self.proxy_calls = 0
        self.deadlines: list[Deadline] = []  # what each tool call was given

    def __getattr__(self, name: str) -> object:
        return getattr(self.env.media, name)

    def probe_video(
        self, source_url: str, mime_type: str, *, deadline: Deadline
    ) -> VideoProbe | MediaFailure:
        self.deadlines.append(deadline)
        result = self.env.media.probe_video(source_url, mime_type, deadline=deadline)
        self.clock.now += self.probe_seconds
        return result

    def video_thumbnail(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        self.deadlines.append(deadline)
        result = self.env.media.video_thumbnail(source_url, mime_type, probe, deadline=deadline)
        self.clock.now += self.thumbnail_seconds
        return result

    def video_proxy(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure:
        self.proxy_calls += 1
        self.deadlines.append(deadline)
        return self.env.media.video_proxy(source_url, mime_type, probe, deadline=deadline)


def test_a_deadline_already_past_makes_a_photo_invalid_timeout(env: Env) -> None:
    env.create_job()
    clock = FakeClock()
    outcome = env.process(
        env.put("a.jpg", BY_NAME["jpeg_exif"].data()), deadline=core.Deadline(clock.now, clock)
    )
    assert outcome.counted
    assert outcome.row.status is FileStatus.INVALID
    assert outcome.row.error is not None
    assert outcome.row.error.code == "timeout"


def test_a_deadline_already_past_makes_a_video_invalid_timeout(env: Env) -> None:
    env.create_job()
    clock = FakeClock()
    outcome = env.process(
        env.put("a.mp4", BY_NAME["mp4"].data()), deadline=core.Deadline(clock.now, clock)
    )
    assert outcome.row.status is FileStatus.INVALID
    assert outcome.row.error is not None
    assert outcome.row.error.code == "timeout"
    assert env.processed_count() == 1


def test_too_little_time_for_the_proxy_leaves_a_valid_file_with_a_warning(env: Env) -> None:
    env.create_job()
    clock = FakeClock()
    tool = SlowTool(env, clock, probe=58)  # 2 s left: below min_proxy_seconds
    outcome = env.process(
        env.put("a.mp4", BY_NAME["mp4"].data()),
        deadline=core.Deadline.after(60, clock),
        media=tool,  # type: ignore[arg-type]
    )
    row = outcome.row
    assert outcome.counted
    assert row.status is FileStatus.VALID
    assert row.thumbnail_key is not None
    assert row.proxy_key is None
    assert not row.converted
    assert tool.proxy_calls == 0
    assert row.warnings is not None
    assert any(w.startswith("proxy_skipped:") for w in row.warnings)
    assert env.derived(row.file_id) == {"thumb.jpg"}


def test_a_proxy_encode_past_the_deadline_is_killed_and_the_file_stays_valid(env: Env) -> None:
    env.create_job()
    limits = core.Limits(
        ttl_hours=24, stall_timeout_seconds=600, finalize_reserve_seconds=0, min_proxy_seconds=0
    )
    clock = FakeClock()
    tool = SlowTool(env, clock, probe=1, thumbnail=59 - 0.05)  # 50 ms left for the encoder
    started = time.monotonic()
    outcome = env.process(
        env.put("a.mov", BY_NAME["mov_rotated"].data()),
        deadline=core.Deadline.after(60, clock),
        media=tool,  # type: ignore[arg-type]
        limits=limits,
    )
    assert time.monotonic() - started < 10  # returned promptly: the encoder was stopped
    assert tool.proxy_calls == 1
    assert outcome.row.status is FileStatus.VALID
    assert outcome.row.warnings is not None
    assert any(w.startswith("proxy_skipped:") and "stopped" in w for w in outcome.row.warnings), (
        outcome.row.warnings
    )


def test_a_probe_that_outlives_its_share_is_invalid_timeout(env: Env) -> None:
    env.create_job()
    limits = core.Limits(ttl_hours=24, stall_timeout_seconds=600, finalize_reserve_seconds=119.999)
    outcome = env.process(
        env.put("a.mp4", BY_NAME["mp4"].data()), deadline=core.Deadline.after(120), limits=limits
    )
    assert outcome.row.status is FileStatus.INVALID
    assert outcome.row.error is not None
    assert outcome.row.error.code == "timeout"


@pytest.mark.parametrize("seconds", [-5.0, 0.0])
def test_deadline_remaining_goes_negative_not_wrapping(seconds: float) -> None:
    clock = FakeClock()
    deadline = core.Deadline.after(seconds, clock)
    clock.now += 1
    assert deadline.remaining() == pytest.approx(seconds - 1)
    assert deadline.remaining(reserve=2) == pytest.approx(seconds - 3)


def test_the_tools_get_the_processing_deadline_less_the_final_writes_reserve(env: Env) -> None:
    """One deadline on one clock from the handler down to each ffmpeg run: the tools' share is
    the processing deadline moved earlier by ``finalize_reserve_seconds``."""
    env.create_job()
    clock = FakeClock()
    start = clock.now
    limits = core.Limits(ttl_hours=24, stall_timeout_seconds=600, finalize_reserve_seconds=5)
    tool = SlowTool(env, clock, probe=1, thumbnail=1)
    outcome = env.process(
        env.put("a.mp4", BY_NAME["mp4"].data()),
        deadline=core.Deadline.after(60, clock),
        limits=limits,
        media=tool,  # type: ignore[arg-type]
    )
    assert outcome.row.status is FileStatus.VALID
    assert tool.proxy_calls == 1
    assert [d.at - start for d in tool.deadlines] == [55, 55, 55]  # probe, thumbnail, proxy
    assert all(d.clock is clock for d in tool.deadlines)
    assert tool.deadlines[-1].remaining() == pytest.approx(53)  # 2 s spent on the fake clock


def test_deadline_before_moves_it_earlier_on_the_same_clock() -> None:
    clock = FakeClock()
    deadline = core.Deadline.after(10, clock)
    earlier = deadline.before(4)
    assert earlier.remaining() == pytest.approx(6)
    assert earlier.clock is clock
    clock.now += 7
    assert earlier.passed
    assert not deadline.passed
