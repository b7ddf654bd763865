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

A second column times the import AND the first invocation of a representative event in the same
fresh process, so that work moved from import to first use is still counted: init-session gets
``tests/fixtures/events/http_results_if_none_match.json`` sent to a route that does not exist
(dispatch, the route table, a 404 body, the summary log line, and the container's clients built
by ``deps.services()``; only the SSM read of the token secret is replaced, the one AWS call on
that path). TriageRun's local path needs DynamoDB and S3 for any invocation, so it is
import-only (its column says so).
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
EVENTS = ROOT / "tests" / "fixtures" / "events"
# init-session's first invocation: a real API Gateway v2 event sent to a route that does not
# exist; the token secret's SSM read (the only AWS call on the path) answers a fixed value.
INVOKE_404 = """\
import json
import init_session.deps as deps
deps._parameter = lambda name: b"bench-secret-bench-secret-bench-secret"
import init_session.handler as h
event = json.loads({event!r})
event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/no-such-route"
assert h.handler(event, None)["statusCode"] == 404
"""
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
    first_invocation: str | None = None  # import + the first event, in one statement

    @property
    def statement(self) -> str:
        return f"import {self.function}.handler"


def _init_session_invocation() -> str:
    event = (EVENTS / "http_results_if_none_match.json").read_text()
    return INVOKE_404.format(event=event)


CASES = [
    Case("triage_run", "triage_run.handler (ANALYZER=local)", {"ANALYZER": "local"}, True),
    Case("init_session", "init_session.handler", {}, True, _init_session_invocation()),
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


def measure(runs: int, paths: dict[str, Path | None]) -> dict[str, dict[str, list[float]]]:
    """Seconds per case and column (base, import, invoke), interleaved run by run."""
    got: dict[str, dict[str, list[float]]] = {
        c.function: {"base": [], "import": [], "invoke": []} for c in CASES
    }
    for warm in [True] + [False] * runs:  # the first round compiles bytecode: not kept
        for case in CASES:  # interleaved: a busy moment hits every case alike
            path, row = paths[case.function], got[case.function]
            took = {
                "base": time_once(BASELINE, path, {}),
                "import": time_once(case.statement, path, case.env),
            }
            if case.first_invocation is not None:
                took["invoke"] = time_once(case.first_invocation, path, case.env)
            for column, seconds in took.items():
                if not warm:
                    row[column].append(seconds)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per case")
    parser.add_argument("--venv", action="store_true", help="the dev venv, not the packages")
    args = parser.parse_args()
    paths = {c.function: None if args.venv else stage(c.function) for c in CASES}
    got = measure(args.runs, paths)
    where = "the dev venv" if args.venv else "each function's packages (python -S)"
    print(f"Cold start: fresh processes, {where}, median of {args.runs}")
    print(
        f"  {'handler':<36} {'boto3+s3':>9} {'import':>8} {'ratio':>6}"
        f" {'+1st event':>11} {'ratio':>6}"
    )
    rows = [
        "| handler | boto3 + client ms | import ms | ratio (target <= 1.3) "
        "| import + first event ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for case in CASES:
        med = {k: statistics.median(v) * 1000 if v else None for k, v in got[case.function].items()}
        b, t, inv = med["base"] or 1.0, med["import"] or 0.0, med["invoke"]
        flag = ("ok" if t / b <= TARGET else f"over {TARGET}x") if case.has_target else "(info)"
        inv_ms, inv_ratio = (f"{inv:.0f}", f"{inv / b:.2f}x") if inv else ("import only", "-")
        print(
            f"  {case.label:<36} {b:9.1f} {t:8.1f} {t / b:5.2f}x"
            f" {inv_ms:>11} {inv_ratio:>6}  {flag}"
        )
        rows.append(
            f"| `{case.label}` | {b:.0f} | {t:.0f} | {t / b:.2f}x {flag} | {inv_ms} | {inv_ratio} |"
        )
    intro = f"Fresh processes, {where}, median of {args.runs}, beside a bare"
    intro += ' `import boto3; boto3.client("s3", ...)` on the same path in the same run. The last'
    intro += " two columns add the first invocation of a representative event (init-session: a"
    intro += " real API Gateway event to an unknown route, 404), so cost moved to first use shows."
    write_section(
        "cold_start", "Cold start (`make bench-cold-start`)", intro + "\n\n" + "\n".join(rows)
    )


if __name__ == "__main__":
    main()
