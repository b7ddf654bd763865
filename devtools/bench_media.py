"""MediaProcess benchmark (`make bench-media`): ratios against floors measured in the same run.

Not a test: it prints numbers, checks them against the issue's targets and writes its section of
docs/benchmarks.md; it never gates CI on wall time. Every measured operation runs in a fresh
child process so its peak RSS is its own.

- photos (12 MP JPEG, 24 MP JPEG, 12 MP HEIC): the MediaProcess photo core (type detection,
  metadata, thumbnail, display copy; no S3/DynamoDB I/O) vs a bare Pillow script producing the
  same outputs through the fastest decode path (draft/reduce). Target: <= 1.5x; 24 MP peak RSS
  < 512 MiB. Also printed: the draft path vs a full decode, for the 24 MP JPEG.
- video (30 s 1080p H.264/AAC): the adapter's proxy encode vs a bare `ffmpeg` with the same
  settings; target >= 2x realtime.
- memory and CPU per file kind (12 MP / 48 MP JPEG, 12 MP HEIC, 1080p and 4K clips, and a
  large video, default 2 GiB, `--big-gib 0` skips it, served over HTTP range requests like a
  presigned URL) through ``core.process_upload``: peak RSS, wall and CPU time, written to
  out/bench/media-memory.json, and the Lambda memory trade they imply (bench_media_memory.py,
  memory_trade.py, ADR 0018). Targets: the large video's peak RSS < 1 GiB, no copy of it in the
  temp dir.
- TriageRun's peak RSS on a 36-file job per analyzer (bench_function_memory.py;
  `--no-functions` skips it), written to out/bench/function-memory.json.

Inputs are generated once under build/bench-media/.

    .venv/bin/python devtools/bench_media.py [--repeat 5] [--big-gib 2] [--no-functions]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bench_function_memory
import bench_media_memory
from bench_report import write_section

ROOT = Path(__file__).resolve().parents[1]
for src in ("shared/src", "functions/media_process/src", "tests"):
    sys.path.insert(0, str(ROOT / src))

MIB = 1024 * 1024


# ---------------------------------------------------------------------------- child operations


def _photo_core(path: str) -> None:
    from media_process import detect
    from media_process.adapters.photo import PillowPhotoTool

    data = Path(path).read_bytes()
    found = detect.sniff(data[: detect.SNIFF_BYTES])
    assert found.mime_type is not None
    result = PillowPhotoTool().process_photo(data, found.mime_type, max_pixels=100_000_000)
    assert not hasattr(result, "code"), result


def _photo_floor(path: str) -> None:
    """The same outputs with bare Pillow: draft (JPEG), orientation, 2048 q85 + 400 q80."""
    import pillow_heif
    from PIL import Image, ImageOps

    pillow_heif.register_heif_opener()
    data = Path(path).read_bytes()
    im = Image.open(io.BytesIO(data))
    long_edge = max(im.size)
    if im.format == "JPEG" and long_edge > 2048:
        scale = 2048 / long_edge
        im.draft("RGB", (int(im.width * scale), int(im.height * scale)))
    im = ImageOps.exif_transpose(im).convert("RGB")
    if long_edge > 2048 or im.format != "JPEG":
        im.thumbnail((2048, 2048), Image.Resampling.LANCZOS, reducing_gap=3.0)
        im.save(io.BytesIO(), "JPEG", quality=85)
    im.thumbnail((400, 400), Image.Resampling.LANCZOS, reducing_gap=2.0)
    im.save(io.BytesIO(), "JPEG", quality=80)


def _photo_full_decode(path: str) -> None:
    """The naive path: decode every pixel, then resize."""
    from PIL import Image, ImageOps

    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    im.resize((2048, round(2048 * im.height / im.width)), Image.Resampling.LANCZOS).save(
        io.BytesIO(), "JPEG", quality=85
    )
    im.resize((400, round(400 * im.height / im.width)), Image.Resampling.LANCZOS).save(
        io.BytesIO(), "JPEG", quality=80
    )


def _video_probe(path: str) -> Any:
    from media_process.adapters.video import FfmpegVideoTool
    from media_triage_shared.deadline import Deadline

    probe = FfmpegVideoTool().probe_video(path, "video/mp4", deadline=Deadline.after(600))
    assert not hasattr(probe, "code"), probe
    return probe


def _video_proxy(path: str) -> None:
    from media_process.adapters.video import FfmpegVideoTool
    from media_triage_shared.deadline import Deadline

    proxy = FfmpegVideoTool().video_proxy(
        path, "video/mp4", _video_probe(path), deadline=Deadline.after(3600)
    )
    assert not hasattr(proxy, "code"), proxy


def _video_floor(path: str) -> None:
    """A bare ffmpeg proxy encode with the adapter's settings."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", path,
                "-map", "0:v:0", "-map", "0:a:0", "-t", "300",
                "-vf", "fps=15,scale='min(960,iw)':'min(960,ih)':force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuv420p",  # noqa: E501
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-maxrate", "320k",
                "-bufsize", "640k", "-g", "30", "-profile:v", "main",
                "-c:a", "aac", "-b:a", "64k", "-ac", "2", "-movflags", "+faststart",
                "-fs", str(15 * MIB), f"{tmp}/p.mp4",
            ],
            check=True,
        )  # fmt: skip


