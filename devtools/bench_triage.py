"""Benchmark TriageRun: wall time against the ideal batch schedule, and the local analyzer's
per-image cost against a plain Pillow decode of the same thumbnail. Prints ratios and writes its
section of docs/benchmarks.md (devtools/bench_report.py); never gates.

    python devtools/bench_triage.py                 # 36 and 500 files, 2 s per Gemini call
    python devtools/bench_triage.py --latency 0.2   # a quick run
    python devtools/bench_triage.py --sizes 36 --images 10

TriageRun runs its real core and Gemini adapter (google-genai SDK, thread pool, retries
configured) against the fake Gemini of tests/support/fake_gemini.py, which answers every call
after a fixed latency, with in-memory repositories. The ideal is ceil(batches / concurrency) x
latency (batches of at most 20 files): the target is a ratio <= 1.3.
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bench_report import write_section  # noqa: E402 - devtools/, the script's directory
from PIL import Image  # noqa: E402
from support import triage_images as ti  # noqa: E402
from support.fake_gemini import FakeGemini  # noqa: E402 - tests/ is on the path now
from support.fakes import FakeFileRepository, FakeJobRepository, FakeObjectStore  # noqa: E402

from media_triage_shared import keys  # noqa: E402
from media_triage_shared.logging import configure_logging  # noqa: E402
from media_triage_shared.models import (  # noqa: E402
    FileRow,
    FileStatus,
    JobRow,
    JobStatus,
    MediaItem,
    MediaRef,
    MediaType,
    TriageInput,
)
from triage_run import core  # noqa: E402
from triage_run.gemini import MAX_BATCH, GeminiAnalyzer, GeminiConfig, make_client  # noqa: E402
from triage_run.local import LocalAnalyzer  # noqa: E402

SESSION, JOB = "bench-session", "bench-job"
T = "2026-11-28T12:00:00Z"
TARGET = 1.3


def _job(n: int) -> tuple[FakeJobRepository, FakeFileRepository]:
    jobs = FakeJobRepository()
    files = FakeFileRepository(jobs)
    jobs.create_job(
        JobRow(
            session_id=SESSION,
            job_id=JOB,
            status=JobStatus.ANALYZING,
            expected_file_count=n,
            token_hash="bench",  # noqa: S106 - not a secret
            created_at=T,
            updated_at=T,
            stall_deadline=T,
            expires_at=2_000_000_000,
        )
    )
    for i in range(n):
        fid = f"f{i:04d}"
        video = i % 12 == 11  # a video now and then: a proxy URL part
        files.rows[(JOB, fid)] = FileRow(
            job_id=JOB,
            file_id=fid,
            session_id=SESSION,
            filename=f"IMG_{i:04d}.{'mp4' if video else 'jpg'}",
            original_key=keys.upload_key(SESSION, JOB, fid, f"IMG_{i:04d}.jpg"),
            status=FileStatus.VALID,
            media_type=MediaType.VIDEO if video else MediaType.PHOTO,
            mime_type="video/mp4" if video else "image/jpeg",
            thumbnail_key=keys.derived_key(SESSION, JOB, fid, "thumb.jpg"),
            proxy_key=keys.derived_key(SESSION, JOB, fid, "proxy.mp4") if video else None,
            counted=True,
            created_at=T,
            updated_at=T,
            expires_at=2_000_000_000,
        )
    return jobs, files


def bench_gemini(sizes: list[int], latency: float, concurrency: int) -> str:
    """Prints the run; returns its markdown table."""
    rows = []
    print(f"TriageRun with the fake Gemini: {latency:.2f} s per call, concurrency {concurrency}")
    print(f"  {'files':>6} {'batches':>8} {'calls':>6} {'ideal s':>8} {'actual s':>9} {'ratio':>6}")
    with FakeGemini(latency=latency) as fake:
        client = make_client(
            "bench-key", base_url=fake.base_url, timeout_seconds=max(30.0, latency * 10)
        )
        analyzer = GeminiAnalyzer(
            client,
            GeminiConfig(model="gemini-bench", concurrency=concurrency, url_ttl_seconds=600),
        )
        store = FakeObjectStore()
        warm_jobs, warm_files = _job(1)  # first call: connection + SDK warm-up, not measured
        core.triage(
            TriageInput(session_id=SESSION, job_id=JOB),
            files=warm_files,
            jobs=warm_jobs,
            store=store,
            analyzer=analyzer,
            budget_seconds=300,
        )
        for n in sizes:
            jobs, files = _job(n)
            calls_before = len(fake.calls)
            started = time.perf_counter()
            out = core.triage(
                TriageInput(session_id=SESSION, job_id=JOB),
                files=files,
                jobs=jobs,
                store=store,
                analyzer=analyzer,
                budget_seconds=300,
            ).output
            actual = time.perf_counter() - started
            assert out.keep + out.discard == n
            batches = math.ceil(n / analyzer.config.batch_size)
            ideal = math.ceil(batches / concurrency) * latency
            ratio = actual / ideal
            flag = "ok" if ratio <= TARGET else f"over {TARGET}x"
            calls = len(fake.calls) - calls_before
            print(
                f"  {n:>6} {batches:>8} {calls:>6} {ideal:>8.2f} {actual:>9.2f} "
                f"{ratio:>5.2f}x  {flag}"
            )
            rows.append(f"| {n} | {batches} | {ideal:.2f} s | {actual:.2f} s | {ratio:.2f}x |")
    return "\n".join(
        [
            f"TriageRun against the fake Gemini server adding a fixed {latency:g} s per call, "
            "through the real SDK, compared with the ideal schedule `ceil(batches / concurrency) "
            f"x {latency:g} s` (batches of {MAX_BATCH}, concurrency {concurrency}):",
            "",
            f"| files | batches | ideal | TriageRun | ratio (target <= {TARGET}) |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def _thumbnails(count: int) -> list[bytes]:
    makers = [lambda s: s, ti.dark, ti.blurry, ti.overexposed, ti.burst_twin]
    return [ti.thumbnail(ti.jpeg(makers[i % len(makers)](ti.scene(i)))) for i in range(count)]


def bench_local(count: int, rounds: int) -> str:
    """Prints the run; returns it as a markdown paragraph."""
    thumbs = _thumbnails(count)
    store = FakeObjectStore()
    items = []
    for i, data in enumerate(thumbs):
        ref = MediaRef(key=f"derived/b/j/f{i}/thumb.jpg", mime_type="image/jpeg")
        store.put_bytes(ref.key, data, "image/jpeg")
        items.append(
            MediaItem(
                file_id=f"f{i}",
                filename=f"f{i}.jpg",
                media_type=MediaType.PHOTO,
                media=ref,
                thumbnail=ref,
            )
        )
    analyzer = LocalAnalyzer(store, ffmpeg=None, workers=1)

    def decode(data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as img:
            img.load()

    decode_ms, judge_ms = [], []
    for _ in range(rounds):
        for data, item in zip(thumbs, items, strict=True):
            t0 = time.perf_counter()
            decode(data)
            t1 = time.perf_counter()
            analyzer.judge(item)
            t2 = time.perf_counter()
            decode_ms.append((t1 - t0) * 1000)
            judge_ms.append((t2 - t1) * 1000)
    d, j = statistics.median(decode_ms), statistics.median(judge_ms)
    print(f"Local analyzer on {count} generated 400 px thumbnails (median of {rounds} rounds)")
    print(f"  Pillow decode of the thumbnail : {d:7.2f} ms/image")
    print(f"  local analyzer judge (decode + histogram + Laplacian + dHash): {j:7.2f} ms/image")
    print(f"  ratio analyzer / decode        : {j / d:7.2f}x")

    many = items * max(1, 500 // len(items))
    many = [i.model_copy(update={"file_id": f"{i.file_id}-{n}"}) for n, i in enumerate(many)]
    parallel = LocalAnalyzer(store, ffmpeg=None)
    t0 = time.perf_counter()
    parallel.analyze(many, deadline=time.monotonic() + 600)
    whole = time.perf_counter() - t0
    print(
        f"  analyze() of {len(many)} thumbnails incl. near-duplicate grouping: "
        f"{whole:.2f} s ({whole / len(many) * 1000:.2f} ms/image, thread pool)"
    )
    return (
        f"The local analyzer judges a 400 px thumbnail (decode, histogram, Laplacian, dHash) in "
        f"{j:.2f} ms, {j / d:.1f}x a bare Pillow decode of the same thumbnail ({d:.2f} ms; median "
        f"of {rounds} rounds over {count} thumbnails); {len(many)} thumbnails including "
        f"near-duplicate grouping take {whole:.2f} s."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per Gemini call")
    parser.add_argument("--quick", action="store_true", help="same as --latency 0.25")
    parser.add_argument("--sizes", default="36,500", help="files per job, comma separated")
    parser.add_argument("--concurrency", type=int, default=8, help="Gemini calls in flight")
    parser.add_argument("--images", type=int, default=20, help="thumbnails for the local bench")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the local bench")
    args = parser.parse_args()
    configure_logging("WARNING")
    latency = 0.25 if args.quick else args.latency
    gemini = bench_gemini([int(s) for s in args.sizes.split(",")], latency, args.concurrency)
    print()
    local = bench_local(args.images, args.rounds)
    write_section("triage", "TriageRun (`make bench-triage`)", f"{gemini}\n\n{local}")


if __name__ == "__main__":
    main()
