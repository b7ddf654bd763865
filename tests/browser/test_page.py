"""The web page in real Chromium against the deployed local stack, driven as a person would.

Debian's Chromium (/usr/bin/chromium, never a downloaded one) opens the page from the emulator's
site data plane (``web_url``: ``http://localhost:<port>/_aws/site/<bucket>/``) with the security
headers Terraform wrote, CSP included. The presigned S3 URLs point at ``http://127.0.0.1:<port>``,
so every upload is cross-origin and only the media bucket's CORS rules (Terraform) let it
through. Chromium 156 needs no flag for that: the browser is launched without
``--disable-features=LocalNetworkAccessChecks`` (a page on one loopback name reaching the other
is not a "local network" request), as a ``make demo`` user's browser is.

What each test proves is on the page (rows, statuses, the verdict grid, dialogs, downloads) and,
where the page promises something about the server (cancel deletes the files), in the bucket.
Every test also fails on an uncaught page error or a CSP violation. Screenshots of the key
states go to ``out/browser/``.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import os
import random
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect, sync_playwright
from support.fake_gemini import Call, FakeGemini, Reply
from support.stack import ROOT, Stack

from media_triage_shared import keys

sys.path.insert(0, str(ROOT / "devtools"))
from sample_batch import jpeg_bytes, landscape, write_demo

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
OUT = ROOT / "out" / "browser"
SLOW = 120_000  # ms: a whole job on the shared 2-core machine
FINAL = {"valid", "invalid", "duplicate", "upload_failed"}
GEMINI_KEY = "AIza-fake-key-for-the-browser-tests"

# Every change of a row's data-phase, in order (registered before the page's own scripts run).
PHASE_RECORDER = """
window.__phases = [];
new MutationObserver((records) => {
  for (const r of records) {
    const el = r.target;
    if (el.dataset && el.dataset.testid === "file-row") {
      window.__phases.push([el.dataset.fileId, el.dataset.phase]);
    }
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-phase"] });
"""

# A drop as the browser delivers it: a DataTransfer holding File objects.
MAKE_DROP = """
(files) => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], f.name, { type: f.type }));
  }
  return dt;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = "needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)"
        if os.environ.get("MEDIA_TRIAGE_REQUIRE_BROWSER"):  # CI: never skipped silently
            pytest.fail(reason)
        pytest.skip(reason)
    # what waits on the server (a cold function in the emulator, a busy 2-core CI machine)
    # gets more than Playwright's 5 s; a whole job has its own, longer timeout (SLOW)
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def web_url(stack: Stack) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    return str(stack.outputs["web_url"])


@pytest.fixture(scope="module")
def page_config(web_url: str) -> dict[str, Any]:
    resp = requests.get(f"{web_url}config.json", timeout=10)
    resp.raise_for_status()
    return dict(resp.json())


@dataclass
class Tab:
    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)  # uncaught exceptions, CSP violations

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors


@pytest.fixture
def tabs(browser: Any) -> Iterator[Callable[..., Tab]]:
    """New browser contexts (one tab each), closed after the test."""
    opened: list[Tab] = []

    def open_tab(
        *,
        width: int = 1280,
        height: int = 900,
        color_scheme: str = "light",
        bypass_csp: bool = False,
    ) -> Tab:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme=color_scheme,
            bypass_csp=bypass_csp,
            accept_downloads=True,
        )
        context.add_init_script(PHASE_RECORDER)
        page = context.new_page()
        tab = Tab(context, page)
        page.on("pageerror", lambda exc: tab.errors.append(f"pageerror: {exc}"))

        def console(msg: Any) -> None:
            if "Content Security Policy" in msg.text or "Refused to" in msg.text:
                tab.errors.append(f"console: {msg.text}")

        page.on("console", console)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.context.close()


# ---------------------------------------------------------------------------- helpers


def shot(page: Any, name: str, *, full_page: bool = False) -> Path:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def session_record(page: Any) -> dict[str, Any]:
    raw = page.evaluate("() => sessionStorage.getItem('media-triage:session')")
    assert raw, "no session in sessionStorage"
    return dict(json.loads(raw))


def rows(page: Any) -> dict[str, dict[str, str]]:
    """Every file row by filename: fileId, phase, status text."""
    out = {}
    for row in page.get_by_test_id("file-row").all():
        name = row.locator(".file-name").inner_text()
        out[name] = {
            "fileId": row.get_attribute("data-file-id") or "",
            "phase": row.get_attribute("data-phase") or "",
            "status": row.get_by_test_id("file-status").inner_text(),
        }
    return out


