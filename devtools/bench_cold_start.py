"""Benchmark cold starts: the import of each function's handler, in fresh interpreters, beside
a bare boto3 S3 client measured in the same run. Prints ratios; never gates.

    python devtools/bench_cold_start.py            # median of 7 fresh processes each
    python devtools/bench_cold_start.py --runs 15
    python devtools/bench_cold_start.py --venv     # the dev .venv instead of the packages

What a Lambda cold start pays for our code is the handler's module import (settings validated,
logging configured, the analyzer's libraries loaded); the baseline is what any Python function
on AWS pays at least: ``import boto3`` and one client. By default each function is installed as
its zip ships it (``build_zips.install``: its locked dependencies only, into
``build/cold-start/<fn>``) and run with ``python -S`` on that directory alone, because the dev
venv holds extra packages that change what gets imported (structlog renders with ``rich`` when
it is installed). The baseline runs on the same directory. The target for TriageRun (local
analyzer) and init-session is a ratio <= 1.3 (issue 14); MediaProcess is printed for
information. Timings cover the statement only, not the interpreter's start-up; bytecode is
compiled by an unmeasured first run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "devtools"))

import build_zips  # noqa: E402 - devtools/ is on the path now
from bench_report import write_section  # noqa: E402

TARGET = 1.3
REGION = "us-east-1"
ENDPOINT = "http://127.0.0.1:4566"  # never contacted: creating a client makes no call
STAGING = ROOT / "build" / "cold-start"
BASELINE = f"import boto3\nboto3.client('s3', region_name={REGION!r}, endpoint_url={ENDPOINT!r})"
ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_ENDPOINT_URL": ENDPOINT,
    "MEDIA_BUCKET": "bench-media",
    "SESSIONS_TABLE": "bench-sessions",
    "FILES_TABLE": "bench-files",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:bench",
    "TOKEN_SECRET_PARAM": "/bench/token-secret",
    "LOG_LEVEL": "WARNING",
}
PROBE = """\
import sys, time
if {path!r}:
    sys.path.insert(0, {path!r})
_t = time.perf_counter()
exec(compile({statement!r}, "<bench>", "exec"))
print(time.perf_counter() - _t)
"""


@dataclass(frozen=True, slots=True)
class Case:
    function: str  # build_zips.FUNCTIONS key
    label: str
    env: dict[str, str]
    has_target: bool

    @property
    def statement(self) -> str:
        return f"import {self.function}.handler"


CASES = [
    Case("triage_run", "triage_run.handler (ANALYZER=local)", {"ANALYZER": "local"}, True),
    Case("init_session", "init_session.handler", {}, True),
    Case("media_process", "media_process.handler", {}, False),
]


def stage(function: str) -> Path:
    """The function's packages as its zip ships them, in a directory of their own."""
    target = STAGING / function
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    build_zips.install(build_zips.FUNCTIONS[function], target, "local", "x86_64")
    return target


def time_once(statement: str, path: Path | None, extra: dict[str, str]) -> float:
    """Seconds the statement takes in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GEMINI_"))}
    env.pop("ANALYZER", None)
    flags = ["-S", "-s"] if path is not None else []  # -S: no site-packages but the staging
    done = subprocess.run(
        [sys.executable, *flags, "-c", PROBE.format(path=str(path or ""), statement=statement)],
        env={**env, **ENV, **extra},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per case")
    parser.add_argument("--venv", action="store_true", help="the dev venv, not the packages")
    args = parser.parse_args()
    paths = {c.function: None if args.venv else stage(c.function) for c in CASES}
    for case in CASES:  # compile bytecode, warm the OS file cache: not measured
        time_once(BASELINE, paths[case.function], {})
        time_once(case.statement, paths[case.function], case.env)
    base: dict[str, list[float]] = {c.function: [] for c in CASES}
    took: dict[str, list[float]] = {c.function: [] for c in CASES}
    for _ in range(args.runs):  # interleaved: a busy moment hits every case alike
        for case in CASES:
            base[case.function].append(time_once(BASELINE, paths[case.function], {}))
            took[case.function].append(time_once(case.statement, paths[case.function], case.env))
    where = "the dev venv" if args.venv else "each function's packages (python -S)"
    print(f"Cold start: handler import in fresh processes, {where}, median of {args.runs}")
    print(f"  {'import':<36} {'ms':>7} {'boto3+s3 ms':>12} {'ratio':>6}")
    rows = ["| import | ms | boto3 + client ms | ratio (target <= 1.3) |", "|---|---|---|---|"]
    for case in CASES:
        b, t = statistics.median(base[case.function]), statistics.median(took[case.function])
        ratio = t / b
        flag = ("ok" if ratio <= TARGET else f"over {TARGET}x") if case.has_target else "(info)"
        print(f"  {case.label:<36} {t * 1000:7.1f} {b * 1000:12.1f} {ratio:5.2f}x  {flag}")
        rows.append(f"| `{case.label}` | {t * 1000:.0f} | {b * 1000:.0f} | {ratio:.2f}x {flag} |")
    intro = f"Handler import in fresh processes, {where}, median of {args.runs}, beside a bare"
    intro += ' `import boto3; boto3.client("s3", ...)` on the same path in the same run.'
    write_section(
        "cold_start", "Cold start (`make bench-cold-start`)", intro + "\n\n" + "\n".join(rows)
    )


if __name__ == "__main__":
    main()
