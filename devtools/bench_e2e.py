"""End-to-end benchmark: 36 files (photos + short videos) through the deployed pipeline, beside
a serial baseline in the same run (the pre-DDR-061 design: one process downloads and processes
every file, then triages).

    python devtools/bench_e2e.py --api http://127.0.0.1:4566/_aws/execute-api/<apiId>

Pipeline phases come from the CLI's own clock and its results polls (every ``--poll`` s; the
split is exact to that resolution), on the critical path from the first upload to the
verdicts:

- upload: first upload starts -> the last upload is acknowledged by S3;
- processing: -> the first poll showing processedCount >= expectedFileCount (the per-file
  work overlaps the uploads; this is the tail left after the last upload);
- poll lag: -> the first poll showing the job past ``processing`` (the state machine's Poll
  noticed and started TriageRun; SPEC target <= 3 s);
- triage: -> the first poll showing ``complete`` with verdicts.

The baseline gets the same uploads (measured above), then downloads every original from the
bucket (``--endpoint``/``--bucket``; from disk when S3 cannot be reached), processes each one
after the other with the same media code as MediaProcess (Pillow photo tool, ffmpeg video
tool: thumbnail, display copy, proxy) and triages them with TriageRun's local analyzer on one
worker. Ratios are printed and written to docs/benchmarks.md; nothing gates on wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench_report import write_section
from sample_batch import write_mixed

from media_triage_cli.command import Outcome, Run, RunOptions

TARGET_RATIO = 0.6
TARGET_POLL_LAG = 3.0


# ---------------------------------------------------------------------------- pipeline


@dataclass
class PipelineTimes:
    upload: float
    processing: float
    poll_lag: float
    triage: float
    total: float
    analyzing_seen: bool
    status: str


def first(
    polls: Sequence[tuple[float, str, int]], test: Callable[[str, int], bool]
) -> float | None:
    return next((t for t, status, processed in polls if test(status, processed)), None)


def pipeline_times(outcome: Outcome, expected: int) -> PipelineTimes:
    tl, polls = outcome.timeline, outcome.polls
    t0 = tl["upload_start"]
    t_up = tl.get("upload_done", tl["done"])
    t_done = first(polls, lambda s, _: s == "complete") or tl["done"]
    t_processed = first(polls, lambda s, n: n >= expected or s not in {"processing", "pending"})
    t_processed = min(t_processed or t_done, t_done)
    t_triage = first(polls, lambda s, _: s in {"analyzing", "complete", "failed"}) or t_done
    analyzing_seen = any(s == "analyzing" for _, s, _ in polls)
    t_processed = max(t_processed, t_up)
    t_triage = max(t_triage, t_processed)
    return PipelineTimes(
        upload=t_up - t0,
        processing=t_processed - t_up,
        poll_lag=t_triage - t_processed,
        triage=t_done - t_triage,
        total=t_done - t0,
        analyzing_seen=analyzing_seen,
        status=str((outcome.results or {}).get("status")),
    )


# ---------------------------------------------------------------------------- serial baseline


class MemoryStore:
    """An ObjectStore for the analyzer: the renditions the baseline made, in memory."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def get_bytes(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        data = self.objects[key]
        return data if byte_range is None else data[byte_range[0] : byte_range[1] + 1]

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data

    def head(self, key: str) -> Any:
        return None

    def presign_get(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        return key

    def list_keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))

    def delete_keys(self, keys: Sequence[str]) -> int:
        return sum(self.objects.pop(k, None) is not None for k in keys)


@dataclass
class SerialTimes:
    download: float = 0.0
    processing: float = 0.0
    triage: float = 0.0
    engine: str = ""
    verdicts: int = 0
    notes: list[str] = field(default_factory=list)


def _downloader(endpoint: str | None, bucket: str) -> Callable[[str, Path], bytes]:
    """Reads originals from the bucket (boto3 against the emulator), else from disk."""
    if endpoint:
        try:
            import boto3

            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",  # noqa: S106 - the emulator's dummy credentials
            )

            def from_s3(key: str, path: Path) -> bytes:
                return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

            return from_s3
        except Exception:  # noqa: S110 - no boto3 or no endpoint: read from disk
            pass
    return lambda key, path: path.read_bytes()


def serial_baseline(
    files: Sequence[tuple[str, str, str, Path]], download: Callable[[str, Path], bytes]
) -> SerialTimes:
    """(fileId, filename, key, path) one after the other, then triage."""
    try:
        return _serial_with_pipeline_code(files, download)
    except ImportError as exc:
        times = _serial_with_equivalents(files, download)
        times.notes.append(f"pipeline media code not importable ({exc}); Pillow/ffmpeg used")
        return times


