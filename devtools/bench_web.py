"""Web page benchmark: the page's weight, its first render, its uploads beside the CLI's and
its responsiveness with 500 files, on the deployed local stack, each beside a baseline
measured in the same run.

    python devtools/bench_web.py --web-url <web_url> --api <api_url> \
        --endpoint http://127.0.0.1:4566 --web-bucket <web bucket>     # (make bench-web does this)

1. Page weight: every file of build/web, raw, gzip -9 and brotli (Node's zlib, quality 11);
   JS + CSS gzipped against the 100 KB budget.
2. First render: Debian's Chromium (Playwright, ``executable_path``) loads the deployed page
   ``--loads`` times, each in a new context (cold cache), alternating with a minimal static
   HTML page uploaded beside it into the web bucket (``_bench/baseline.html``, removed at the
   end; same site data plane, same headers). Measured from navigation start: the paint of the
   drop zone's title (Element Timing, ``elementtiming="dropzone"``), the page's own
   ``media-triage:dropzone`` mark and first-contentful-paint.
3. Upload throughput: the 36-file batch of bench_e2e (32 photos of 12 MP, 4 short 720p videos)
   through the CLI (``Run``, init -> last upload acknowledged) and through the page
   (``set_input_files``; the file input's ``change`` event -> the last row leaving
   ``uploading``, observed in the page with a MutationObserver), twice, in the order
   CLI/page then page/CLI. Every job is run to ``complete`` before the next one starts, so
   the pipeline's processing never overlaps a measured upload.
4. 500 small distinct JPEGs dropped into the page in one job: long tasks (PerformanceObserver
   ``longtask``, > 50 ms) from the drop until the verdict grid is shown, split by phase, and
   the number of ``GET .../results`` requests in flight at once (``request`` /
   ``requestfinished`` events; the poller must never overlap itself).

Figures are printed (and written to ``--out``/bench_web.json); nothing gates on them.
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import gzip
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_report import write_section
from sample_batch import write_mixed

from media_triage_cli.command import Run, RunOptions

BUDGET_BYTES = 100 * 1024
TARGET_FIRST_RENDER_MS = 300.0
TARGET_THROUGHPUT_RATIO = 0.9
LONG_TASK_MS = 50.0
DROPZONE_MARK = "media-triage:dropzone"  # web/src/view.ts
BASELINE_KEY = "_bench/baseline.html"
# RunTask (wall and thread time), what ran inside it, and the page's bench:* marks
TRACE_CATEGORIES = ["toplevel", "devtools.timeline", "blink.user_timing"]
PHASES = ("upload", "processing", "verdicts")
BASELINE_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>baseline</title></head><body>"
    '<p elementtiming="dropzone">Drop photos and videos here</p></body></html>'
)

INIT_SCRIPT = (Path(__file__).parent / "bench_web_page.js").read_text()


# ---------------------------------------------------------------------------- helpers


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    one, five, fifteen = os.getloadavg()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"machine: {os.cpu_count()} CPU(s), {cpu_model()}; {now}; "
        f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (readable in a terminal, pasted as is into the README)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def mbps(n_bytes: int, seconds: float) -> str:
    return f"{n_bytes / 1e6 / seconds:.1f} MB/s" if seconds > 0 else "-"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ---------------------------------------------------------------------------- 1. weight


@dataclass
class Weight:
    rows: list[tuple[str, int, int, int | None]]  # name, raw, gzip, brotli
    js_css_gzip: int
    js_css_brotli: int | None


def brotli_sizes(paths: Sequence[Path]) -> dict[str, int]:
    """Brotli (quality 11) sizes by Node's zlib; {} when Node is missing."""
    script = (
        "const z=require('zlib'),fs=require('fs');"
        "const out={};for(const p of JSON.parse(process.argv[1]))"
        "out[p]=z.brotliCompressSync(fs.readFileSync(p),"
        "{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length;"
        "console.log(JSON.stringify(out));"
    )
    try:
        done = subprocess.run(
            ["node", "-e", script, json.dumps([str(p) for p in paths])],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    sizes: dict[str, int] = json.loads(done.stdout)
    return sizes


def page_weight(build: Path) -> Weight:
    files = sorted(p for p in build.rglob("*") if p.is_file())
    br = brotli_sizes(files)
    rows: list[tuple[str, int, int, int | None]] = []
    gz_total, br_total = 0, 0
    for p in files:
        data = p.read_bytes()
        gz = len(gzip.compress(data, compresslevel=9, mtime=0))
        b = br.get(str(p))
        rows.append((p.relative_to(build).as_posix(), len(data), gz, b))
        if p.suffix in {".js", ".css"}:
            gz_total += gz
            br_total += b or 0
    return Weight(rows, gz_total, br_total if br else None)


def report_weight(w: Weight) -> str:
    rows = [
        [f"`{name}`", f"{raw:,} B", f"{gz:,} B", f"{b:,} B" if b is not None else "-"]
        for name, raw, gz, b in w.rows
    ]
    ratio = w.js_css_gzip / BUDGET_BYTES
    rows.append(
        [
            "**JS + CSS**",
            "",
            f"**{w.js_css_gzip:,} B ({kb(w.js_css_gzip)})**",
            f"{w.js_css_brotli:,} B" if w.js_css_brotli is not None else "-",
        ]
    )
    return (
        table(["file", "raw", "gzip -9", "brotli 11"], rows)
        + f"\n\nJS + CSS gzipped: {kb(w.js_css_gzip)} of the {kb(BUDGET_BYTES)} budget = "
        f"{ratio:.2f}x ({met(ratio <= 1)})"
    )


# ---------------------------------------------------------------------------- 2. first render


@dataclass
class Load:
    element: float | None
    mark: float | None
    fcp: float | None


def put_baseline(endpoint: str, bucket: str) -> Callable[[], None]:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the emulator's dummy credentials
    )
    s3.put_object(
        Bucket=bucket,
        Key=BASELINE_KEY,
        Body=BASELINE_HTML.encode(),
        ContentType="text/html; charset=utf-8",
    )
    return lambda: s3.delete_object(Bucket=bucket, Key=BASELINE_KEY)


