"""Peak RSS, wall time and CPU time per file kind through MediaProcess's real code path, and the
Lambda memory trade they imply (part of `make bench-media`, ADR 0018).

Each kind runs in a fresh child process: ``core.process_upload`` with the composition root's
real media toolkit and limits (``deps.media()``, ``deps.limits()``: Pillow, pillow-heif,
ffprobe, ffmpeg), the in-memory job and file repositories of the unit tests, and an object
store over the local input file whose presigned GET is a URL served with HTTP range requests by
the parent (ffmpeg streams it as it would from S3; the server's memory is not the child's).
Measured: wall time, CPU time (user + sys of the process and of the ffmpeg/ffprobe children it
waited for) and peak RSS = the Python process's high-water mark + the largest child's: an upper
bound of the sandbox's peak (they do not always peak together), which is what sizing needs.

Inputs are generated once under build/bench-media/ and reused by later runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "bench-media"
OUT = ROOT / "out" / "bench" / "media-memory.json"
MIB = 1024 * 1024
SESSION = "benchsess"
SIZES = (1024, 1769, 2048, 3008, 3538)
# The reference job of the trade: the demo's mix (bench-e2e), 32 photos and 4 clips.
MIX = {"jpeg_12mp": 32, "video_1080p": 4}
DEADLINE_S = 240.0  # media_process.processing_deadline_seconds (Terraform default)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    label: str
    filename: str
    content_type: str


KINDS = (
    Kind("jpeg_12mp", "12 MP JPEG", "12mp.jpg", "image/jpeg"),
    Kind("jpeg_48mp", "48 MP JPEG", "48mp.jpg", "image/jpeg"),
    Kind("heic_12mp", "12 MP HEIC", "12mp.heic", "image/heic"),
    Kind("video_1080p", "30 s 1080p30 H.264/AAC", "1080p30.mp4", "video/mp4"),
    Kind("video_4k", "12 s 2160p30 H.264/AAC", "2160p30.mp4", "video/mp4"),
    Kind("video_2gib", "2 GiB MP4 (HTTP ranges)", "big.mp4", "video/mp4"),
)


# ---------------------------------------------------------------------------- inputs


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def _cached(path: Path) -> bool:
    if path.exists():
        print(f"  {path.relative_to(ROOT)} (cached)", flush=True)
        return True
    print(f"  generating {path.relative_to(ROOT)}...", flush=True)
    return False


def _clip(path: Path, size: str, seconds: int, bitrate: str) -> None:
    tmp = path.with_suffix(".part.mp4")
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast" if size.startswith("3840") else "veryfast",
        "-b:v", bitrate, "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(tmp),
    )  # fmt: skip
    tmp.rename(path)


def _photo_like(width: int, height: int, seed: str) -> Any:
    """The corpus pattern under grain, so a 12 MP JPEG weighs what a phone's does (~4 MB at
    q88) instead of the smooth pattern's 0.25 MB: entropy decoding scales with the bytes."""
    from PIL import Image, ImageFilter
    from support.corpus import pattern

    grain = Image.effect_noise((width, height), 80).filter(ImageFilter.GaussianBlur(0.8))
    flip = Image.Transpose
    noise = Image.merge(
        "RGB", (grain, grain.transpose(flip.FLIP_LEFT_RIGHT), grain.transpose(flip.FLIP_TOP_BOTTOM))
    )
    return Image.blend(pattern(width, height, seed), noise, 0.5)


def _save(im: Any, path: Path, fmt: str, exif: Any, *, quality: int) -> None:
    """Written whole or not at all: an interrupted run leaves no truncated input in the cache."""
    tmp = path.with_name(f".{path.name}.part")
    im.save(tmp, fmt, quality=quality, exif=exif.tobytes())
    tmp.rename(path)