def phase_history(page: Any) -> dict[str, list[str]]:
    """The phases each row went through (repeats of the same phase folded)."""
    out: dict[str, list[str]] = {}
    for file_id, phase in page.evaluate("() => window.__phases"):
        seq = out.setdefault(file_id, [])
        if not seq or seq[-1] != phase:
            seq.append(phase)
    return out


def row(page: Any, filename: str) -> Any:
    return page.get_by_test_id("file-row").filter(has=page.locator(".file-name", has_text=filename))


def tile(page: Any, filename: str) -> Any:
    return page.get_by_test_id("tile").filter(
        has=page.locator(".tile-name", has_text=re.compile(rf"^{re.escape(filename)}$"))
    )


def tile_names(page: Any, group: str, count: int | None = None) -> set[str]:
    """The file names in a verdict group (after waiting for ``count`` tiles: the grid renders
    on the next animation frame)."""
    tiles = page.get_by_test_id(f"group-{group}").get_by_test_id("tile")
    if count is not None:
        expect(tiles).to_have_count(count)
    return set(tiles.locator(".tile-name").all_inner_texts())


def wait_job(page: Any, status: str, timeout: float = SLOW) -> None:
    expect(page.get_by_test_id("job-status")).to_have_attribute(
        "data-status", status, timeout=timeout
    )


def no_horizontal_scroll(page: Any, width: int) -> None:
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide in a {width} px viewport"


def wait_lambdas_idle(stack: Stack) -> None:
    """Let in-flight MediaProcess/TriageRun invocations end (bundled emulator only)."""
    resp = requests.get(f"{stack.endpoint}/_local_aws/lambda/wait-idle?timeout=60", timeout=70)
    assert resp.status_code in (200, 404), resp.text  # 404: an external emulator without it


def bucket_keys(stack: Stack, prefix: str) -> list[str]:
    pages = (
        stack.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=stack.bucket, Prefix=prefix)
    )
    return [obj["Key"] for p in pages for obj in p.get("Contents", [])]


def random_file(path: Path, size: int, seed: int) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def throttle_uploads(tab: Tab, bytes_per_second: int) -> Any:
    """Chromium's network emulation: request bodies at most this fast (-1: no limit)."""
    cdp = tab.context.new_cdp_session(tab.page)
    cdp.send("Network.enable")
    set_upload_rate(cdp, bytes_per_second)
    return cdp