def _serial_with_pipeline_code(  # noqa: PLR0915 - the baseline, its steps nested
    files: Sequence[tuple[str, str, str, Path]], download: Callable[[str, Path], bytes]
) -> SerialTimes:
    from media_process import detect
    from media_process.adapters.photo import PillowPhotoTool
    from media_process.adapters.video import FfmpegVideoTool, VideoOptions
    from media_triage_shared.deadline import Deadline
    from media_triage_shared.media import MediaFailure
    from media_triage_shared.models import MediaItem, MediaRef, MediaType
    from triage_run.local import LocalAnalyzer

    times = SerialTimes(engine="media_process adapters + triage_run LocalAnalyzer (1 worker)")
    photo_tool, video_tool = PillowPhotoTool(), FfmpegVideoTool(VideoOptions())
    store = MemoryStore()

    def ref(key: str, data: bytes, mime: str) -> MediaRef:
        store.put_bytes(key, data, mime)
        return MediaRef(key=key, mime_type=mime)

    def photo(fid: str, name: str, data: bytes, mime: str) -> MediaItem | None:
        res = photo_tool.process_photo(data, mime, max_pixels=100_000_000)
        if isinstance(res, MediaFailure):
            return None
        thumb = ref(f"derived/bench/{fid}/thumb.jpg", res.thumbnail.data, "image/jpeg")
        media = thumb
        if res.display is not None:
            media = ref(f"derived/bench/{fid}/display.jpg", res.display.data, "image/jpeg")
        return MediaItem(
            file_id=fid,
            filename=name,
            media_type=MediaType.PHOTO,
            media=media,
            thumbnail=thumb,
            width=res.width,
            height=res.height,
        )

    def video(fid: str, name: str, local: str, mime: str) -> MediaItem | None:
        probe = video_tool.probe_video(local, mime, deadline=Deadline.after(60))
        if isinstance(probe, MediaFailure):
            return None
        frame = video_tool.video_thumbnail(local, mime, probe, deadline=Deadline.after(60))
        proxy = video_tool.video_proxy(local, mime, probe, deadline=Deadline.after(120))
        thumb = None
        if not isinstance(frame, MediaFailure):
            thumb = ref(f"derived/bench/{fid}/thumb.jpg", frame.data, "image/jpeg")
        media = thumb
        if not isinstance(proxy, MediaFailure):
            media = ref(f"derived/bench/{fid}/proxy.mp4", proxy.data, "video/mp4")
        if media is None:
            return None
        return MediaItem(
            file_id=fid,
            filename=name,
            media_type=MediaType.VIDEO,
            media=media,
            thumbnail=thumb,
            width=probe.width,
            height=probe.height,
            duration_seconds=probe.duration_seconds,
        )

    items: list[MediaItem] = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="bench-serial-") as scratch:
        for fid, name, key, path in files:
            started = time.perf_counter()
            data = download(key, path)
            fetched = time.perf_counter()
            times.download += fetched - started
            kind = detect.sniff(data[:4096])
            fingerprint = hashlib.sha256(data).hexdigest()
            item = None
            if kind.mime_type is not None and fingerprint not in seen:
                seen.add(fingerprint)
                if kind.media_type is MediaType.PHOTO:
                    item = photo(fid, name, data, kind.mime_type)
                else:
                    local = Path(scratch) / f"{fid}{path.suffix}"
                    local.write_bytes(data)
                    item = video(fid, name, str(local), kind.mime_type)
            if item is not None:
                items.append(item)
            times.processing += time.perf_counter() - fetched
    started = time.perf_counter()
    verdicts = LocalAnalyzer(store, workers=1).analyze(items, deadline=time.monotonic() + 600)
    times.triage = time.perf_counter() - started
    times.verdicts = len(verdicts)
    return times


