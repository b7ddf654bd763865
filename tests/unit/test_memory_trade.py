"""The Lambda memory trade of `make bench-media` (devtools/memory_trade.py): pure arithmetic."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devtools"))

import memory_trade as mt  # noqa: E402 - devtools/ is not a package

from media_triage_shared.pricing import load_prices  # noqa: E402


def flat(memory_mb: int, seconds: float) -> float:
    """A price of one dollar per GB-second, no request fee: cost = GB x seconds."""
    return memory_mb / 1024 * seconds


def photo(cpu: float = 1.0, rss: float = 200) -> mt.Measured:
    return mt.Measured("photo", peak_rss_mib=rss, wall_s=cpu, cpu_s=cpu, cores=2)


def video(cpu: float = 8.0, wall: float = 4.0, rss: float = 300) -> mt.Measured:
    return mt.Measured("video", peak_rss_mib=rss, wall_s=wall, cpu_s=cpu, cores=2)


def test_one_vcpu_per_1769_mb_linear_and_capped_at_six() -> None:
    assert mt.vcpus(1769) == pytest.approx(1.0)
    assert mt.vcpus(1024) == pytest.approx(0.5789, abs=1e-4)
    assert mt.vcpus(3538) == pytest.approx(2.0)
    assert mt.vcpus(10_240) == pytest.approx(5.79, abs=0.01)  # AWS: "up to 6"
    assert mt.vcpus(20_000) == 6.0
    with pytest.raises(ValueError, match="positive"):
        mt.vcpus(0)


def test_parallelism_is_cpu_over_wall_within_one_and_the_core_count() -> None:
    assert video(cpu=8, wall=4).parallelism == pytest.approx(2.0)
    assert video(cpu=6, wall=4).parallelism == pytest.approx(1.5)
    # more CPU than the cores could give (rounding in rusage): capped at the machine's cores
    assert video(cpu=9, wall=4).parallelism == pytest.approx(2.0)
    # waiting (the run queue of a loaded machine): never below one core
    waiting = mt.Measured("io", peak_rss_mib=50, wall_s=3.0, cpu_s=1.0, cores=2)
    assert waiting.parallelism == 1.0


def test_the_load_factor_takes_the_run_queue_out_of_the_wall_time() -> None:
    """A spin beside the work took 3x its CPU time: the work's 12 s wall would have been 4 s."""
    loaded = mt.Measured("video", peak_rss_mib=300, wall_s=12.0, cpu_s=8.0, cores=2, load_factor=3)
    assert loaded.parallelism == pytest.approx(2.0)
    assert mt.Measured("v", 300, 12.0, 8.0, 2, load_factor=1.5).parallelism == pytest.approx(1.0)
    assert mt.Measured("v", 300, 12.0, 8.0, 2, load_factor=0.5).parallelism == pytest.approx(1.0)


def test_duration_scales_with_vcpus_up_to_the_measured_parallelism() -> None:
    v = video(cpu=8, wall=4)  # two cores busy
    assert mt.duration(v, 1769) == pytest.approx(8.0)  # one vCPU: all CPU time in series
    assert mt.duration(v, 3538) == pytest.approx(4.0)  # two vCPUs: the bench's wall time
    assert mt.duration(v, 7076) == pytest.approx(4.0)  # four vCPUs: no faster than measured
    assert mt.duration(v, 1024) == pytest.approx(8.0 / (1024 / 1769))
    single = photo(cpu=1.0)
    assert mt.duration(single, 1769) == pytest.approx(1.0)
    assert mt.duration(single, 3538) == pytest.approx(1.0)  # one thread: more vCPUs idle


def test_wall_time_beyond_the_cpu_time_is_not_billed_as_work() -> None:
    """The bench's inputs are local: waits are the shared machine's run queue, not Lambda's."""
    waiting = mt.Measured("io", peak_rss_mib=50, wall_s=3.0, cpu_s=1.0, cores=2)
    assert mt.duration(waiting, 1769) == pytest.approx(1.0)
    assert mt.duration(waiting, 1024) == pytest.approx(1769 / 1024)


