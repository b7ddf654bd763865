"""`make cost`: what one job costs in dollars, from figures measured on the deployed local stack,
priced with the checked-in table (``media_triage_shared.pricing``; arithmetic in cost_table.py).

    python devtools/cost.py --api <api_url> --endpoint http://127.0.0.1:4566 --bucket <bucket> \
        --sessions-table <t> --state-machine-arn <arn> --tf-state <state>

Jobs: 36 files (12 MP photos and 1080p clips, the bench-e2e mix) and 500 small generated files
(640x480 photos and a few short clips: the per-file costs, not the bytes, are what grows),
each once with the local analyzer and once with Gemini (tests/support/fake_gemini.py on
loopback through the real google-genai SDK, deployed like the Gemini stack tests). Each job
runs through the real CLI (uploads, results polls every ``--poll`` s). Per job:

- Lambda invocations, billed ms and memory per function, and log bytes: the emulator's
  executor (``/_local_aws/usage``); durations on this machine are inflated against Lambda (the
  functions share its cores with the emulator) and are printed as measured;
- DynamoDB RRU/WRU: counted by the emulator from the stored items' sizes (ADR); the polls'
  share is the polls the CLI made x the RRU of one poll measured after the job;
- S3 requests by price class and presigned bytes out: the emulator; GB stored: the job's new
  objects, kept until the bucket's lifecycle expiry;
- Step Functions transitions: the job's executions' histories (states entered);
- HTTP API requests: the emulator's data plane (polls included);
- Gemini tokens: the job's summary (TriageRun sums the SDK's usage metadata).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import memory_trade
import requests
from bench_report import write_section
from cost_table import JobUsage, LambdaUse, markdown, price
from sample_batch import write_mixed

from media_triage_cli.command import Run, RunOptions
from media_triage_shared.pricing import load_prices

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
GEMINI_KEY = "AIza-fake-key-for-make-cost"
FUNCTIONS = ("media_process", "triage_run", "init_session")
SHORT = {name.replace("_", "-"): name for name in FUNCTIONS}
MEMORY_JSON = ROOT / "out" / "bench" / "media-memory.json"


class Stack:
    """The deployed local stack: clients, the usage endpoint, terraform re-applies."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        kw: dict[str, Any] = {
            "endpoint_url": args.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        self.s3, self.ddb, self.sfn = (
            boto3.client(s, **kw) for s in ("s3", "dynamodb", "stepfunctions")
        )

    def usage(self, reset: bool = True) -> dict[str, Any]:
        url = f"{self.args.endpoint}/_local_aws/usage"
        resp = requests.request("DELETE" if reset else "GET", url, timeout=30)
        resp.raise_for_status()
        return dict(resp.json())

    def wait_idle(self, timeout: float = 300) -> None:
        requests.get(
            f"{self.args.endpoint}/_local_aws/lambda/wait-idle?timeout={timeout}",
            timeout=timeout + 10,
        )

    def apply(self, *variables: str) -> None:
        cmd = [
            "terraform",
            "-chdir=terraform/envs/local",
            "apply",
            "-input=false",
            "-auto-approve",
            f"-state={self.args.tf_state}",
            f"-var=endpoint={self.args.endpoint}",
            *variables,
        ]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

    def object_sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.args.bucket):
            sizes.update({o["Key"]: int(o["Size"]) for o in page.get("Contents", [])})
        return sizes

    def expiry_hours(self) -> tuple[float, str]:
        try:
            rules = self.s3.get_bucket_lifecycle_configuration(Bucket=self.args.bucket)["Rules"]
            days = min(
                int(r["Expiration"]["Days"]) for r in rules if "Days" in r.get("Expiration", {})
            )
            return days * 24.0, f"the bucket's lifecycle expires objects after {days} day(s)"
        except Exception:
            return 24.0, (
                "the local bucket has no lifecycle rule; priced with the modules' default "
                "(object_expiration_days = 1: 24 h)"
            )

    def job_row(self, session_id: str, job_id: str) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        item = self.ddb.get_item(
            TableName=self.args.sessions_table,
            Key={"pk": {"S": f"SESSION#{session_id}"}, "sk": {"S": f"JOB#{job_id}"}},
            ConsistentRead=True,
        ).get("Item", {})
        des = TypeDeserializer()
        return {k: des.deserialize(v) for k, v in item.items()}

    def transitions(self, job_id: str, timeout: float = 120) -> tuple[int, int]:
        """(states entered, executions) of the job's executions, once none is running."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [
                e
                for page in self.sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=self.args.state_machine_arn
                )
                for e in page["executions"]
                if e["name"].startswith(job_id)
            ]
            if all(e["status"] != "RUNNING" for e in runs) or time.monotonic() > deadline:
                break
            time.sleep(1)
        entered = 0
        for run in runs:
            for page in self.sfn.get_paginator("get_execution_history").paginate(
                executionArn=run["executionArn"]
            ):
                entered += sum(e["type"].endswith("StateEntered") for e in page["events"])
        return entered, len(runs)


def _lambdas(tally: dict[str, Any]) -> list[LambdaUse]:
    out = []
    for name, fn in tally.get("lambda", {}).items():
        short = next((v for k, v in SHORT.items() if name.endswith(k)), name)
        out.append(
            LambdaUse(
                short,
                int(fn.get("invocations", 0)),
                int(fn.get("memory_mb", 0)),
                float(fn.get("billed_ms", 0)),
                int(fn.get("log_bytes", 0)),
            )
        )
    return out


def _add_tally(usage: JobUsage, tally: dict[str, Any]) -> None:
    usage.lambdas = _lambdas(tally)
    for table in tally.get("dynamodb", {}).values():
        usage.rru += table.get("rru", 0.0)
        usage.wru += table.get("wru", 0.0)
    for bucket in tally.get("s3", {}).values():
        usage.s3_tier1 += int(bucket.get("tier1", 0))
        usage.s3_tier2 += int(bucket.get("tier2", 0))
    usage.http_requests = int(tally.get("http_api", {}).get("requests", 0))


def _rru_of_one_poll(stack: Stack, api: str, job_id: str, token: str) -> float:
    stack.usage(reset=True)
    resp = requests.get(
        f"{api}/api/triage/{job_id}/results",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    resp.raise_for_status()
    tally = stack.usage(reset=True)
    return float(sum(t.get("rru", 0.0) for t in tally.get("dynamodb", {}).values()))


def page_view(results: dict[str, Any]) -> int:
    """Load every thumbnail of the results once, as the page shows them: the bytes sent out."""
    sent = 0
    for entry in results.get("files") or []:
        url = entry.get("thumbnailUrl")
        if url:
            resp = requests.get(url, timeout=60)
            resp.raise_for_status()
            sent += len(resp.content)
    return sent


def run_job(args: argparse.Namespace, label: str, paths: list[Path]) -> tuple[Any, dict[str, str]]:
    """The job through the real CLI: (its outcome, its session id and token)."""
    seen: dict[str, str] = {}

    def keep_init(init: Any) -> Any:
        seen.update(session_id=init.session_id, token=init.session_token)
        return init

    run = Run(
        RunOptions(
            paths=[str(p) for p in paths],
            api=args.api,
            quiet=True,
            poll_interval=args.poll,
            concurrency=args.concurrency,
            timeout=args.timeout,
        ),
        stdout=io.StringIO(),
        on_init=keep_init,
    )
    code = run.execute()
    out = run.outcome
    if code != 0 or out.job_id is None or not out.results:
        raise RuntimeError(
            f"{label}: the job failed (exit {code}): {json.dumps(out.results)[:1000]}"
        )
    return out, seen


def measure_job(stack: Stack, label: str, paths: list[Path], fake: Any | None = None) -> JobUsage:
    """One job through the CLI, then one page view of its results; ``fake``: the Gemini fake
    the stack is deployed with (its URL fetches are transfer out too)."""
    gemini = fake is not None
    fetched_before = fake.fetched_bytes if fake is not None else 0
    args = stack.args
    before = stack.object_sizes()
    stack.usage(reset=True)
    out, seen = run_job(args, label, paths)
    stack.wait_idle()
    thumbnails = page_view(out.results)
    transitions, executions = stack.transitions(out.job_id)
    tally = stack.usage(reset=True)  # before this script's own reads below
    usage = JobUsage(label=label, files=len(paths), transitions=transitions, executions=executions)
    _add_tally(usage, tally)
    usage.polls = len(out.polls)
    gemini_fetched = fake.fetched_bytes - fetched_before if fake is not None else 0
    usage.bytes_out = thumbnails + gemini_fetched
    usage.notes.append(
        f"Transfer out: one page view of the results ({thumbnails / 1e6:.2f} MB of thumbnails)"
        + (
            f" and Gemini's fetches of URL media ({gemini_fetched / 1e6:.2f} MB)."
            if gemini
            else "."
        )
    )
    summary = stack.job_row(seen["session_id"], out.job_id).get("summary") or {}
    usage.input_tokens = int(summary.get("inputTokens") or 0)
    usage.output_tokens = int(summary.get("outputTokens") or 0)
    usage.model = summary.get("model") if gemini else None
    usage.summary_cost = float(summary["costUsd"]) if summary.get("costUsd") is not None else None
    new = {k: v for k, v in stack.object_sizes().items() if k not in before}
    usage.stored_bytes = sum(new.values())
    usage.storage_hours, note = stack.expiry_hours()
    usage.notes.append(f"Storage: {len(new)} new objects; {note}.")
    usage.rru_per_poll = _rru_of_one_poll(stack, args.api, out.job_id, seen["token"])
    if gemini:
        usage.notes.append(
            "Gemini: the fake on loopback through the real SDK, counting tokens as Gemini "
            "documents (258 per image tile, 263 per video second, ~4 characters a token); it "
            "reports no thinking tokens, which gemini-2.5-flash adds at the output price "
            "unless the request sets a thinking budget."
        )
    return usage


@contextmanager
def gemini_stack(stack: Stack) -> Iterator[Any]:
    """The stack re-applied with a Gemini key and the fake's URL; back to local afterwards."""
    from support.fake_gemini import FakeGemini

    with FakeGemini(api_key=GEMINI_KEY, fetch_urls=True) as fake:
        stack.apply(f"-var=gemini_api_key={GEMINI_KEY}", f"-var=gemini_base_url={fake.base_url}")
        try:
            yield fake
        finally:
            stack.apply()


