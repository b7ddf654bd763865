"""``--max-upload-rate`` (issue 15 item 1): one token bucket shared by every parallel upload,
pacing the bytes as they are sent. The bucket runs on an injected clock here; the last test
uploads through the fake API for ~10 s and measures the rate the server received."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from support.cli.fake_api import State, serve
from support.cli.helpers import blob, run

from media_triage_cli.__main__ import main
from media_triage_cli.ratelimit import (
    BadRate,
    PacedBody,
    TokenBucket,
    format_rate,
    parse_rate,
)


class FakeClock:
    """A clock that moves only when someone sleeps (``overshoot``: a loaded machine's sleeps
    last that much longer than asked)."""

    def __init__(self, overshoot: float = 1.0) -> None:
        self.now = 0.0
        self.overshoot = overshoot
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds * self.overshoot


def _bucket(rate: float, clock: FakeClock, **kw: float) -> TokenBucket:
    return TokenBucket(rate, clock=clock, sleep=clock.sleep, **kw)


@pytest.mark.parametrize(
    ("text", "bytes_per_second"),
    [
        ("20Mbit", 2_500_000),
        ("20Mbit/s", 2_500_000),
        ("20mbps", 2_500_000),
        ("500kbit", 62_500),
        ("2.5MB", 2_500_000),
        ("800kB/s", 800_000),
        ("1Gbit", 125_000_000),
        ("4096B", 4096),
        ("1000 bytes", 1000),
    ],
)
def test_rates_read_in_bits_or_bytes_with_decimal_prefixes(
    text: str, bytes_per_second: float
) -> None:
    assert parse_rate(text) == pytest.approx(bytes_per_second)


@pytest.mark.parametrize(
    "text", ["20", "20Mb", "fast", "-5Mbit", "0Mbit", "4kbit", "20 Mbit per hour", ""]
)
def test_a_rate_without_a_clear_unit_or_not_positive_is_refused(text: str) -> None:
    with pytest.raises(BadRate, match="invalid rate"):
        parse_rate(text)


def test_a_bad_rate_on_the_command_line_is_a_usage_error_naming_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", str(tmp_path), "--api", "http://x", "--max-upload-rate", "20Mb"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--max-upload-rate: invalid rate '20Mb'" in err
    assert "20Mbit" in err  # the example of a good value


def test_rates_are_shown_in_bits() -> None:
    assert format_rate(2_500_000) == "20 Mbit/s"
    assert format_rate(62_500) == "500 kbit/s"


def test_the_bucket_hands_out_the_rate_over_ten_seconds() -> None:
    clock = FakeClock()
    bucket = _bucket(125_000, clock)  # 1 Mbit/s
    sent = 0
    while clock.now < 10.0:
        bucket.take(bucket.chunk)
        sent += bucket.chunk
    assert sent / clock.now == pytest.approx(125_000, rel=0.01)


def test_parallel_senders_share_one_budget_in_the_order_they_asked() -> None:
    clock = FakeClock()
    bucket = _bucket(1000, clock)
    # three senders ask for 100 bytes each at the same instant: they queue for the budget
    assert [bucket.reserve(100) for _ in range(3)] == pytest.approx([0.1, 0.2, 0.3])


def test_sleeps_that_overshoot_are_caught_up_from_the_reserve() -> None:
    clock = FakeClock(overshoot=1.5)  # every sleep lasts 50 % longer than asked
    bucket = _bucket(125_000, clock)
    sent = 0
    while clock.now < 10.0:
        bucket.take(bucket.chunk)
        sent += bucket.chunk
    assert sent / clock.now == pytest.approx(125_000, rel=0.02)


def test_an_idle_link_saves_up_at_most_the_burst() -> None:
    clock = FakeClock()
    bucket = _bucket(1000, clock, burst=100)
    clock.now = 60.0  # a minute with nothing to send
    assert bucket.reserve(100) == 0  # the saved-up burst
    assert bucket.reserve(100) == pytest.approx(0.1)  # then the rate again


def test_the_bucket_starts_empty() -> None:
    clock = FakeClock()
    bucket = _bucket(1000, clock)
    assert bucket.reserve(10) == pytest.approx(0.01)


def test_chunks_are_about_20_ms_of_the_rate_within_bounds() -> None:
    clock = FakeClock()
    assert _bucket(125_000, clock).chunk == 2500
    assert _bucket(10, clock).chunk == 1024
    assert _bucket(125_000_000, clock).chunk == 64 * 1024


def test_a_paced_body_sends_every_byte_chunk_by_chunk_at_the_rate() -> None:
    clock = FakeClock()
    bucket = _bucket(10_000, clock)  # chunk: 1024 bytes (the minimum)
    data = bytes(range(256)) * 40
    body = PacedBody(_Sized(data), bucket)

    first = body.read(64 * 1024)
    rest = body.read()

    assert len(body) == len(data)
    assert len(first) == bucket.chunk  # never more than one chunk per read
    assert first + rest == data
    assert clock.now == pytest.approx(len(data) / 10_000, rel=0.01)


class _Sized(io.BytesIO):
    def __len__(self) -> int:
        return len(self.getvalue())


def test_threads_sharing_a_real_bucket_never_exceed_it() -> None:
    bucket = TokenBucket(200_000)  # real clock, ~1 s
    sent = [0] * 4
    started = threading.Event()

    def sender(i: int) -> None:
        started.wait()
        for _ in range(20):
            bucket.take(2500)
            sent[i] += 2500

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    started.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert sum(sent) == 200_000
    # what was sent never exceeds the reserve saved up before the start plus the rate since:
    # four threads shared one budget (alone each would have been done in a quarter of that)
    assert elapsed >= (200_000 - bucket.burst) / 200_000 - 0.001


@pytest.mark.slow
def test_parallel_uploads_through_http_achieve_the_rate_within_5_percent(tmp_path: Path) -> None:
    """1 Mbit/s for ~10 s: two presigned POSTs and one multipart upload (4 parts) in
    parallel, all sharing the budget; the rate is what the server received, first byte to
    last."""
    rate = 125_000.0
    with serve(State(multipart_threshold=500_000, part_size=160_000)) as api:
        files = [
            blob(tmp_path / "a.jpg", 300_000),
            blob(tmp_path / "b.jpg", 340_000),
            blob(tmp_path / "clip.mp4", 610_000),  # 4 parts
        ]

        result = run(api, files, concurrency=3, max_upload_rate=rate, timeout=60.0)

        assert result.code == 0, result.err
        assert "uploads limited to 1 Mbit/s in all" in result.err
        assert api.file_by_name("clip.mp4").data == files[2].read_bytes()
        assert len(api.completes) == 1
        assert {fid for fid, _, _ in result.outcome.targets} == set(result.outcome.uploaded)
        arrivals = sorted(api.arrivals)
        received = sum(n for _, n in arrivals)
        assert received >= 1_250_000
        elapsed = arrivals[-1][0] - arrivals[0][0]
        assert elapsed >= 9.5
        assert received / elapsed == pytest.approx(rate, rel=0.05)
