"""End-to-end benchmark over a simulated uplink: camera-roll batches through the deployed local
stack with the CLI's ``--max-upload-rate`` as the uplink, beside a serial baseline in the same
run, one table per run.

    python devtools/bench_e2e.py --api http://127.0.0.1:4566/_aws/execute-api/<apiId> \\
        [--batches mix36,photos200] [--rates 20Mbit,100Mbit] [--quick]

Batches (generated once, cached under ``--cache``): ``mixN`` is N files of a phone's camera
roll, 12 MP JPEGs (~3.5 MB, sensor grain) with one 8 s 1080p H.264 clip in nine spread
through it (``mix36``: 32 photos + 4 clips, ~150 MB, the demo's mix at real sizes);
``photosN`` is N photos. ``--quick`` runs ``mix8,photos16`` to prove the command works.

For each batch and uplink:

- pipeline end to end: the first upload starts -> every verdict visible in ``GET results``
  (polled every ``--poll`` s; the split below is exact to that resolution);
- the tail: the last byte acknowledged by S3 -> every verdict visible, split into the
  processing after it (the last file's), the wake-up lag (all processed -> the state
  machine's poll started TriageRun) and triage;
- serial baseline end to end: the same bytes uploaded at the same rate (bytes / rate: no
  client can be faster through that limit), then one process downloads every original,
  processes them one by one with the same media code and triages (``bench_e2e_serial``; run
  once per batch, its time does not depend on the uplink);
- targets beside the figures: ratio <= 0.6x at 20 Mbit/s; tail <= 1.5 x the last file's own
  processing time (the baseline's, same code) + triage + 1 s; the tail of the photo batch
  within 1.3x the tail of the mix at the same uplink (the wait must not grow with the batch).

Nothing gates on wall time; the table goes to docs/benchmarks.md (``bench_report``).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit

from bench_e2e_serial import SerialTimes, downloader, serial_baseline
from bench_report import write_section
from sample_batch import write_camera_roll, write_mixed

from media_triage_cli.command import Outcome, Run, RunOptions
from media_triage_cli.ratelimit import format_rate, parse_rate

TARGET_RATIO = 0.6
RATIO_AT = parse_rate("20Mbit")  # the ratio target is stated at this uplink
TAIL_FACTOR, TAIL_SLACK = 1.5, 1.0
TAIL_GROWTH = 1.3
DEFAULT_BATCHES = "mix36,photos200"
QUICK_BATCHES = "mix8,photos16"
DEFAULT_RATES = "20Mbit,100Mbit"
_BATCH = re.compile(r"^(mix|photos)(\d+)$")


@dataclass(frozen=True)
class Batch:
    name: str
    count: int
    clips: int

    @classmethod
    def parse(cls, text: str) -> Batch:
        found = _BATCH.match(text.strip())
        if found is None:
            raise argparse.ArgumentTypeError(f"batch {text!r}: mixN or photosN, e.g. mix36")
        count = int(found[2])
        clips = max(1, round(count / 9)) if found[1] == "mix" and count > 1 else 0
        return cls(text.strip(), count, clips)


# ---------------------------------------------------------------------------- pipeline


@dataclass
class PipelineTimes:
    upload: float  # first upload starts -> the last byte acknowledged
    processing: float  # -> every file processed (the last file's processing)
    wake: float  # -> the job past `processing` (TriageRun started)
    triage: float  # -> complete, every verdict visible
    total: float
    analyzing_seen: bool
    status: str
    last_file: str
    poll_interval: float  # median time between two polls' answers (the resolution)

    @property
    def tail(self) -> float:
        return self.processing + self.wake + self.triage


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
    t_processed = max(min(t_processed or t_done, t_done), t_up)
    t_triage = first(polls, lambda s, _: s in {"analyzing", "complete", "failed"}) or t_done
    t_triage = max(t_triage, t_processed)
    names = {fid: name for fid, name, _ in outcome.targets}
    last = max(outcome.uploaded, key=lambda fid: outcome.uploaded[fid], default="")
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(polls)]
    return PipelineTimes(
        upload=t_up - t0,
        processing=t_processed - t_up,
        wake=t_triage - t_processed,
        triage=t_done - t_triage,
        total=t_done - t0,
        analyzing_seen=any(s == "analyzing" for _, s, _ in polls),
        status=str((outcome.results or {}).get("status")),
        last_file=names.get(last, ""),
        poll_interval=median(gaps) if gaps else 0.0,
    )


def run_pipeline(
    api: str, paths: Sequence[Path], rate: float, args: argparse.Namespace
) -> tuple[Outcome, PipelineTimes]:
    run = Run(
        RunOptions(
            paths=[str(p) for p in paths],
            api=api,
            quiet=True,
            poll_interval=args.poll,
            concurrency=args.concurrency,
            timeout=args.timeout,
            max_upload_rate=rate,
        ),
        stdout=io.StringIO(),
    )
    code = run.execute()
    outcome = run.outcome
    if code != 0 or "upload_start" not in outcome.timeline:
        detail = json.dumps(outcome.results)[:2000]
        raise SystemExit(f"pipeline run failed (exit {code}): {detail}")
    return outcome, pipeline_times(outcome, len(paths))


# ---------------------------------------------------------------------------- one row


@dataclass
class Row:
    batch: str
    files: int
    clips: int
    mbytes: float
    rate: float
    pipe: PipelineTimes
    serial_upload: float
    serial: dict[str, Any]
    own_last: float  # the last file's own processing time (the baseline's)

    @property
    def serial_total(self) -> float:
        s = self.serial
        return float(self.serial_upload + s["download"] + s["processing"] + s["triage"])

    @property
    def ratio(self) -> float:
        return self.pipe.total / self.serial_total if self.serial_total else float("nan")

    @property
    def tail_target(self) -> float:
        return TAIL_FACTOR * self.own_last + self.pipe.triage + TAIL_SLACK


def make_row(
    batch: Batch, paths: Sequence[Path], rate: float, pipe: PipelineTimes, serial: SerialTimes
) -> Row:
    size = sum(p.stat().st_size for p in paths)
    return Row(
        batch=batch.name,
        files=len(paths),
        clips=batch.clips,
        mbytes=size / 1e6,
        rate=rate,
        pipe=pipe,
        serial_upload=size / rate,
        serial={
            "download": serial.download,
            "processing": serial.processing,
            "triage": serial.triage,
            "engine": serial.engine,
        },
        own_last=serial.per_file.get(pipe.last_file, 0.0),
    )


# ---------------------------------------------------------------------------- report


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def table(rows: Sequence[Row]) -> list[str]:
    out = [
        "| batch | uplink | upload | pipeline e2e | serial e2e | ratio | tail | last file "
        "processing | wake-up lag | triage | tail target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r.pipe
        ratio = f"{r.ratio:.2f}x"
        if r.rate == RATIO_AT:
            ratio += f" (<= {TARGET_RATIO}x: {_mark(r.ratio <= TARGET_RATIO)})"
        target = (
            f"<= {r.tail_target:.1f} s (own {r.own_last:.2f} s): {_mark(p.tail <= r.tail_target)}"
        )
        out.append(
            f"| {r.batch}: {r.files} files, {r.mbytes:.0f} MB | {format_rate(r.rate)} "
            f"| {p.upload:.1f} s | {p.total:.1f} s | {r.serial_total:.1f} s | {ratio} "
            f"| {p.tail:.2f} s | {p.processing:.2f} s | {p.wake:.2f} s | {p.triage:.2f} s "
            f"| {target} |"
        )
    return out


def growth(rows: Sequence[Row]) -> list[str]:
    """The photo batch's tail against the mix's at the same uplink."""
    lines = []
    for rate in sorted({r.rate for r in rows}):
        mix = [r for r in rows if r.rate == rate and r.batch.startswith("mix")]
        photos = [r for r in rows if r.rate == rate and r.batch.startswith("photos")]
        for m in mix:
            for ph in photos:
                g = ph.pipe.tail / m.pipe.tail if m.pipe.tail else float("nan")
                lines.append(
                    f"Tail of {ph.batch} / tail of {m.batch} at {format_rate(rate)}: {g:.2f}x "
                    f"(target <= {TAIL_GROWTH}x: {_mark(g <= TAIL_GROWTH)})."
                )
    return lines


def report(rows: Sequence[Row], args: argparse.Namespace) -> str:
    engine = rows[0].serial["engine"] if rows else ""
    polls = ", ".join(f"{r.batch}@{format_rate(r.rate)} {r.pipe.poll_interval:.2f} s" for r in rows)
    return "\n".join(
        [
            "Camera-roll batches (12 MP JPEGs ~3.5 MB with sensor grain, 8 s 1080p H.264 clips) "
            "through the deployed local stack with the CLI (concurrency "
            f"{args.concurrency}), its `--max-upload-rate` as the uplink, after a warm-up job; "
            "beside a serial baseline in the same run: the same bytes at the same rate "
            "(bytes / rate), then one process downloads every original, processes them one by "
            f"one with the same media code and triages (baseline code: {engine}). The tail is "
            "the last byte acknowledged -> every verdict visible in `GET results`.",
            "",
            f"Batches {', '.join(b.name for b in args.batch_list)}"
            + (
                " (`--quick`: a small run that proves the command; the full one is "
                "`make bench-e2e`)"
                if args.quick and not args.batches
                else ""
            )
            + f", uplinks {', '.join(format_rate(r) for r in args.rate_list)}:",
            "",
            *table(rows),
            "",
            *growth(rows),
            f"Results polled every {args.poll:g} s; the median gap between answers (the split's "
            f"resolution): {polls}. This machine has {os.cpu_count()} CPU core(s) shared by the "
            "emulator's per-file Lambdas, so processing overlaps at most that many files at "
            "once (on AWS every invocation has its own CPU): where the uplink outruns two "
            "cores, the files queue and the tail grows.",
        ]
    )


# ---------------------------------------------------------------------------- main


def _endpoint_of(api: str) -> str:
    parts = urlsplit(api)
    return f"{parts.scheme}://{parts.netloc}"


def _forget(endpoint: str, bucket: str, job_id: str | None) -> None:
    """Delete a measured job's objects: the emulator keeps every byte in memory."""
    if not job_id:
        return
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulator's dummy credentials
        )
        keys = [
            {"Key": obj["Key"]}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for obj in page.get("Contents", [])
            if job_id in obj["Key"]
        ]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i : i + 1000]})
    except Exception as exc:  # cleanup only
        print(f"  (could not delete job {job_id}'s objects: {exc})", file=sys.stderr)