def set_upload_rate(cdp: Any, bytes_per_second: int) -> None:
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def run_axe(page: Any, state: str) -> list[dict[str, Any]]:
    """axe-core in the page (the context bypasses the CSP to inject it): the violations that
    are serious or critical; the others are printed."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await window.axe.run(document)")
    bad = [v for v in result["violations"] if v["impact"] in {"serious", "critical"}]
    print(f"axe [{state}]: {len(result['passes'])} rules pass, {len(result['violations'])} fail")
    for v in result["violations"]:
        targets = [n["target"] for n in v["nodes"]][:5]
        print(f"axe [{state}] {v['impact']}: {v['id']} — {v['help']} {targets}")
    return bad


# ---------------------------------------------------------------------------- 1. the demo batch


def open_page(page: Any, url: str) -> None:
    """Load the page and wait until it is ready for files: the drop zone shows once config.json
    is read and the view is mounted (files given to the input before then would be ignored)."""
    page.goto(url)
    expect(page.get_by_test_id("dropzone")).to_be_visible(timeout=30_000)


def test_demo_batch_every_status_change_and_the_verdict_grid(
    tabs: Callable[..., Tab], web_url: str, stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "holiday"
    names = {p.name for p in write_demo(folder)}
    # wider than the display edge (2048 px): opens as display.jpg, with a full-resolution view
    (folder / "panorama.jpg").write_bytes(jpeg_bytes(landscape(9, (3000, 1400))))
    names.add("panorama.jpg")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: skipped
    (folder / "notes.txt").write_text("not media")  # refused before upload, with a reason
    tab = tabs()
    page = tab.page
    open_page(page, web_url)
    expect(page.get_by_test_id("dropzone")).to_be_visible()
    shot(page, "start")

    # at most 512 KB/s up (about a second per photo, 4 in parallel): the page draws once per
    # animation frame, so a file that uploads within one frame would never show "uploading"
    throttle_uploads(tab, 512 * 1024)
    polls: list[Any] = []  # the results polls' answers, read once the job is complete
    page.on("response", lambda r: polls.append(r) if "/results" in r.url else None)
    page.get_by_test_id("folder-input").set_input_files(folder)
    rejected = page.get_by_test_id("rejected")
    expect(rejected).to_be_visible()
    expect(rejected).to_contain_text("notes.txt")
    expect(rejected).not_to_contain_text(".DS_Store")
    expect(page.get_by_test_id("file-row")).to_have_count(len(names))
    record = session_record(page)
    job, session_id = record["jobId"], record["sessionId"]
    wait_job(page, "complete")
    shot(page, "job-complete", full_page=True)

    # every file: uploading -> processing -> its final status, nothing else
    seen = rows(page)
    assert set(seen) == names
    history = phase_history(page)
    for name, info in seen.items():
        phases = [p for p in history[info["fileId"]] if p != "queued"]
        assert phases == ["uploading", "processing", info["phase"]], (name, phases)
    assert seen["broken.jpg"]["phase"] == "invalid"
    assert seen["broken.jpg"]["status"] == (
        "Invalid: The file is damaged: it looks like a photo or video but cannot be decoded."
    )
    pair = ["beach sunset.jpg", "beach sunset (copy).jpg"]
    dup = [n for n in pair if seen[n]["phase"] == "duplicate"]
    assert len(dup) == 1, {n: seen[n] for n in pair}
    original = next(n for n in pair if n not in dup)
    assert seen[dup[0]]["status"] == f"Duplicate of {original}"
    others = names - {*pair, "broken.jpg"}
    assert {seen[n]["phase"] for n in others} == {"valid"}
    expect(page.get_by_test_id("files-remaining")).to_have_text("0")
    expect(page.get_by_test_id("elapsed")).to_have_text(re.compile(r"^\d+ s$|^\d+ min"))
    # the page polls with its cursor (ADR 0022): after a 200 that carried one, every poll sends
    # it back as ?since= (a 304 keeps it); after a 200 without one (the job moved on), none.
    # Whether a delta comes back depends on when files land between polls; the rows above were
    # drawn from whatever came.
    cursor = None
    for r in polls:
        assert (f"since={cursor}" in r.url) if cursor else ("since=" not in r.url), r.url
        if r.status == 200:
            cursor = r.json().get("cursor")
    assert len(polls) > 2

    # the status chips filter the rows
    chip = page.get_by_test_id("filter-invalid")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-testid=file-row]:visible")).to_have_count(1)
    expect(row(page, "broken.jpg")).to_be_visible()
    chip.click()
    expect(page.locator("[data-testid=file-row]:visible")).to_have_count(len(names))

    # the verdict grid: keep / discard / invalid, with scores, reasons and who judged
    expect(page.get_by_test_id("verdicts")).to_be_visible()
    expect(page.get_by_test_id("judge")).to_have_text("Judged by the local analyzer (no AI model)")
    keep = {
        original,
        "panorama.jpg",
        "portrait rotated.jpg",
        "garden.heic",
        "screenshot.png",
        "waves.mp4",
    }
    discard = {dup[0], "night shot.jpg", "shaky hands.jpg", "snow glare.jpg"}
    assert tile_names(page, "keep") == keep
    assert tile_names(page, "discard") == discard
    assert tile_names(page, "invalid") == {"broken.jpg"}
    for name in keep | discard:
        t = tile(page, name)
        expect(t.locator(".tile-score")).to_have_text(re.compile(r"^Score \d+$"))
        assert t.locator(".tile-reason").inner_text().strip(), name
    expect(tile(page, "night shot.jpg").locator(".tile-reason")).to_contain_text("too dark")
    expect(tile(page, "broken.jpg").locator(".tile-reason")).to_contain_text("damaged")
    issues = set(page.get_by_test_id("issue-filters").locator("button").all_inner_texts())
    assert {re.sub(r"\s+\d+$", "", i) for i in issues} == {
        "Too dark",
        "Blurry",
        "Overexposed",
        "Duplicate",
    }
    page.get_by_test_id("issue-filters").get_by_role("button", name=re.compile("^Too dark")).click()
    assert tile_names(page, "discard", 1) == {"night shot.jpg"}
    assert tile_names(page, "keep", 0) == set()
    page.get_by_test_id("issue-filters").get_by_role("button", name=re.compile("^Too dark")).click()
    assert tile_names(page, "discard", len(discard)) == discard
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_test_id("verdicts").scroll_into_view_if_needed()
    shot(page, "verdicts")  # docs/images/page-verdicts.png is a copy of this one

    # open a photo: its display copy, then the original at full resolution
    tile(page, "panorama.jpg").locator("button.tile-open").click()
    dialog = page.get_by_test_id("media-dialog")
    expect(dialog).to_be_visible()
    img = page.locator("#media-body img")
    expect(img).to_have_js_property("complete", True, timeout=15_000)
    assert img.evaluate("i => i.naturalWidth") == 2048
    assert img.get_attribute("src").startswith(f"{stack.endpoint}/")  # the bucket, cross-origin
    assert f"/derived/{session_id}/{job}/" in img.get_attribute("src")
    expect(page.get_by_test_id("media-original")).to_have_attribute(
        "href", re.compile(rf"/uploads/{session_id}/{job}/")
    )
    shot(page, "media-dialog")
    page.get_by_test_id("media-full").click()
    expect(page.get_by_test_id("media-full")).to_have_attribute("aria-pressed", "true")
    expect(img).to_have_attribute("src", re.compile(r"/uploads/"))
    expect(img).to_have_js_property("complete", True, timeout=15_000)
    assert img.evaluate("i => i.naturalWidth") == 3000
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # a photo small enough is shown as it is (no full-resolution switch)
    tile(page, original).locator("button.tile-open").click()
    expect(img).to_have_js_property("complete", True, timeout=15_000)
    assert img.evaluate("i => i.naturalWidth") == 1600
    assert "/uploads/" in img.get_attribute("src")
    expect(page.get_by_test_id("media-full")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # a HEIC (which Chromium cannot show) opens as its converted display copy
    tile(page, "garden.heic").locator("button.tile-open").click()
    expect(img).to_have_js_property("complete", True, timeout=15_000)
    assert img.evaluate("i => i.naturalWidth") > 0
    assert "/derived/" in img.get_attribute("src")
    page.keyboard.press("Escape")

    # the video plays its proxy
    tile(page, "waves.mp4").locator("button.tile-open").click()
    video = page.locator("#media-body video")
    expect(video).to_have_count(1)
    deadline = time.monotonic() + 20
    while video.evaluate("v => v.readyState") < 1 and time.monotonic() < deadline:  # metadata
        time.sleep(0.2)
    assert video.evaluate("v => [v.readyState >= 1, v.videoWidth, v.error]") == [True, 320, None]
    assert "/derived/" in video.get_attribute("src")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # flip two verdicts, then the CSV keep list has the original names and the flips
    tile(page, "night shot.jpg").get_by_test_id("flip").click()
    expect(tile(page, "night shot.jpg")).to_have_attribute("data-group", "keep")
    expect(tile(page, "night shot.jpg").locator(".tile-score")).to_contain_text("flipped by you")
    tile(page, "screenshot.png").get_by_test_id("flip").click()
    expect(tile(page, "screenshot.png")).to_have_attribute("data-group", "discard")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    assert download.value.suggested_filename.endswith(".csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    listed = {r["filename"]: r for r in csv.DictReader(io.StringIO(text))}
    assert set(listed) == (keep - {"screenshot.png"}) | {"night shot.jpg"}
    assert listed["night shot.jpg"]["flipped"] == "yes"
    assert listed[original]["flipped"] == "no"
    assert all(listed[n]["fileId"] == seen[n]["fileId"] for n in listed)

    # the flips and the finished job survive a reload of the tab
    page.reload()
    expect(page.get_by_test_id("verdicts")).to_be_visible()
    assert session_record(page)["jobId"] == job
    expect(tile(page, "night shot.jpg")).to_have_attribute("data-group", "keep")
    expect(tile(page, "screenshot.png")).to_have_attribute("data-group", "discard")
    tab.assert_clean()


# ---------------------------------------------------------------------------- 2. reload


def small_photos(folder: Path, count: int, seed: int = 40) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"photo {i + 1}.jpg"
        path.write_bytes(jpeg_bytes(landscape(seed + i, (800, 600)), quality=70))
        out.append(path)
    return out


def test_reload_mid_job_reattaches_and_a_cut_upload_continues(
    tabs: Callable[..., Tab], web_url: str, stack: Stack, tmp_path: Path
) -> None:
    """Reload while the job is processing (three files done, one still uploading): the same
    job comes back with its rows; the cut file asks to be picked again and, picked, finishes
    the job."""
    photos = small_photos(tmp_path / "trip", 3)
    big = random_file(tmp_path / "long walk.mp4", 3_000_000, seed=2)
    tab = tabs()
    page = tab.page
    open_page(page, web_url)
    cdp = throttle_uploads(tab, 64 * 1024)
    page.get_by_test_id("file-input").set_input_files([*photos, big])
    for p in photos:
        expect(row(page, p.name)).to_have_attribute("data-phase", "valid", timeout=60_000)
    expect(row(page, big.name).get_by_test_id("file-status")).to_have_text(
        re.compile(r"^Uploading [1-9]\d?%")
    )
    expect(page.get_by_test_id("job-status")).to_have_attribute("data-status", "processing")
    shot(page, "processing")
    before = session_record(page)

    page.reload()
    set_upload_rate(cdp, -1)
    expect(page.get_by_test_id("file-row")).to_have_count(4)
    assert session_record(page)["jobId"] == before["jobId"]
    for p in photos:
        expect(row(page, p.name)).to_have_attribute("data-phase", "valid")
    expect(row(page, big.name)).to_have_attribute("data-phase", "needs_file")
    expect(row(page, big.name).get_by_test_id("file-status")).to_have_text(
        "Upload interrupted: pick this file again to continue"
    )
    expect(page.get_by_test_id("message")).to_contain_text("pick the same files again")
    expect(page.get_by_test_id("job-status")).to_have_attribute("data-status", "processing")
    assert stack.job_row(before["sessionId"], before["jobId"])["status"] == "processing"

    page.get_by_test_id("file-input").set_input_files(big)
    wait_job(page, "complete")
    expect(page.get_by_test_id("file-row")).to_have_count(4)
    assert session_record(page)["jobId"] == before["jobId"]
    big_id = rows(page)[big.name]["fileId"]
    assert phase_history(page)[big_id] == ["needs_file", "uploading", "processing", "invalid"]
    expect(page.get_by_test_id("verdicts")).to_be_visible()
    assert tile_names(page, "invalid", 1) == {big.name}
    tab.assert_clean()


# ---------------------------------------------------------------------------- 3. cancel


def test_cancel_mid_upload_stops_the_job_and_deletes_its_files(
    tabs: Callable[..., Tab], web_url: str, stack: Stack, tmp_path: Path
) -> None:
    first = small_photos(tmp_path / "pics", 1)[0]
    clips = [random_file(tmp_path / f"clip {i}.mp4", 2_000_000, seed=i) for i in (1, 2)]
    tab = tabs()
    page = tab.page
    open_page(page, web_url)
    throttle_uploads(tab, 64 * 1024)
    page.get_by_test_id("file-input").set_input_files([first, *clips])
    expect(row(page, first.name)).to_have_attribute("data-phase", "valid", timeout=60_000)
    for clip in clips:
        expect(row(page, clip.name).get_by_test_id("file-status")).to_have_text(
            re.compile(r"^Uploading [1-9]\d?%")
        )
    record = session_record(page)
    uploads = keys.upload_prefix(record["sessionId"], record["jobId"])
    derived = keys.derived_prefix(record["sessionId"], record["jobId"])
    assert bucket_keys(stack, derived), "the finished photo has a thumbnail"
    assert bucket_keys(stack, uploads), "and its original"
    shot(page, "uploading")

    page.get_by_test_id("cancel").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Cancel this job?")
    page.get_by_test_id("confirm-yes").click()
    expect(dialog).to_be_hidden()
    wait_job(page, "cancelled", timeout=30_000)
    expect(page.get_by_test_id("message")).to_have_text(
        "The job was cancelled and its files deleted."
    )
    expect(page.get_by_test_id("cancel")).to_be_hidden()
    expect(page.get_by_test_id("start-over")).to_be_visible()
    for clip in clips:  # nothing keeps uploading
        expect(row(page, clip.name)).not_to_have_attribute("data-phase", "uploading")
    shot(page, "cancelled")

    wait_lambdas_idle(stack)
    assert stack.job_row(record["sessionId"], record["jobId"])["status"] == "cancelled"
    assert bucket_keys(stack, derived) == []
    # the cancelled uploads never completed and the finished original was deleted
    assert bucket_keys(stack, uploads) == []
    tab.assert_clean()


# ---------------------------------------------------------------------------- 5. multipart


def test_a_file_above_the_multipart_threshold_uploads_in_parts(
    tabs: Callable[..., Tab], web_url: str, page_config: dict[str, Any], tmp_path: Path
) -> None:
    threshold = int(page_config["multipartThresholdBytes"])
    size = threshold + 1024 * 1024
    big = random_file(tmp_path / "long clip.mp4", size, seed=5)  # not a real video: invalid
    tab = tabs()
    page = tab.page
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.method, r.url)))
    open_page(page, web_url)
    page.get_by_test_id("file-input").set_input_files(big)
    the_row = row(page, big.name)
    expect(the_row).to_have_attribute("data-phase", "uploading")
    expect(the_row).not_to_have_attribute("data-phase", "uploading", timeout=SLOW)
    wait_job(page, "complete")
    expect(the_row).to_have_attribute("data-phase", "invalid")

    parts = sorted(
        int(m.group(1))
        for method, url in sent
        if method == "PUT" and (m := re.search(r"[?&]partNumber=(\d+)", url))
    )
    part_bytes = 16 * 1024 * 1024  # the API's preferred part size
    assert parts == list(range(1, -(-size // part_bytes) + 1)), parts
    assert all(url.split("/")[2].startswith("127.0.0.1") for m, url in sent if m == "PUT")
    completes = [url for method, url in sent if method == "POST" and "/multipart/complete" in url]
    assert len(completes) == 1
    tab.assert_clean()


def test_limit_upload_speed_paces_the_uploads_on_one_budget_and_is_remembered(
    tabs: Callable[..., Tab], web_url: str, tmp_path: Path
) -> None:
    """1 Mbit/s for five photos: four could start at once without the limit; with it each
    starts once the ones before it have had their share (size / rate, ADR 0016)."""
    rate = 125_000  # bytes per second
    photos = []
    for i in range(5):
        path = tmp_path / f"paced {i}.jpg"
        path.write_bytes(jpeg_bytes(landscape(40 + i, (800, 600))))
        photos.append(path)
    tab = tabs()
    page = tab.page
    starts: list[tuple[float, str]] = []

    def on_request(req: Any) -> None:
        if req.method == "POST" and req.url.split("/")[2].startswith("127.0.0.1"):
            starts.append((time.monotonic(), req.url))

    page.on("request", on_request)
    open_page(page, web_url)
    page.get_by_test_id("rate-limit").fill("1")
    page.get_by_test_id("rate-limit").dispatch_event("change")
    page.get_by_test_id("file-input").set_input_files(photos)
    wait_job(page, "complete")

    assert len(starts) == 5, starts
    times = sorted(t for t, _ in starts)
    sizes = sorted(p.stat().st_size for p in photos)
    # consecutive starts are at least the smallest photo's share apart (a loaded machine only
    # makes them later); without the limit the first four start together
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.8 * sizes[0] / rate, (gaps, sizes)
    # the last starts once the first four have had their share
    assert times[-1] - times[0] >= 0.9 * (sum(sizes) - sizes[-1]) / rate, (times, sizes)

    page.reload()
    expect(page.get_by_test_id("rate-limit")).to_have_value("1")  # kept for the session
    tab.assert_clean()


# ---------------------------------------------------------------------------- 6. expired


def test_a_bogus_or_foreign_session_shows_session_expired(
    tabs: Callable[..., Tab], web_url: str, stack: Stack, page_config: dict[str, Any]
) -> None:
    tab = tabs()
    page = tab.page
    open_page(page, web_url)
    expect(page.get_by_test_id("dropzone")).to_be_visible()

    def attach(job_id: str, session_id: str, token: str) -> None:
        record = {
            "v": 1,
            "apiBase": page_config["apiBase"],
            "idempotencyKey": str(uuid.uuid4()),
            "initBody": None,
            "jobId": job_id,
            "sessionId": session_id,
            "token": token,
            "startedAt": int(time.time() * 1000),
            "expected": 1,
            "fileIds": [],
        }
        page.evaluate(
            "(r) => sessionStorage.setItem('media-triage:session', JSON.stringify(r))", record
        )
        page.reload()

    def assert_expired() -> None:
        expired = page.get_by_test_id("session-expired")
        expect(expired).to_be_visible(timeout=15_000)
        expect(expired.get_by_role("heading")).to_have_text("Your session has expired")
        expect(page.get_by_test_id("dropzone")).to_be_hidden()
        expect(page.get_by_test_id("job")).to_be_hidden()
        expect(page.get_by_test_id("fatal")).to_be_hidden()
        text = page.locator("body").inner_text()
        for leak in ("Traceback", "Error:", "undefined", "[object", "stack", "http_40"):
            assert leak not in text, leak

    attach(uuid.uuid4().hex, uuid.uuid4().hex, "not-a-real-token")
    assert_expired()
    shot(page, "session-expired")
    page.get_by_test_id("expired-start-over").click()
    expect(page.get_by_test_id("dropzone")).to_be_visible()
    expect(page.get_by_test_id("session-expired")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.getItem('media-triage:session')") is None

    spec = [{"filename": "a.jpg", "contentType": "image/jpeg", "size": 1000}]
    mine, theirs = stack.init(1, spec), stack.init(1, spec)
    try:
        # the job's own token re-attaches (so what follows is about the token, not the record)
        attach(mine["jobId"], mine["sessionId"], mine["sessionToken"])
        expect(page.get_by_test_id("job-status")).to_have_attribute("data-status", "pending")
        expect(page.get_by_test_id("session-expired")).to_be_hidden()
        # the same job with another session's token
        attach(mine["jobId"], mine["sessionId"], theirs["sessionToken"])
        assert_expired()
    finally:
        for init in (mine, theirs):
            stack.api("DELETE", f"/api/triage/{init['jobId']}", token=init["sessionToken"])
    tab.assert_clean()


# ---------------------------------------------------------------------------- 7. accessibility


def test_axe_finds_no_serious_violations_on_start_processing_and_verdicts(
    tabs: Callable[..., Tab], web_url: str, tmp_path: Path
) -> None:
    tab = tabs(bypass_csp=True)  # to inject axe-core
    page = tab.page
    open_page(page, web_url)
    expect(page.get_by_test_id("dropzone")).to_be_visible()
    bad = run_axe(page, "start")

    photos = small_photos(tmp_path / "a11y", 2, seed=60)
    clip = random_file(tmp_path / "held.mp4", 1_500_000, seed=3)
    cdp = throttle_uploads(tab, 32 * 1024)
    page.get_by_test_id("file-input").set_input_files([*photos, clip])
    for p in photos:
        expect(row(page, p.name)).to_have_attribute("data-phase", "valid", timeout=60_000)
    expect(row(page, clip.name)).to_have_attribute("data-phase", "uploading")
    bad += run_axe(page, "processing")

    set_upload_rate(cdp, -1)
    wait_job(page, "complete")
    expect(page.get_by_test_id("verdicts")).to_be_visible()
    bad += run_axe(page, "verdicts")
    tile(page, photos[0].name).locator("button.tile-open").click()
    expect(page.locator("#media-body img")).to_have_js_property("complete", True)
    bad += run_axe(page, "media dialog")
    page.keyboard.press("Escape")

    assert [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in bad] == []
    tab.assert_clean()


def test_keyboard_only_picks_files_and_opens_a_verdict(
    tabs: Callable[..., Tab], web_url: str, tmp_path: Path
) -> None:
    tab = tabs()
    page = tab.page
    # intercept file choosers from the start: turning it on is asynchronous, so switching it on
    # only around the key press could race the press on a busy machine
    choosers: list[Any] = []
    page.on("filechooser", lambda c: choosers.append(c))  # noqa: PLW0108 - not a builtin
    open_page(page, web_url)
    expect(page.get_by_test_id("dropzone")).to_be_visible()
    active = ""
    for _ in range(8):
        page.keyboard.press("Tab")
        active = page.evaluate("() => document.activeElement?.dataset.testid ?? ''")
        if active == "dropzone":
            break
    assert active == "dropzone"
    outline = page.get_by_test_id("dropzone").evaluate(
        "el => { const s = getComputedStyle(el);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth), s.boxShadow]; }"
    )
    # the page's own focus ring (Chromium's default is `auto 1px`, easy to miss)
    assert (outline[0] not in {"none", "auto"} and outline[1] >= 2) or outline[2] != "none"
    page.keyboard.press("Enter")
    deadline = time.monotonic() + 15
    while not choosers and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert len(choosers) == 1, "Enter on the drop zone opens the file chooser"
    assert choosers[0].is_multiple()
    photo = small_photos(tmp_path / "keys", 1, seed=70)[0]
    choosers[0].set_files(photo)
    wait_job(page, "complete")

    # Tab to the tile, open it with Enter, close with Escape: focus goes back to the tile
    opener = tile(page, photo.name).locator("button.tile-open")
    for _ in range(40):
        page.keyboard.press("Tab")
        if opener.evaluate("el => el === document.activeElement"):
            break
    assert opener.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("media-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("media-dialog")).to_be_hidden()
    assert opener.evaluate("el => el === document.activeElement")
    tab.assert_clean()


# ---------------------------------------------------------------------------- 8. 360 px, dark


def test_360px_and_dark_mode_without_horizontal_scroll(
    tabs: Callable[..., Tab], web_url: str, tmp_path: Path
) -> None:
    tab = tabs(width=360, height=760, color_scheme="dark")
    page = tab.page
    open_page(page, web_url)
    expect(page.get_by_test_id("dropzone")).to_be_visible()
    no_horizontal_scroll(page, 360)
    background = "() => getComputedStyle(document.body).backgroundColor"
    dark = [int(c) for c in re.findall(r"\d+", page.evaluate(background))[:3]]
    assert sum(dark) < 3 * 80, dark
    page.emulate_media(color_scheme="light")
    light = [int(c) for c in re.findall(r"\d+", page.evaluate(background))[:3]]
    assert sum(light) > 3 * 200, light
    page.emulate_media(color_scheme="dark")
    shot(page, "narrow-dark-start")

    # dropped (a drag and drop's DataTransfer), one with a long unbroken name
    photo = small_photos(tmp_path / "narrow", 1, seed=80)[0]
    files = [
        ("a-very-long-file-name-from-a-camera-without-any-spaces-0001.jpg", photo.read_bytes()),
        ("broken.jpg", b"\xff\xd8\xff\xe0 not a jpeg " * 50),
    ]
    payload = [
        {"name": n, "type": "image/jpeg", "data": base64.b64encode(b).decode()} for n, b in files
    ]
    drop = page.evaluate_handle(MAKE_DROP, payload)
    page.dispatch_event("#start", "drop", {"dataTransfer": drop})
    expect(page.get_by_test_id("file-row")).to_have_count(2)
    wait_job(page, "complete")
    expect(page.get_by_test_id("verdicts")).to_be_visible()
    no_horizontal_scroll(page, 360)
    shot(page, "narrow-360", full_page=True)
    tile(page, files[0][0]).locator("button.tile-open").click()
    expect(page.locator("#media-body img")).to_have_js_property("complete", True)
    no_horizontal_scroll(page, 360)
    page.keyboard.press("Escape")

    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "dark")
    tab.assert_clean()


# ---------------------------------------------------------------------------- 4. retry (last:
# it re-applies the stack with Gemini pointed at a fake, then puts it back)


def test_failed_triage_shows_retry_and_retry_completes(
    tabs: Callable[..., Tab], web_url: str, stack: Stack, tmp_path: Path
) -> None:
    failing = threading.Event()
    failing.set()

    def responder(call: Call) -> Reply | None:
        return Reply(status=500, message="backend error") if failing.is_set() else None

    with FakeGemini(api_key=GEMINI_KEY, responder=responder) as gemini:
        stack.apply(f"-var=gemini_api_key={GEMINI_KEY}", f"-var=gemini_base_url={gemini.base_url}")
        try:
            folder = tmp_path / "retry"
            folder.mkdir()
            sharp = folder / "harbour.jpg"
            sharp.write_bytes(jpeg_bytes(landscape(90, (800, 600)), quality=70))
            dark = small_photos(folder, 1, seed=91)[0].rename(folder / "dark alley.jpg")
            tab = tabs()
            page = tab.page
            open_page(page, web_url)
            page.get_by_test_id("file-input").set_input_files([sharp, dark])
            wait_job(page, "failed", timeout=180_000)
            retry = page.get_by_test_id("retry")
            expect(retry).to_be_visible()
            # a sentence, not the workflow's cause (it once showed it twice, in parentheses)
            expect(page.get_by_test_id("message")).to_have_text(
                "Triage failed: the analyzer (the AI model) did not answer, even after several"
                " tries. You can retry it."
            )
            expect(page.get_by_test_id("verdicts")).to_be_hidden()
            shot(page, "failed")
            refused = len(gemini.calls)
            assert refused >= 2, "the SDK retried the 500s before giving up"

            failing.clear()
            retry.click()
            expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Retry triage?")
            page.get_by_test_id("confirm-yes").click()
            wait_job(page, "complete", timeout=SLOW)
            expect(retry).to_be_hidden()
            expect(page.get_by_test_id("judge")).to_contain_text("gemini-2.5-flash")
            assert tile_names(page, "keep", 1) == {"harbour.jpg"}
            assert tile_names(page, "discard", 1) == {"dark alley.jpg"}
            assert len(gemini.calls) > refused
            tab.assert_clean()
        finally:
            stack.apply()