# ---------------------------------------------------------------------------- memory settings


def terraform_memory() -> dict[str, dict[str, int]]:
    """Each function's memory_size: the module's default and each env root's setting."""
    text = (ROOT / "terraform/modules/media_triage/variables.tf").read_text()
    out: dict[str, dict[str, int]] = {}
    for fn in FUNCTIONS:
        block = re.search(rf'variable "{fn}" {{(.*?)\n}}', text, re.DOTALL)
        found = (
            re.search(r"memory_size\s*=\s*optional\(number,\s*(\d+)\)", block.group(1))
            if block
            else None
        )
        if found:
            out[fn] = {"module default": int(found.group(1))}
    for env in ("dev", "prod"):
        tfvars = ROOT / f"terraform/envs/{env}/terraform.tfvars"
        found = (
            re.search(r"media_process_memory_mb\s*=\s*(\d+)", tfvars.read_text())
            if tfvars.exists()
            else None
        )
        if found:
            out.setdefault("media_process", {})[env] = int(found.group(1))
    return out


def memory_section(measured: list[LambdaUse]) -> str:
    settings = terraform_memory()
    rows = [
        "| function | Terraform memory_size | as deployed here (the executor's figure) |",
        "|---|---|---:|",
    ]
    deployed = {fn.function: fn for fn in measured}
    for fn in FUNCTIONS:
        where = ", ".join(f"{k} {v} MB" for k, v in settings.get(fn, {}).items())
        use = deployed.get(fn)
        rows.append(f"| {fn} | {where} | {f'{use.memory_mb} MB' if use else '-'} |")
    if not MEMORY_JSON.exists():
        rows.append(
            f"\nPeak RSS per file kind: {MEMORY_JSON.relative_to(ROOT)} is absent; run "
            "`make bench-media` (it writes it) and `make cost` again to see it here."
        )
        return "\n".join(rows)
    kinds = json.loads(MEMORY_JSON.read_text())
    if isinstance(kinds, dict):  # {"kinds": [...]} or {kind: {...}}
        kinds = kinds.get("kinds") or [{"kind": k, **v} for k, v in kinds.items()]
    media_mb = settings.get("media_process", {}).get("module default", 0)
    rows += [
        "",
        f"media_process peak RSS per file kind (`make bench-media`, {MEMORY_JSON.name}) "
        f"against its {media_mb} MB:",
        "",
        "| kind | bytes | peak RSS MiB | share of memory_size | wall s | CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k in kinds:
        share = f"{k['peak_rss_mib'] / media_mb:.0%}" if media_mb else ""
        rows.append(
            f"| {k['kind']} | {k['bytes']} | {k['peak_rss_mib']:.0f} | {share} | "
            f"{k['wall_s']:.2f} | {k['cpu_s']:.2f} |"
        )
    return "\n".join([*rows, "", *trade_rows(kinds, media_mb)])


TRADE_SIZES = (1024, 3008)  # beside the configured size: half the CPU, and 1.7 vCPUs


def trade_rows(kinds: list[dict[str, Any]], configured_mb: int) -> list[str]:
    """Each kind's modelled duration and cost per invocation at the configured size and at
    TRADE_SIZES (devtools/memory_trade.py, ADR 0018: CPU scales with memory)."""
    if not configured_mb:
        return []
    prices = load_prices()
    cores = len(os.sched_getaffinity(0))
    sizes = sorted({configured_mb, *TRADE_SIZES})
    head = " | ".join(f"{size} MB" + (" (set)" if size == configured_mb else "") for size in sizes)
    rows = [
        "media_process per invocation at each memory size, modelled from the measured CPU time "
        "(duration, cost; `!` where peak RSS exceeds 2/3 of the memory):",
        "",
        f"| kind | {head} |",
        "|---|" + "---:|" * len(sizes),
    ]
    for k in kinds:
        measured = memory_trade.Measured(
            k["kind"], k["peak_rss_mib"], k["wall_s"], k["cpu_s"], cores, k.get("load_factor", 1.0)
        )
        cells = []
        for size in sizes:
            m = memory_trade.model(measured, size, prices.lambda_invocation)
            cells.append(f"{m.seconds:.2f} s, ${m.dollars:.6f}{'' if m.fits else ' !'}")
        rows.append(f"| {k['kind']} | " + " | ".join(cells) + " |")
    return rows


# ---------------------------------------------------------------------------- main


def batches(args: argparse.Namespace) -> list[tuple[int, list[Path]]]:
    out = []
    for count in args.sizes:
        if count <= 36:
            paths = write_mixed(
                args.out / f"batch-{count}",
                count,
                min(4, count // 9),
                photo_size=(4000, 3000),
                video_size="1920x1080",
                video_seconds=6.0,
            )
        else:
            paths = write_mixed(
                args.out / f"batch-{count}", count, max(1, count // 50), photo_size=(640, 480)
            )
        out.append((count, paths))
    return out


def describe(count: int, paths: list[Path]) -> str:
    size = sum(p.stat().st_size for p in paths)
    kind = "12 MP photos and 1080p clips" if count <= 36 else "small generated files"
    return f"{count} files, {size / 1e6:.1f} MB ({kind})"


def run_all(args: argparse.Namespace, stack: Stack) -> list[JobUsage]:
    jobs: list[JobUsage] = []
    sets = batches(args)
    for count, paths in sets:
        label = f"{describe(count, paths)}, local analyzer"
        print(f"measuring: {label}", flush=True)
        jobs.append(measure_job(stack, label, paths))
    if args.no_gemini:
        return jobs
    with gemini_stack(stack) as fake:
        for count, paths in sets:
            label = f"{describe(count, paths)}, Gemini"
            print(f"measuring: {label}", flush=True)
            jobs.append(measure_job(stack, label, paths, fake))
    return jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--sessions-table", required=True)
    parser.add_argument("--state-machine-arn", required=True)
    parser.add_argument("--tf-state", required=True, help="the local stack's terraform state")
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[36, 500])
    parser.add_argument("--poll", type=float, default=1.0, help="the CLI's results poll (s)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-gemini", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "cost")
    args = parser.parse_args()

    stack = Stack(args)
    prices = load_prices()
    jobs = run_all(args, stack)
    tables = []
    for job in jobs:
        lines = price(job, prices)
        table = markdown(job, lines)
        print(f"\n{table}\n", flush=True)
        tables.append(table)
    measured = [fn for job in jobs for fn in job.lambdas]
    memory = memory_section(measured)
    print(memory)
    head = (
        f"Prices: {prices.region}, Lambda arm64, on demand, no free tier, as of {prices.as_of} "
        "(shared/src/media_triage_shared/prices/). Measured on the deployed local stack through "
        f"the CLI (results polled every {args.poll:g} s). Lambda durations are as measured on "
        f"this {os.cpu_count()}-core machine, where the functions share the cores with the "
        "emulator and each other: they are longer than on Lambda, so the GB-s figures are upper "
        "bounds. DynamoDB request units are counted by the emulator from the stored items' sizes "
        "(ADR 0021)."
    )
    write_section(
        "cost",
        "Cost of a job (`make cost`)",
        "\n\n".join([head, *tables, "### Memory settings", memory]),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cost.json").write_text(
        json.dumps(
            [dataclasses.asdict(job) for job in jobs],
            indent=2,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