def one_load(browser: Any, url: str, with_mark: bool) -> Load:
    ctx = browser.new_context()
    try:
        ctx.add_init_script(INIT_SCRIPT)
        page = ctx.new_page()
        page.goto(url, wait_until="load")
        # function predicates (a string expression would be eval'd, which the page's CSP blocks)
        page.wait_for_function(
            """([mark, withMark]) => window.__bench.element !== null
                && (!withMark || performance.getEntriesByName(mark).length > 0)""",
            arg=[DROPZONE_MARK, with_mark],
            timeout=15_000,
        )
        got: dict[str, Any] = page.evaluate(
            """(mark) => ({
                element: window.__bench.element,
                mark: (performance.getEntriesByName(mark)[0] || {}).startTime ?? null,
                fcp: (performance.getEntriesByName("first-contentful-paint")[0] || {})
                    .startTime ?? null,
            })""",
            DROPZONE_MARK,
        )
        return Load(got["element"], got["mark"], got["fcp"])
    finally:
        ctx.close()


@dataclass
class Render:
    page: list[Load] = field(default_factory=list)
    baseline: list[Load] = field(default_factory=list)


def first_render(browser: Any, web_url: str, loads: int) -> Render:
    base_url = web_url.rstrip("/") + "/" + BASELINE_KEY
    one_load(browser, web_url, True)  # unmeasured: the browser's first navigation
    one_load(browser, base_url, False)
    out = Render()
    for i in range(loads):
        # alternate which goes first, so neither always follows the other
        order = [(web_url, True), (base_url, False)]
        for url, is_page in order if i % 2 == 0 else order[::-1]:
            (out.page if is_page else out.baseline).append(one_load(browser, url, is_page))
    return out