def make_inputs(big_gib: float) -> dict[str, Path]:
    """Every kind's input under build/bench-media/, generated only when missing."""
    from bench_media import make_big_video
    from support.corpus import _exif

    CACHE.mkdir(parents=True, exist_ok=True)
    paths = {k.name: CACHE / k.filename for k in KINDS}
    paths["jpeg_24mp"] = CACHE / "24mp.jpg"  # the draft-vs-full-decode comparison's input
    exif = _exif(orientation=6, taken="2024:05:01 10:20:30", make="Canon", model="EOS R5")
    photos = {"jpeg_12mp": (4032, 3024), "jpeg_24mp": (6000, 4000), "jpeg_48mp": (8064, 6048)}
    for name, (w, h) in photos.items():
        if not _cached(paths[name]):
            _save(_photo_like(w, h, f"bench-{name}"), paths[name], "JPEG", exif, quality=88)
    if not _cached(paths["heic_12mp"]):  # x265 is slow
        import pillow_heif

        pillow_heif.register_heif_opener()
        apple = _exif(orientation=6, taken="2024:05:01 10:20:30", make="Apple", model="iPhone")
        _save(_photo_like(4032, 3024, "bench-heic"), paths["heic_12mp"], "HEIF", apple, quality=50)
    if not _cached(paths["video_1080p"]):
        _clip(paths["video_1080p"], "1920x1080", 30, "12M")
    if not _cached(paths["video_4k"]):
        _clip(paths["video_4k"], "3840x2160", 12, "45M")
    big = CACHE / f"big-{big_gib:g}gib.mp4"
    if big_gib > 0 and not _cached(big):
        made = make_big_video(CACHE, paths["video_1080p"], big_gib)
        made.rename(big)
    paths["video_2gib"] = big
    return paths


# ---------------------------------------------------------------------------- child side