def _video_all(url: str) -> None:
    """What MediaProcess does with a video: probe, thumbnail, proxy, from a URL."""
    from media_process.adapters.video import FfmpegVideoTool
    from media_triage_shared.deadline import Deadline

    tool = FfmpegVideoTool()
    probe = _video_probe(url)
    thumb = tool.video_thumbnail(url, "video/mp4", probe, deadline=Deadline.after(600))
    assert not hasattr(thumb, "code"), thumb
    proxy = tool.video_proxy(url, "video/mp4", probe, deadline=Deadline.after(3600))
    assert not hasattr(proxy, "code"), proxy


OPS = {
    "photo_core": _photo_core,
    "photo_floor": _photo_floor,
    "photo_full": _photo_full_decode,
    "video_proxy": _video_proxy,
    "video_floor": _video_floor,
    "video_all": _video_all,
}


def _peak_rss() -> int:
    """Peak RSS of this process (VmHWM: reset by exec, unlike ru_maxrss, which a child
    inherits from its parent) and of the subprocesses it waited for (ffmpeg)."""
    hwm = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return max(hwm, children)


def _warm_imports() -> None:
    """Import what the operations use, so that only the work itself is timed."""
    import ffmpeg  # noqa: F401
    import pillow_heif
    from PIL import Image, ImageOps  # noqa: F401

    from media_process import core, detect  # noqa: F401
    from media_process.adapters import photo, video  # noqa: F401

    pillow_heif.register_heif_opener()


def _child(op: str, arg: str, repeat: int) -> None:
    _warm_imports()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        OPS[op](arg)
        times.append(time.perf_counter() - started)
    print(json.dumps({"seconds": statistics.median(times), "rss": _peak_rss()}))