def report_render(r: Render, loads: int) -> str:
    def med(xs: list[Load], attr: str) -> float:
        return median([v for v in (getattr(x, attr) for x in xs) if v is not None])

    page_paint, base_paint = med(r.page, "element"), med(r.baseline, "element")
    ratio = page_paint / base_paint if base_paint else float("nan")
    rows = [
        [
            "drop zone painted (Element Timing)",
            f"{page_paint:.0f} ms",
            f"{base_paint:.0f} ms",
            f"{ratio:.2f}x",
        ],
        ["the page's `media-triage:dropzone` mark", f"{med(r.page, 'mark'):.0f} ms", "-", ""],
        [
            "first-contentful-paint",
            f"{med(r.page, 'fcp'):.0f} ms",
            f"{med(r.baseline, 'fcp'):.0f} ms",
            f"{med(r.page, 'fcp') / med(r.baseline, 'fcp'):.2f}x",
        ],
    ]
    worst = max((x.element or 0.0) for x in r.page) if r.page else float("nan")
    return (
        table(["from navigation start (median)", "page", "static baseline", "ratio"], rows)
        + f"\n\n{loads} cold loads each (new context), alternating; slowest page load "
        f"{worst:.0f} ms. Target <= {TARGET_FIRST_RENDER_MS:.0f} ms: "
        f"{met(page_paint <= TARGET_FIRST_RENDER_MS)} ({page_paint:.0f} ms)"
    )


# ---------------------------------------------------------------------------- 3. throughput


@dataclass
class Upload:
    who: str
    seconds: float  # init (CLI) or drop (page) -> the last upload's response
    failures: int
    status: str
    uploads: float = 0.0  # the first upload's start -> the last upload's response
    shown: float | None = None  # page: -> the last row left "uploading" on screen


def cli_upload(api: str, paths: Sequence[Path], concurrency: int) -> Upload:
    run = Run(
        RunOptions(
            paths=[str(p) for p in paths],
            api=api,
            quiet=True,
            concurrency=concurrency,
            poll_interval=0.25,
            timeout=900,
        ),
        stdout=io.StringIO(),
    )
    code = run.execute()
    tl = run.outcome.timeline
    if "upload_done" not in tl:
        raise RuntimeError(f"the CLI run failed (exit {code})")
    status = str((run.outcome.results or {}).get("status"))
    return Upload(
        "CLI",
        tl["upload_done"] - tl["init_start"],
        len(run.outcome.failures),
        status,
        uploads=tl["upload_done"] - tl["upload_start"],
    )


def page_drop(
    browser: Any, web_url: str, paths: Sequence[Path], timeout_s: float, trace: bool = False
) -> tuple[dict[str, Any], dict[str, int]]:
    """Drop ``paths`` into a fresh page, wait for the verdicts; the page's timestamps and the
    results polls' concurrency (and, with ``trace``, the Chromium trace's events as "trace")."""
    ctx = browser.new_context()
    polls = {"inflight": 0, "max": 0, "total": 0}

    def is_poll(req: Any) -> bool:
        return bool(req.method == "GET" and req.url.split("?")[0].endswith("/results"))

    def started(req: Any) -> None:
        if is_poll(req):
            polls["inflight"] += 1
            polls["total"] += 1
            polls["max"] = max(polls["max"], polls["inflight"])

    def ended(req: Any) -> None:
        if is_poll(req):
            polls["inflight"] -= 1

    try:
        ctx.add_init_script(INIT_SCRIPT)
        page = ctx.new_page()
        page.on("request", started)
        page.on("requestfinished", ended)
        page.on("requestfailed", ended)
        page.goto(web_url, wait_until="load")
        page.get_by_test_id("dropzone").wait_for(state="visible")
        page.evaluate("(n) => { window.__bench.expected = n; }", len(paths))
        if trace:
            browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        page.set_input_files("[data-testid=file-input]", [str(p) for p in paths])
        page.wait_for_function(
            "() => window.__bench.complete !== null", timeout=timeout_s * 1000, polling=250
        )
        page.wait_for_timeout(1000)  # the frames after the verdicts appear
        events = json.loads(browser.stop_tracing())["traceEvents"] if trace else None
        got: dict[str, Any] = page.evaluate(
            """() => {
                const rows = [...document.querySelectorAll("[data-testid=file-row]")];
                // uploads go to the media origin (127.0.0.1), the page is on localhost
                const sent = performance.getEntriesByType("resource").filter((e) =>
                    new URL(e.name).host !== location.host && e.startTime >= window.__bench.drop);
                return {...window.__bench,
                    failed: rows.filter((r) => r.dataset.phase === "upload_failed").length,
                    rows: rows.length,
                    uploadsSeen: sent.length,
                    lastUploadEnd: sent.length ? Math.max(...sent.map((e) => e.responseEnd))
                        : null,
                    firstUploadStart: sent.length ? Math.min(...sent.map((e) => e.startTime))
                        : null};
            }"""
        )
        if events is not None:
            got["trace"] = events
        return got, polls
    finally:
        ctx.close()