def _serial_with_equivalents(
    files: Sequence[tuple[str, str, str, Path]], download: Callable[[str, Path], bytes]
) -> SerialTimes:
    """Pillow + ffmpeg doing what MediaProcess and the local analyzer do, for when their
    code cannot be imported."""
    import subprocess

    from PIL import Image, ImageFilter, ImageOps, ImageStat

    times = SerialTimes(engine="Pillow + ffmpeg equivalents")
    thumbs: list[bytes] = []
    with tempfile.TemporaryDirectory(prefix="bench-serial-") as scratch:
        for fid, _name, key, path in files:
            started = time.perf_counter()
            data = download(key, path)
            fetched = time.perf_counter()
            times.download += fetched - started
            if path.suffix.lower() in {".mp4", ".mov", ".webm", ".mkv"}:
                local = Path(scratch) / f"{fid}{path.suffix}"
                local.write_bytes(data)
                thumb, proxy = Path(scratch) / f"{fid}.jpg", Path(scratch) / f"{fid}-p.mp4"
                base = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
                subprocess.run(
                    [
                        *base,
                        "-ss",
                        "1",
                        "-i",
                        str(local),
                        "-frames:v",
                        "1",
                        "-vf",
                        "scale=400:-2",
                        str(thumb),
                    ],
                    check=False,
                    timeout=60,
                )
                subprocess.run(
                    [
                        *base,
                        "-i",
                        str(local),
                        "-vf",
                        "scale=960:-2",
                        "-r",
                        "15",
                        "-c:v",
                        "libx264",
                        "-preset",
                        "veryfast",
                        "-b:v",
                        "320k",
                        "-c:a",
                        "aac",
                        "-b:a",
                        "64k",
                        str(proxy),
                    ],
                    check=False,
                    timeout=120,
                )
                if thumb.exists():
                    thumbs.append(thumb.read_bytes())
            else:
                try:
                    with Image.open(io.BytesIO(data)) as img:
                        im = ImageOps.exif_transpose(img).convert("RGB")
                    if max(im.size) > 2048:
                        im.copy().thumbnail((2048, 2048))
                    im.thumbnail((400, 400))
                    buf = io.BytesIO()
                    im.save(buf, "JPEG", quality=80)
                    thumbs.append(buf.getvalue())
                except OSError:
                    pass
            times.processing += time.perf_counter() - fetched
    started = time.perf_counter()
    for data in thumbs:
        with Image.open(io.BytesIO(data)) as img:
            gray = img.convert("L")
            ImageStat.Stat(gray).mean  # noqa: B018 - exposure
            ImageStat.Stat(gray.filter(ImageFilter.FIND_EDGES)).var  # noqa: B018 - sharpness
    times.triage = time.perf_counter() - started
    times.verdicts = len(thumbs)
    return times


# ---------------------------------------------------------------------------- report


def report(pipe: PipelineTimes, serial: SerialTimes, batch: str, poll: float) -> str:
    """The run as the markdown section of docs/benchmarks.md."""
    serial_total = pipe.upload + serial.download + serial.processing + serial.triage
    ratio = pipe.total / serial_total if serial_total else float("nan")
    met = "met" if ratio <= TARGET_RATIO else "**not met on this machine**"
    return "\n".join(
        [
            f"{batch} through the deployed local stack with the CLI, after a warm-up job, beside "
            "a serial baseline in the same run (one process: the same uploads, download every "
            "original, process one after the other with the same media code, then triage; "
            f"baseline code: {serial.engine}). Results polled every {poll:g} s:",
            "",
            "| phase | pipeline | serial baseline |",
            "|---|---|---|",
            f"| upload | {pipe.upload:.2f} s | {pipe.upload:.2f} s (+{serial.download:.2f} s "
            "download) |",
            f"| processing (after the last upload) | {pipe.processing:.2f} s "
            f"| {serial.processing:.2f} s |",
            f"| poll lag (all processed -> triage started) | {pipe.poll_lag:.2f} s (target <= "
            f"{TARGET_POLL_LAG:.0f} s) | - |",
            f"| triage | {pipe.triage:.2f} s | {serial.triage:.2f} s |",
            f"| end to end | {pipe.total:.2f} s | {serial_total:.2f} s |",
            "",
            f"Ratio {ratio:.2f}x against a target of <= {TARGET_RATIO}x: {met}. The per-file "
            "Lambdas, the emulator and the baseline share this machine's cores, so the pipeline "
            "overlaps at most that many files at once; on AWS every invocation has its own CPU.",
        ]
    )