def run(op: str, arg: str, repeat: int = 1, env: dict[str, str] | None = None) -> dict[str, float]:
    """``op`` in a fresh process (its own peak RSS), ``repeat`` times: the median time."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", op, arg, str(repeat)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{op} {arg} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def median_run(op: str, arg: str, repeat: int, **kw: Any) -> dict[str, float]:
    return run(op, arg, repeat, **kw)


# ---------------------------------------------------------------------------- inputs


def make_big_video(work: Path, seed: Path, gib: float) -> Path:
    """A ``gib`` GiB MP4 made by looping a high-bitrate segment with stream copy (fast)."""
    segment = work / "segment.mp4"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(seed),
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "60M", "-maxrate", "60M",
            "-bufsize", "60M", "-c:a", "copy", str(segment),
        ],
        check=True,
    )  # fmt: skip
    loops = max(1, round(gib * 1024 * MIB / segment.stat().st_size))
    big = work / "big.mp4"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", str(loops - 1),
            "-i", str(segment), "-c", "copy", "-movflags", "+faststart", str(big),
        ],
        check=True,
    )  # fmt: skip
    segment.unlink()
    return big


class _Ranged(BaseHTTPRequestHandler):
    path_on_disk = Path()

    def do_GET(self) -> None:
        size = self.path_on_disk.stat().st_size
        start, end = 0, size - 1
        header = self.headers.get("Range")
        if header:
            first, _, last = header.removeprefix("bytes=").partition("-")
            start, end = int(first or 0), min(int(last), end) if last else end
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        with self.path_on_disk.open("rb") as fh, contextlib.suppress(OSError):
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(left, MIB))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(path: Path) -> Iterator[str]:
    _Ranged.path_on_disk = path
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ranged)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/uploads/big.mp4?X-Amz-Signature=x"
    finally:
        server.shutdown()
        server.server_close()


def _largest_file(root: Path) -> int:
    sizes = [p.stat().st_size for p in root.rglob("*") if p.is_file()]
    return max(sizes, default=0)


# ---------------------------------------------------------------------------- report

PHOTOS = {
    "jpeg_12mp": "12 MP JPEG (detect, metadata, thumb, display)",
    "jpeg_24mp": "24 MP JPEG",
    "heic_12mp": "12 MP HEIC (-> JPEG display)",
}


def report(results: dict[str, Any], checks: list[tuple[str, bool]], repeat: int) -> str:
    """The run as the markdown section of docs/benchmarks.md."""
    rows = []
    for name, label in PHOTOS.items():
        r = results[name]
        rows.append(
            f"| {label} | {r['core']['seconds']:.3f} s | {r['floor']['seconds']:.3f} s "
            f"| {r['ratio']:.2f} (<= 1.5) | {r['core']['rss'] / MIB:.0f} MiB |"
        )
    v = results["video_1080p_30s"]
    rows.append(
        f"| 30 s 1080p30 H.264/AAC -> proxy.mp4 | {v['proxy']['seconds']:.2f} s "
        f"({v['realtime_factor']:.1f}x realtime, >= 2x) | {v['floor']['seconds']:.2f} s "
        f"| {v['ratio']:.2f} | {v['proxy']['rss'] / MIB:.0f} MiB |"
    )
    big = results.get("video_big")
    if big:
        rows.append(
            f"| {big['bytes'] / 1024**3:.0f} GiB MP4 over HTTP ranges (process_upload) "
            f"| {big['seconds']:.1f} s | - | - | {big['rss'] / MIB:.0f} MiB (< 1 GiB); largest "
            f"temp file {big['largest_temp_file'] / MIB:.0f} MiB |"
        )
    full = results["jpeg_24mp"]["full_decode"]
    draft = full["seconds"] / results["jpeg_24mp"]["core"]["seconds"]
    missed = [label for label, ok in checks if not ok]
    return "\n".join(
        [
            f"Median of {repeat}. Every operation runs in a fresh process (its own peak RSS) and "
            "is compared with a floor measured in the same run: for photos, a bare Pillow script "
            "producing the same outputs through the fastest decode path (draft/reduce); for "
            "video, a bare `ffmpeg` proxy encode with the same settings.",
            "",
            "| input | MediaProcess | floor | ratio (target) | peak RSS (target) |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"The draft path decodes the 24 MP JPEG {draft:.1f}x faster than a full decode "
            f"({full['rss'] / MIB:.0f} MiB peak). Targets "
            + (f"missed: {', '.join(missed)}." if missed else "all met."),
            "Decisions behind these numbers: [ADR 0004](adr/0004-media-processing.md).",
            "",
            *(bench_media_memory.report(results["memory"]) if "memory" in results else []),
            "",
            *(bench_function_memory.report(results["functions"]) if "functions" in results else []),
        ]
    )


# ---------------------------------------------------------------------------- main


def _memory(
    args: argparse.Namespace,
    inputs: dict[str, Path],
    results: dict[str, Any],
    checks: list[tuple[str, bool]],
) -> None:
    """Peak RSS, wall and CPU per kind through ``core.process_upload``, the memory trade, and
    TriageRun's peak RSS (ADR 0018)."""
    memory = bench_media_memory.measure(inputs, args.repeat, args.big_gib)
    bench_media_memory.write_json(memory)
    cores = len(os.sched_getaffinity(0))
    trade_table, chosen_mb = bench_media_memory.trade(memory, cores)
    results["memory"] = {"kinds": memory, "chosen_mb": chosen_mb, "table": trade_table}
    if args.functions:
        results["functions"] = bench_function_memory.measure(inputs["video_1080p"])
    big = next((r for r in memory if r["kind"] == "video_2gib"), None)
    if big:
        rss = big["peak_rss_mib"] * MIB
        results["video_big"] = {
            "seconds": big["wall_s"],
            "rss": rss,
            "bytes": big["bytes"],
            "largest_temp_file": big["largest_temp_file"],
        }
        checks.append(("2 GB video peak RSS < 1 GiB", rss < 1024 * MIB))
        checks.append(("no /tmp copy of the original", big["largest_temp_file"] < 64 * MIB))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("OP", "ARG", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big-gib", type=float, default=2.0, help="0 skips the large video")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--no-functions",
        dest="functions",
        action="store_false",
        help="skip TriageRun's peak RSS (moto server + fake Gemini)",
    )
    args = parser.parse_args()
    if args.child:
        if args.child[0] == "process":
            bench_media_memory.child(args.child[1], int(args.child[2]))
        elif args.child[0] == "function":
            bench_function_memory.child(args.child[1])
        else:
            _child(args.child[0], args.child[1], int(args.child[2]))
        return 0

    results: dict[str, Any] = {"cpus": os.cpu_count()}
    checks: list[tuple[str, bool]] = []
    inputs = bench_media_memory.make_inputs(args.big_gib)
    print(f"\n{'photo':12} {'core s':>8} {'floor s':>8} {'ratio':>6} {'peak RSS':>9}")
    for name in ("jpeg_12mp", "jpeg_24mp", "heic_12mp"):
        path = str(inputs[name])
        core = median_run("photo_core", path, args.repeat)
        floor = median_run("photo_floor", path, args.repeat)
        ratio = core["seconds"] / floor["seconds"]
        results[name] = {"core": core, "floor": floor, "ratio": ratio}
        print(
            f"{name:12} {core['seconds']:8.3f} {floor['seconds']:8.3f} {ratio:6.2f} "
            f"{core['rss'] / MIB:7.0f} MiB"
        )
        checks.append((f"{name} core <= 1.5x floor", ratio <= 1.5))
    full = median_run("photo_full", str(inputs["jpeg_24mp"]), args.repeat)
    draft_ratio = full["seconds"] / results["jpeg_24mp"]["core"]["seconds"]
    results["jpeg_24mp"]["full_decode"] = full
    print(
        f"24 MP: full decode {full['seconds']:.3f} s, {full['rss'] / MIB:.0f} MiB -> the "
        f"draft path is {draft_ratio:.1f}x faster"
    )
    checks.append(("24 MP peak RSS < 512 MiB", results["jpeg_24mp"]["core"]["rss"] < 512 * MIB))

    video = str(inputs["video_1080p"])
    proxy = median_run("video_proxy", video, max(1, args.repeat // 2))
    vfloor = median_run("video_floor", video, max(1, args.repeat // 2))
    realtime = 30.0 / proxy["seconds"]
    results["video_1080p_30s"] = {
        "proxy": proxy,
        "floor": vfloor,
        "ratio": proxy["seconds"] / vfloor["seconds"],
        "realtime_factor": realtime,
    }
    print(
        f"\n30 s 1080p proxy: {proxy['seconds']:.2f} s ({realtime:.1f}x realtime), bare ffmpeg "
        f"{vfloor['seconds']:.2f} s, ratio {proxy['seconds'] / vfloor['seconds']:.2f}, "
        f"peak RSS {proxy['rss'] / MIB:.0f} MiB"
    )
    checks.append(("30 s 1080p proxy >= 2x realtime", realtime >= 2.0))

    _memory(args, inputs, results, checks)

    print("\ntargets:")
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    write_section(
        "media", "MediaProcess (`make bench-media`)", report(results, checks, args.repeat)
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