def page_upload(browser: Any, web_url: str, paths: Sequence[Path]) -> Upload:
    got, _ = page_drop(browser, web_url, paths, 900)
    if got["drop"] is None or got["uploaded"] is None or got["lastUploadEnd"] is None:
        raise RuntimeError(f"the page never finished its uploads: {got}")
    return Upload(
        "page",
        (got["lastUploadEnd"] - got["drop"]) / 1000,
        int(got["failed"]),
        "complete",
        uploads=(got["lastUploadEnd"] - got["firstUploadStart"]) / 1000,
        shown=(got["uploaded"] - got["drop"]) / 1000,
    )


def throughput(
    browser: Any, web_url: str, api: str, paths: Sequence[Path], concurrency: int
) -> list[tuple[Upload, Upload]]:
    runs: list[tuple[Upload, Upload]] = []
    for first_cli in (True, False):
        if first_cli:
            cli = cli_upload(api, paths, concurrency)
            page = page_upload(browser, web_url, paths)
        else:
            page = page_upload(browser, web_url, paths)
            cli = cli_upload(api, paths, concurrency)
        runs.append((cli, page))
    return runs


def report_throughput(
    runs: list[tuple[Upload, Upload]], size: int, count: int, concurrency: int
) -> str:
    rows = []
    ratios = []
    for i, (cli, page) in enumerate(runs, 1):
        ratio = cli.seconds / page.seconds if page.seconds else float("nan")
        ratios.append(ratio)
        order = "CLI first" if i == 1 else "page first"
        rows.append(
            [
                f"run {i} ({order})",
                f"{cli.seconds:.2f} s, {mbps(size, cli.seconds)}",
                f"{page.seconds:.2f} s, {mbps(size, page.seconds)}",
                f"{ratio:.2f}x",
                f"{cli.uploads:.2f} s / {page.uploads:.2f} s = "
                f"{cli.uploads / page.uploads if page.uploads else float('nan'):.2f}x",
                f"{page.shown:.2f} s" if page.shown is not None else "-",
            ]
        )
    fails = sum(c.failures + p.failures for c, p in runs)
    avg = median(ratios)
    return (
        table(
            [
                "",
                "CLI (init -> last upload)",
                "page (drop -> last upload)",
                "page / CLI",
                "uploads only, CLI / page (ratio page/CLI)",
                "page: last row shown done",
            ],
            rows,
        )
        + f"\n\n{count} files, {size / 1e6:.1f} MB, {concurrency} uploads in parallel on both "
        f"sides; {fails} failed upload(s). The page's last upload is its response end in "
        "Resource Timing (the CLI's: its uploader's callback); the row shows it a frame or "
        f"more later. Median ratio {avg:.2f}x, target >= "
        f"{TARGET_THROUGHPUT_RATIO}x: {met(avg >= TARGET_THROUGHPUT_RATIO)}"
    )


# ---------------------------------------------------------------------------- 4. 500 files


def small_jpegs(out: Path, count: int, seed: int = 500) -> list[Path]:
    """``count`` distinct small JPEGs (a few KB): a colour gradient, a few shapes, noise."""
    from PIL import Image, ImageDraw

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = out / f"small_{i + 1:04d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        rng = random.Random(seed + i)
        img = Image.new("RGB", (160, 120), (rng.randrange(256), rng.randrange(256), 128))
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x, y = rng.randrange(140), rng.randrange(100)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.rectangle([x, y, x + rng.randrange(5, 40), y + rng.randrange(5, 30)], colour)
        noise = Image.effect_noise((160, 120), 20).convert("RGB")
        buf = io.BytesIO()
        Image.blend(img, noise, 0.1).save(buf, "JPEG", quality=85)
        path.write_bytes(buf.getvalue())
    return paths


@dataclass
class Task:
    phase: str
    wall_ms: float
    thread_ms: float  # the main thread's CPU time (0 when the trace has none)
    what: str  # the trace events inside it with the most thread time


@dataclass
class Many:
    files: int
    bytes: int
    observed: dict[str, list[float]]  # phase -> long task durations (PerformanceObserver, ms)
    tasks: list[Task]  # the trace's main-thread tasks over 50 ms (wall)
    polls_max: int
    polls_total: int
    upload_s: float
    processed_s: float
    complete_s: float
    failed: int