class LocalStore:
    """The original is a local file (read like S3: HEAD, ranged GET; presigned GET = the
    parent's range-serving URL); derived objects are counted, not kept."""

    def __init__(self, path: Path, url: str, content_type: str) -> None:
        self.path, self.url, self.content_type = path, url, content_type
        self.written: dict[str, int] = {}

    def head(self, key: str) -> Any:
        from media_triage_shared.ports import ObjectInfo

        if key in self.written:
            return ObjectInfo(key=key, size=self.written[key], etag="derived")
        size = self.path.stat().st_size
        return ObjectInfo(key=key, size=size, etag=f"e{size}", content_type=self.content_type)

    def get_bytes(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        with self.path.open("rb") as fh:
            if byte_range is None:
                return fh.read()
            fh.seek(byte_range[0])
            return fh.read(byte_range[1] - byte_range[0] + 1)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.written[key] = len(data)

    def presign_get(self, key: str, expires_in: int, **_: Any) -> str:
        return self.url

    def list_keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(k for k in self.written if k.startswith(prefix))

    def delete_keys(self, keys: list[str]) -> int:
        for key in keys:
            self.written.pop(key, None)
        return len(keys)


def _process_once(path: Path, url: str, content_type: str, n: int) -> str:
    """One upload through ``core.process_upload`` (a fresh job: no duplicate fingerprint)."""
    from support.fakes import FakeFileRepository, FakeJobRepository

    from media_process import core, deps
    from media_triage_shared import keys
    from media_triage_shared.models import JobRow, utcnow

    jobs = FakeJobRepository()
    job_id = f"benchjob{n}"
    jobs.create_job(
        JobRow(
            session_id=SESSION,
            job_id=job_id,
            expected_file_count=1,
            token_hash="h" * 64,
            created_at="2026-11-28T12:00:00Z",
            updated_at="2026-11-28T12:00:00Z",
            stall_deadline="2026-11-28T12:10:00Z",
            expires_at=2_000_000_000,
        )
    )
    upload = keys.UploadKey(SESSION, job_id, "f001", keys.safe_filename(path.name))
    outcome = core.process_upload(
        upload,
        store=LocalStore(path, url, content_type),
        files=FakeFileRepository(jobs),
        jobs=jobs,
        media=deps.media(),
        limits=deps.limits(),
        now=utcnow(),
        deadline=core.Deadline.after(3600),  # the bench measures; the deadline is Lambda's
    )
    error = outcome.row.error.code if outcome.row.error else None
    return f"{outcome.row.status.value}{f' ({error})' if error else ''}"


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _spin(seconds: float = 0.25) -> tuple[float, float]:
    """Busy-loop one thread for ``seconds`` of CPU: (wall, cpu). On an idle core wall == cpu;
    on a shared machine wall / cpu is how much longer the run queue made one thread's work."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while time.process_time() - cpu0 < seconds:
        sum(range(1000))
    return time.perf_counter() - wall0, time.process_time() - cpu0


def child(arg: str, repeat: int) -> None:
    """Run in the fresh process: ``arg`` is ``path|url|content_type``."""
    from bench_media import _warm_imports

    for name, value in {
        "MEDIA_BUCKET": "bench-media",
        "SESSIONS_TABLE": "bench-sessions",
        "FILES_TABLE": "bench-files",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:bench",
        "LOG_LEVEL": "WARNING",
    }.items():
        os.environ.setdefault(name, value)
    _warm_imports()
    import support.fakes  # noqa: F401

    from media_process import core, deps  # noqa: F401

    deps.media()
    path, url, content_type = arg.split("|", 2)
    walls, cpus, spins = [], [], [_spin()]
    for n in range(repeat):
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        status = _process_once(Path(path), url, content_type, n)
        walls.append(time.perf_counter() - started)
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(_cpu(self1) - _cpu(self0) + _cpu(kids1) - _cpu(kids0))
        spins.append(_spin())
        if status != "valid":
            raise SystemExit(f"{path}: {status}, expected valid")
    hwm = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "wall_s": statistics.median(walls),
                "cpu_s": statistics.median(cpus),
                "python_rss": hwm,
                "ffmpeg_rss": kids,
                "load_factor": max(sum(w for w, _ in spins) / sum(c for _, c in spins), 1.0),
            }
        )
    )


# ---------------------------------------------------------------------------- parent side


@contextlib.contextmanager
def _watch_largest(root: Path) -> Iterator[list[int]]:
    """The largest file seen under ``root`` while the block runs (``[bytes]``, filled on exit):
    a video must be streamed from its URL, never copied to the temp dir."""
    from bench_media import _largest_file

    largest, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            largest[0] = max(largest[0], _largest_file(root))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield largest
    finally:
        stop.set()
        watcher.join()


def measure(inputs: dict[str, Path], repeat: int, big_gib: float) -> list[dict[str, Any]]:
    """Every kind in its own fresh process; the 2 GiB video once (and only if ``big_gib``)."""
    from bench_media import run, serve

    rows = []
    print(
        f"\n{'kind':12} {'peak RSS':>9} {'python':>7} {'ffmpeg':>7} {'wall s':>7} {'cpu s':>7} "
        f"{'load':>5}"
    )
    for kind in KINDS:
        if kind.name == "video_2gib" and big_gib <= 0:
            continue
        path = inputs[kind.name]
        scratch = CACHE / "scratch"
        scratch.mkdir(exist_ok=True)
        n = 1 if kind.name == "video_2gib" else repeat
        with _watch_largest(scratch) as largest, serve(path) as url:
            res = run(
                "process",
                f"{path}|{url}|{kind.content_type}",
                n,
                env={**os.environ, "TMPDIR": str(scratch)},
            )
        peak = (res["python_rss"] + res["ffmpeg_rss"]) / MIB
        row = {
            "kind": kind.name,
            "peak_rss_mib": round(peak, 1),
            "wall_s": round(res["wall_s"], 3),
            "cpu_s": round(res["cpu_s"], 3),
            "bytes": path.stat().st_size,
            "label": kind.label,
            "python_rss_mib": round(res["python_rss"] / MIB, 1),
            "ffmpeg_rss_mib": round(res["ffmpeg_rss"] / MIB, 1),
            "largest_temp_file": largest[0],
            "repeat": n,
            "load_factor": round(res.get("load_factor", 1.0), 2),
        }
        rows.append(row)
        print(
            f"{kind.name:12} {peak:5.0f} MiB {row['python_rss_mib']:5.0f} M "
            f"{row['ffmpeg_rss_mib']:5.0f} M {row['wall_s']:7.2f} {row['cpu_s']:7.2f} "
            f"{row['load_factor']:5.2f}",
            flush=True,
        )
    return rows


def write_json(rows: list[dict[str, Any]], path: Path = OUT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


# ---------------------------------------------------------------------------- the trade


def trade(rows: list[dict[str, Any]], cores: int) -> tuple[str, int]:
    """The duration/cost table at every size in SIZES (printed) as markdown, and the size the
    rule chooses (memory_trade.choose)."""
    import memory_trade as mt

    from media_triage_shared.pricing import load_prices

    prices = load_prices()
    kinds = [
        mt.Measured(r["kind"], r["peak_rss_mib"], r["wall_s"], r["cpu_s"], cores, r["load_factor"])
        for r in rows
    ]
    modelled = mt.table(kinds, SIZES, prices.lambda_invocation)
    mix = {k: n for k, n in MIX.items() if any(m.kind == k for m in kinds)}
    summaries = mt.summarise(modelled, mix)
    chosen = mt.choose(summaries, deadline_s=DEADLINE_S)
    head = " | ".join(f"{s} MB ({mt.vcpus(s):.2f} vCPU)" for s in SIZES)
    lines = [f"| kind | parallelism | {head} |", "|---|---|" + "---|" * len(SIZES)]
    for i, m in enumerate(kinds):
        cells = []
        for size in SIZES:
            r = modelled[size][i]
            cells.append(
                f"{r.seconds:.2f} s, ${r.dollars * 1e6:.1f}/M{'' if r.fits else ' (RSS!)'}"
            )
        lines.append(f"| {m.kind} | {m.parallelism:.2f} | {' | '.join(cells)} |")
    mix_label = " + ".join(f"{n} x {k}" for k, n in mix.items())
    lines.append(
        f"| **job mix** ({mix_label}) | | "
        + " | ".join(f"tail {s.tail_s:.1f} s, ${s.mix_dollars * 1e3:.3f}/k jobs" for s in summaries)
        + " |"
    )
    table = "\n".join(lines)
    print(
        f"\nmodelled Lambda duration and cost (prices {prices.as_of}; $/M = per million "
        f"invocations):\n{table}\nchosen by the rule: {chosen.memory_mb} MB"
    )
    return table, chosen.memory_mb


def configured() -> str:
    """media_process's memory as Terraform sets it: the module default and each env's tfvars."""
    import re

    from bench_function_memory import configured_mb

    envs = []
    for tfvars in sorted((ROOT / "terraform" / "envs").glob("*/terraform.tfvars")):
        found = re.search(r"^media_process_memory_mb\s*=\s*(\d+)", tfvars.read_text(), re.M)
        if found:
            envs.append(f"{tfvars.parent.name} {found.group(1)} MB")
    return f"module default {configured_mb('media_process')} MB" + "".join(f", {e}" for e in envs)


def report(memory: dict[str, Any]) -> list[str]:
    """The memory part of the media section of docs/benchmarks.md."""
    rows = [
        f"| {r['label']} | {r['bytes'] / MIB:,.1f} MiB | {r['peak_rss_mib']:.0f} MiB "
        f"({r['python_rss_mib']:.0f} + {r['ffmpeg_rss_mib']:.0f}) | {r['wall_s']:.2f} s "
        f"| {r['cpu_s']:.2f} s | {r['cpu_s'] / r['wall_s']:.2f} | {r['load_factor']:.2f} |"
        for r in memory["kinds"]
    ]
    return [
        "**Memory and CPU per file kind** (`core.process_upload` with the real media toolkit, "
        "each kind in a fresh process; peak RSS = Python's high-water mark + the largest "
        "ffmpeg child's, an upper bound; CPU = user + sys including ffmpeg; also in "
        "`out/bench/media-memory.json`; load = wall / CPU time of a single-threaded spin run "
        "beside the work, 1.00 on an idle machine):",
        "",
        "| kind | size | peak RSS (python + ffmpeg) | wall | CPU | CPU / wall | load |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "**The Lambda memory trade** modelled from those figures ([ADR 0018]"
        "(adr/0018-memory-sizes-from-measurement.md)): duration = CPU time / min(vCPUs, "
        "parallelism), vCPUs = memory / 1,769 MB, parallelism = CPU time / (wall / load) within "
        "[1, cores]; cost per million invocations at the checked-in arm64 prices (per thousand "
        "jobs for the mix); `(RSS!)` where peak RSS exceeds 2/3 of the memory:",
        "",
        memory["table"],
        "",
        f"The rule (cheapest feasible size for the job mix, then the shortest tail within 10 % "
        f"of that cost) chooses **{memory['chosen_mb']} MB** from this run; configured: "
        f"{configured()}.",
    ]


if __name__ == "__main__":
    sys.exit("run devtools/bench_media.py")