def _warm_up(api: str, out: Path, files: int) -> None:
    warm = write_mixed(out / "warmup", files, min(1, files - 1))
    run = Run(
        RunOptions(paths=[str(p) for p in warm], api=api, quiet=True, timeout=300),
        stdout=io.StringIO(),
    )
    if run.execute() != 0:
        raise SystemExit("warm-up job failed")


def measure_batch(
    batch: Batch, rates: Sequence[float], args: argparse.Namespace, endpoint: str
) -> list[Row]:
    paths = write_camera_roll(args.cache / batch.name, batch.count, batch.clips)
    size = sum(p.stat().st_size for p in paths)
    print(f"{batch.name}: {len(paths)} files, {batch.clips} clips, {size / 1e6:.1f} MB", flush=True)
    by_name = {p.name: p for p in paths}
    serial: SerialTimes | None = None
    rows = []
    for rate in rates:
        print(f"  pipeline at {format_rate(rate)} (~{size / rate:.0f} s of upload)", flush=True)
        outcome, pipe = run_pipeline(args.api, paths, rate, args)
        if serial is None:
            print("  serial baseline", flush=True)
            files = [(fid, name, key, by_name[name]) for fid, name, key in outcome.targets]
            serial = serial_baseline(files, downloader(endpoint, args.bucket))
        _forget(endpoint, args.bucket, outcome.job_id)
        row = make_row(batch, paths, rate, pipe, serial)
        print(
            f"  e2e {pipe.total:.1f} s vs serial {row.serial_total:.1f} s ({row.ratio:.2f}x), "
            f"tail {pipe.tail:.2f} s (target <= {row.tail_target:.1f} s)",
            flush=True,
        )
        rows.append(row)
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--api", required=True, help="base URL of the deployed HTTP API")
    parser.add_argument(
        "--batches", default=None, help=f"comma-separated mixN / photosN ({DEFAULT_BATCHES})"
    )
    parser.add_argument("--rates", default=DEFAULT_RATES, help=f"uplinks ({DEFAULT_RATES})")
    parser.add_argument(
        "--quick", action="store_true", help=f"small batches ({QUICK_BATCHES}) to try it out"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="the CLI's uploads (4)")
    parser.add_argument("--poll", type=float, default=0.25, help="results poll interval (s)")
    parser.add_argument("--endpoint", help="S3 endpoint (default: the API's host)")
    parser.add_argument("--bucket", default="media-triage-local-media")
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument(
        "--cache", type=Path, default=Path("out/bench/batches"), help="generated batches"
    )
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--warmup", type=int, default=4, help="files of an unmeasured job first")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md as is")
    args = parser.parse_args(argv)
    names = args.batches or (QUICK_BATCHES if args.quick else DEFAULT_BATCHES)
    try:
        args.batch_list = [Batch.parse(b) for b in names.split(",") if b.strip()]
        args.rate_list = [parse_rate(r) for r in args.rates.split(",") if r.strip()]
    except (argparse.ArgumentTypeError, ValueError) as exc:
        parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    endpoint = args.endpoint or _endpoint_of(args.api)
    if args.warmup:
        _warm_up(args.api, args.out, args.warmup)
    rows: list[Row] = []
    for batch in args.batch_list:
        rows += measure_batch(batch, args.rate_list, args, endpoint)
    text = report(rows, args)
    print("\n" + text)
    if not args.no_write:
        write_section("e2e", "End to end over an uplink (`make bench-e2e`)", text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_e2e.json").write_text(
        json.dumps([{**asdict(r), "ratio": r.ratio, "tail": r.pipe.tail} for r in rows], indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