def phase_of(t: float, bounds: dict[str, float]) -> str:
    if t < bounds["uploaded"]:
        return "upload"
    return "processing" if t < bounds["processed"] else "verdicts"


def trace_tasks(events: list[dict[str, Any]]) -> list[Task]:
    """Main-thread tasks of the renderer over 50 ms of wall time, with their thread time and
    what ran inside them, by phase (the page's bench:* marks in the same trace)."""
    threads = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    marks = {
        e["name"].removeprefix("bench:"): float(e["ts"])
        for e in events
        if str(e.get("name", "")).startswith("bench:")
    }
    if "drop" not in marks:
        return []
    end = marks.get("complete", float("inf")) + 1_000_000
    bounds = {k: marks.get(k, marks.get("complete", end)) for k in ("uploaded", "processed")}
    main = sorted(
        (e for e in events if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in threads),
        key=lambda e: float(e["ts"]),
    )
    starts = [float(e["ts"]) for e in main]
    out = []
    for task in main:
        if task["name"] != "ThreadControllerImpl::RunTask" or task.get("dur", 0) <= 50_000:
            continue
        start, stop = task["ts"], task["ts"] + task["dur"]
        if stop < marks["drop"] or start > end:
            continue
        inside: dict[str, int] = {}
        for e in main[bisect.bisect_left(starts, start) : bisect.bisect_right(starts, stop)]:
            if e["name"] not in {"ThreadControllerImpl::RunTask", "RunTask"}:
                inside[e["name"]] = inside.get(e["name"], 0) + int(e.get("tdur", 0))
        top = sorted(inside.items(), key=lambda kv: -kv[1])[:3]
        out.append(
            Task(
                phase=phase_of(start, bounds),
                wall_ms=task["dur"] / 1000,
                thread_ms=task.get("tdur", 0) / 1000,
                what=", ".join(f"{k} {v / 1000:.0f}" for k, v in top if v >= 1000) or "-",
            )
        )
    return out


def many_files(browser: Any, web_url: str, paths: Sequence[Path]) -> Many:
    got, polls = page_drop(browser, web_url, paths, 900, trace=True)
    drop, complete = got["drop"], got["complete"]
    bounds = {
        "uploaded": got["uploaded"] or complete,
        "processed": got["processed"] or complete,
    }
    observed: dict[str, list[float]] = {k: [] for k in PHASES}
    for start, duration in got["longtasks"]:
        if start + duration >= drop:
            observed[phase_of(start, bounds)].append(duration)
    return Many(
        files=len(paths),
        bytes=sum(p.stat().st_size for p in paths),
        observed=observed,
        tasks=trace_tasks(got.get("trace") or []),
        polls_max=polls["max"],
        polls_total=polls["total"],
        upload_s=(bounds["uploaded"] - drop) / 1000,
        processed_s=(bounds["processed"] - drop) / 1000,
        complete_s=(complete - drop) / 1000,
        failed=int(got["failed"]),
    )