def test_cost_is_flat_while_the_work_uses_every_vcpu_then_grows() -> None:
    v = video(cpu=8, wall=4)
    c1024, c1769, c3538, c7076 = (mt.model(v, m, flat).dollars for m in (1024, 1769, 3538, 7076))
    # GB-seconds constant below the parallelism: 8 CPU-s x 1769 MB per vCPU
    assert c1024 == pytest.approx(8 * 1769 / 1024)
    assert c1769 == pytest.approx(c1024)
    assert c3538 == pytest.approx(c1024)
    assert c7076 == pytest.approx(2 * c3538)  # past it: twice the memory, same duration
    p = photo(cpu=1.0)
    assert mt.model(p, 3538, flat).dollars == pytest.approx(2 * mt.model(p, 1769, flat).dollars)


def test_rss_must_fit_two_thirds_of_memory() -> None:
    assert mt.fits(photo(rss=682), 1024)
    assert not mt.fits(photo(rss=683), 1024)
    assert not mt.model(photo(rss=900), 1024, flat).fits
    assert mt.model(photo(rss=900), 2048, flat).fits


def test_table_and_summary_of_the_job_mix() -> None:
    kinds = [photo(cpu=0.5), video(cpu=8, wall=4), mt.Measured("big", 400, 40.0, 70.0, 2)]
    rows = mt.table(kinds, [1769, 3538], flat)
    assert [r.kind for r in rows[1769]] == ["photo", "video", "big"]
    one, two = mt.summarise(rows, {"photo": 10, "video": 2})
    assert one.memory_mb == 1769
    assert two.memory_mb == 3538
    assert one.mix_dollars == pytest.approx(10 * flat(1769, 0.5) + 2 * flat(1769, 8.0))
    assert one.tail_s == pytest.approx(8.0)  # the video, not the big file (not in the mix)
    assert one.longest_s == pytest.approx(70.0)
    assert two.tail_s == pytest.approx(4.0)
    assert two.longest_s == pytest.approx(40.0)
    with pytest.raises(KeyError, match="unmeasured"):
        mt.summarise(rows, {"heic": 1})


def size(
    mb: int, dollars: float, tail: float, longest: float = 10, fits: bool = True
) -> mt.SizeSummary:
    return mt.SizeSummary(mb, dollars, tail, longest, fits)


def test_choose_takes_the_fastest_size_within_the_tolerance_of_the_cheapest() -> None:
    sizes = [size(1024, 1.00, 9.0), size(1769, 1.05, 5.0), size(3008, 1.30, 3.0)]
    assert mt.choose(sizes, deadline_s=240).memory_mb == 1769
    assert mt.choose(sizes, deadline_s=240, tolerance=0.5).memory_mb == 3008
    assert mt.choose(sizes, deadline_s=240, tolerance=0.0).memory_mb == 1024


def test_choose_skips_sizes_that_do_not_fit_rss_or_the_deadline() -> None:
    sizes = [
        size(1024, 1.00, 9.0, fits=False),
        size(1769, 1.05, 5.0, longest=300),
        size(3008, 1.30, 3.0, longest=200),
    ]
    assert mt.choose(sizes, deadline_s=240).memory_mb == 3008
    with pytest.raises(ValueError, match="no memory size"):
        mt.choose(sizes, deadline_s=100)


def test_with_the_checked_in_prices_two_vcpus_cost_the_same_as_one_for_parallel_work() -> None:
    prices = load_prices()
    v = video(cpu=8, wall=4)
    at_1769 = mt.model(v, 1769, prices.lambda_invocation)
    at_3538 = mt.model(v, 3538, prices.lambda_invocation)
    # same GB-seconds (to the billed millisecond), same request fee
    assert at_3538.dollars == pytest.approx(at_1769.dollars, rel=1e-3)
    assert at_1769.dollars == pytest.approx(
        prices.lambda_request + prices.lambda_gb_second * 1769 / 1024 * 8.0, rel=1e-6
    )