def _endpoint_of(api: str) -> str:
    parts = urlsplit(api)
    return f"{parts.scheme}://{parts.netloc}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--api", required=True, help="base URL of the deployed HTTP API")
    parser.add_argument("--files", type=int, default=36)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--photo-size", default="4000x3000", help="WxH of the photos (12 MP)")
    parser.add_argument("--video-size", default="1280x720")
    parser.add_argument("--video-seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--poll", type=float, default=0.25, help="results poll interval (s)")
    parser.add_argument(
        "--endpoint",
        help="S3 endpoint for the baseline's downloads "
        "(default: the API's host, i.e. the local emulator)",
    )
    parser.add_argument("--bucket", default="media-triage-local-media")
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--warmup",
        type=int,
        default=4,
        help="files of an unmeasured job first, so every function has warm workers (the "
        "baseline runs in this already-imported process); 0 measures cold starts too",
    )
    args = parser.parse_args()

    batch = args.out / "batch"
    width, height = (int(v) for v in args.photo_size.lower().split("x"))
    paths = write_mixed(
        batch,
        args.files,
        args.videos,
        photo_size=(width, height),
        video_size=args.video_size,
        video_seconds=args.video_seconds,
    )
    if args.warmup:
        warm = write_mixed(args.out / "warmup", args.warmup, min(1, args.warmup - 1))
        warm_run = Run(
            RunOptions(paths=[str(p) for p in warm], api=args.api, quiet=True, timeout=300),
            stdout=io.StringIO(),
        )
        if warm_run.execute() != 0:
            print("warm-up job failed", file=sys.stderr)
            return 1
    size = sum(p.stat().st_size for p in paths)

    print(
        f"e2e benchmark: {len(paths)} files ({len(paths) - args.videos} photos, {args.videos} "
        f"videos, {size / 1e6:.1f} MB), upload concurrency {args.concurrency}, "
        f"poll every {args.poll} s",
        flush=True,
    )
    run = Run(
        RunOptions(
            paths=[str(batch)],
            api=args.api,
            quiet=True,
            poll_interval=args.poll,
            concurrency=args.concurrency,
            timeout=args.timeout,
        ),
        stdout=io.StringIO(),
    )
    code = run.execute()
    outcome = run.outcome
    if code != 0 or "upload_start" not in outcome.timeline:
        print(f"pipeline run failed (exit {code}): {json.dumps(outcome.results)[:2000]}")
        return 1
    pipe = pipeline_times(outcome, len(paths))

    by_name = {p.name: p for p in paths}
    files = [(fid, name, key, by_name[name]) for fid, name, key in outcome.targets]
    serial = serial_baseline(
        files, _downloader(args.endpoint or _endpoint_of(args.api), args.bucket)
    )
    serial_total = pipe.upload + serial.download + serial.processing + serial.triage
    ratio = pipe.total / serial_total if serial_total else float("nan")

    def row(label: str, seconds: float, note: str = "") -> str:
        return f"  {label:<44} {seconds:7.2f} s  {note}".rstrip()

    lag_ok = "OK" if pipe.poll_lag <= TARGET_POLL_LAG else "OVER"
    lines = [
        f"pipeline (per-file Lambdas + Step Functions poll), job {pipe.status}",
        row("upload (first upload -> last acknowledged)", pipe.upload),
        row("processing (last upload -> all processed)", pipe.processing),
        row(
            "poll lag (all processed -> triage started)",
            pipe.poll_lag,
            f"target <= {TARGET_POLL_LAG:.0f} s: {lag_ok}",
        ),
        row(
            "triage (-> verdicts)",
            pipe.triage,
            "" if pipe.analyzing_seen else "(faster than one poll: counted in the poll lag)",
        ),
        row("end-to-end (first upload -> verdicts)", pipe.total),
        f"serial baseline (one process: download, process each file, then triage): {serial.engine}",
        row("upload (the same uploads)", pipe.upload),
        row("download (every original)", serial.download),
        row("processing (one file after the other)", serial.processing),
        row(f"triage ({serial.verdicts} verdicts)", serial.triage),
        row("end-to-end", serial_total),
        f"ratio end-to-end pipeline / serial: {ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x: {'OK' if ratio <= TARGET_RATIO else 'OVER'}); "
        f"poll lag {pipe.poll_lag:.2f} s (resolution {args.poll} s)",
        f"this machine has {os.cpu_count()} CPU core(s): the per-file Lambdas of the local "
        "emulator share them, so processing can overlap at most that many files at once "
        "(on AWS every Lambda has its own CPU)",
        *serial.notes,
    ]
    print("\n".join(lines))
    batch_text = (
        f"{len(paths)} files ({len(paths) - args.videos} photos, {args.videos} videos, "
        f"{size / 1e6:.1f} MB)"
    )
    write_section(
        "e2e", "End to end (`make bench-e2e`)", report(pipe, serial, batch_text, args.poll)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_e2e.json").write_text(
        json.dumps(
            {
                "files": len(paths),
                "videos": args.videos,
                "bytes": size,
                "pipeline": pipe.__dict__,
                "serial": {**serial.__dict__, "total": serial_total},
                "ratio": ratio,
                "pollInterval": args.poll,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