def report_many(m: Many) -> str:
    def cell(ds: list[float]) -> str:
        return f"{len(ds)} (longest {max(ds):.0f} ms)" if ds else "0"

    def busy(phase: str) -> str:
        cpu = [t.thread_ms for t in m.tasks if t.phase == phase]
        over = [c for c in cpu if c > LONG_TASK_MS]
        return f"{len(over)} (most CPU in one: {max(cpu):.0f} ms)" if cpu else "0"

    times = {"upload": m.upload_s, "processing": m.processed_s, "verdicts": m.complete_s}
    labels = {
        "upload": "drop -> last upload",
        "processing": "-> every file processed",
        "verdicts": "-> verdict grid shown (+1 s)",
    }
    rows = [[labels[k], f"{times[k]:.1f} s", cell(m.observed[k]), busy(k)] for k in PHASES]
    observed = [d for ds in m.observed.values() for d in ds]
    own = [t for t in m.tasks if t.thread_ms > LONG_TASK_MS]
    lines = [
        table(
            [
                "phase (from the drop)",
                "time",
                "tasks > 50 ms (wall, longtask)",
                "of them > 50 ms of main-thread CPU (trace)",
            ],
            rows,
        ),
        "",
        f"{m.files} files ({m.bytes / 1e6:.2f} MB), {m.failed} failed upload(s). "
        f"Long tasks (wall): {len(observed)}, longest {max(observed, default=0):.0f} ms; "
        f"with > 50 ms of the page's own main-thread CPU: {len(own)} "
        f"(target none: {met(not own)}; by wall time: {met(not observed)}). "
        f"Results polls: {m.polls_total}, at most {m.polls_max} in flight at once "
        f"(target 1: {met(m.polls_max <= 1)})",
    ]
    if m.tasks:
        worst = sorted(m.tasks, key=lambda t: -t.thread_ms)[:3]
        lines.append(
            "Heaviest tasks (wall / CPU ms, phase: trace events by CPU ms): "
            + "; ".join(f"{t.wall_ms:.0f} / {t.thread_ms:.0f} ({t.phase}: {t.what})" for t in worst)
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def main() -> int:  # noqa: PLR0915 - the four sections in order
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--web-url", required=True, help="the deployed page (web_url output)")
    parser.add_argument("--api", required=True, help="base URL of the deployed HTTP API")
    parser.add_argument("--endpoint", default="http://127.0.0.1:4566", help="the emulator")
    parser.add_argument("--web-bucket", default="media-triage-local-web")
    parser.add_argument("--build", type=Path, default=Path("build/web"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--loads", type=int, default=15, help="cold loads per page (section 2)")
    parser.add_argument("--files", type=int, default=36)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="the page's (and CLI's)")
    parser.add_argument("--many", type=int, default=500, help="files of section 4")
    parser.add_argument(
        "--sections", default="1234", help="which sections to run (e.g. 14), default all"
    )
    parser.add_argument("--out", type=Path, default=Path("out/bench-web"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    print(f"web page benchmark\n{machine_line()}\n", flush=True)
    result: dict[str, Any] = {"machine": machine_line()}
    sections: list[str] = []  # what docs/benchmarks.md gets when every section ran

    if "1" in args.sections:
        w = page_weight(args.build)
        sections.append(f"### Page weight ({args.build})\n\n{report_weight(w)}")
        print(f"## 1. Page weight ({args.build})\n\n{report_weight(w)}\n", flush=True)
        result["weight"] = w.__dict__

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium)
        try:
            if "2" in args.sections:
                remove = put_baseline(args.endpoint, args.web_bucket)
                try:
                    r = first_render(browser, args.web_url, args.loads)
                finally:
                    remove()
                sections.append(f"### First render\n\n{report_render(r, args.loads)}")
                print(f"## 2. First render\n\n{report_render(r, args.loads)}\n", flush=True)
                result["render"] = {
                    "page": [x.__dict__ for x in r.page],
                    "baseline": [x.__dict__ for x in r.baseline],
                }

            if "3" in args.sections:
                batch = args.out / "batch"
                paths = write_mixed(
                    batch,
                    args.files,
                    args.videos,
                    photo_size=(4000, 3000),
                    video_size="1280x720",
                    video_seconds=6.0,
                )
                warm = write_mixed(args.out / "warmup", 4, 1)
                cli_upload(args.api, warm, args.concurrency)  # warm Lambdas, unmeasured
                page_upload(browser, args.web_url, warm)
                size = sum(q.stat().st_size for q in paths)
                runs = throughput(browser, args.web_url, args.api, paths, args.concurrency)
                text = report_throughput(runs, size, len(paths), args.concurrency)
                sections.append(f"### Upload throughput, page vs CLI\n\n{text}")
                print(f"## 3. Upload throughput, page vs CLI\n\n{text}\n", flush=True)
                result["throughput"] = [[c.__dict__, q.__dict__] for c, q in runs]

            if "4" in args.sections:
                small = small_jpegs(args.out / "small", args.many)
                m = many_files(browser, args.web_url, small)
                sections.append(f"### {args.many} files in one job\n\n{report_many(m)}")
                print(f"## 4. {args.many} files in one job\n\n{report_many(m)}\n", flush=True)
                result["many"] = m.__dict__
        finally:
            browser.close()

    print(f"{machine_line()}; benchmark ran {time.monotonic() - started:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_web.json").write_text(json.dumps(result, indent=2, default=str))
    if len(sections) == 4:
        write_section("web", "The page (`make bench-web`)", "\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
