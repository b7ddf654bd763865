"""The Lambda memory trade (ADR 0018): duration and cost of one invocation per file kind at
several memory sizes, modelled from CPU time measured locally (`make bench-media`).

Pure arithmetic, no I/O. Lambda gives CPU in proportion to memory: 1,769 MB is one full vCPU
(AWS: up to six at 10,240 MB). A kind's measured work is CPU seconds (user + sys, ffmpeg
children included) that can run on at most ``parallelism`` cores at once (CPU time / wall time
on the bench machine, the wall time corrected by the load factor a single-threaded spin measured
beside the work, at least 1, at most the machine's core count):

    duration(m) = cpu_s / min(vcpus(m), parallelism)
    cost(m)     = request + GB-s price x m / 1024 x duration(m)

Off-CPU time is not modelled: the bench reads its inputs from local disk and loopback, so its
wall time beyond the CPU time is the run queue of a shared machine, not I/O. On Lambda the S3
transfer adds seconds that no memory size removes (ADR 0018 lists this among the limits).

So while the work can use every vCPU it is given, more memory buys a shorter duration at the
same cost (the GB-seconds stay put); past its parallelism, more memory only adds cost. The
choice (``choose``): the sizes whose peak RSS fits with headroom and whose slowest kind fits
the deadline, then the cheapest for the reference job mix, and among those within
``tolerance`` of that cost, the one with the shortest tail (the slowest kind of the mix).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

MB_PER_VCPU = 1769
MAX_VCPUS = 6.0
# Peak RSS may use this share of the function's memory (the rest: the runtime, variance,
# inputs larger than the bench's).
RSS_SHARE = 2 / 3

InvocationPrice = Callable[[int, float], float]  # (memory_mb, seconds) -> dollars


@dataclass(frozen=True, slots=True)
class Measured:
    """One file kind as the bench measured it, in a fresh process."""

    kind: str
    peak_rss_mib: float
    wall_s: float
    cpu_s: float
    cores: int  # of the bench machine
    # wall / CPU time of a single-threaded spin beside the work: 1 on an idle machine, 3 when
    # the run queue made one thread take three times its CPU time
    load_factor: float = 1.0

    @property
    def parallelism(self) -> float:
        """Cores the work kept busy on average: CPU time / wall time, the wall time divided by
        the load factor (what it would have been without the other processes), within
        [1, cores]."""
        unloaded_wall = self.wall_s / max(self.load_factor, 1.0)
        if unloaded_wall <= 0:
            return 1.0
        return min(max(self.cpu_s / unloaded_wall, 1.0), float(self.cores))


@dataclass(frozen=True, slots=True)
class Modelled:
    kind: str
    memory_mb: int
    seconds: float
    dollars: float
    fits: bool  # peak RSS within RSS_SHARE of memory_mb


def vcpus(memory_mb: int) -> float:
    if memory_mb <= 0:
        raise ValueError("memory_mb must be positive")
    return min(memory_mb / MB_PER_VCPU, MAX_VCPUS)


def duration(m: Measured, memory_mb: int) -> float:
    return m.cpu_s / min(vcpus(memory_mb), m.parallelism)


def fits(m: Measured, memory_mb: int) -> bool:
    return m.peak_rss_mib <= memory_mb * RSS_SHARE


def model(m: Measured, memory_mb: int, price: InvocationPrice) -> Modelled:
    seconds = duration(m, memory_mb)
    return Modelled(m.kind, memory_mb, seconds, price(memory_mb, seconds), fits(m, memory_mb))


def table(
    kinds: Sequence[Measured], sizes: Sequence[int], price: InvocationPrice
) -> dict[int, list[Modelled]]:
    """Every kind at every size: ``{memory_mb: [Modelled per kind, in kinds' order]}``."""
    return {size: [model(m, size, price) for m in kinds] for size in sizes}


@dataclass(frozen=True, slots=True)
class SizeSummary:
    memory_mb: int
    mix_dollars: float  # the reference job mix's MediaProcess cost
    tail_s: float  # the slowest kind of the mix (what the user waits for after the last byte)
    longest_s: float  # the slowest kind of all (must fit the deadline)
    fits: bool  # every kind's peak RSS fits


def summarise(rows: Mapping[int, Sequence[Modelled]], mix: Mapping[str, int]) -> list[SizeSummary]:
    out = []
    for size, modelled in sorted(rows.items()):
        by_kind = {r.kind: r for r in modelled}
        missing = set(mix) - set(by_kind)
        if missing:
            raise KeyError(f"the mix names unmeasured kinds: {sorted(missing)}")
        out.append(
            SizeSummary(
                memory_mb=size,
                mix_dollars=sum(by_kind[k].dollars * n for k, n in mix.items()),
                tail_s=max(by_kind[k].seconds for k in mix),
                longest_s=max(r.seconds for r in modelled),
                fits=all(r.fits for r in modelled),
            )
        )
    return out


def choose(
    summaries: Sequence[SizeSummary], *, deadline_s: float, tolerance: float = 0.10
) -> SizeSummary:
    """The rule: feasible sizes (RSS fits, slowest kind within the deadline), then the
    shortest tail among those costing at most (1 + tolerance) x the cheapest feasible one."""
    feasible = [s for s in summaries if s.fits and s.longest_s <= deadline_s]
    if not feasible:
        raise ValueError("no memory size fits every kind's peak RSS and the deadline")
    cheapest = min(s.mix_dollars for s in feasible)
    near = [s for s in feasible if s.mix_dollars <= cheapest * (1 + tolerance)]
    return min(near, key=lambda s: (s.tail_s, s.mix_dollars))
