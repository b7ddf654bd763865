"""``media-triage run``: files -> init -> parallel uploads -> results polling -> verdicts.

The command wires the pieces together: :class:`~media_triage_cli.api.ApiClient` (HTTP),
:class:`~media_triage_cli.uploader.Uploader` (transfers), :class:`ProgressModel` and a view
(terminal), :mod:`report` and :mod:`contact_sheet` (the end). It owns the policy: an upload
that fails for good lowers ``expectedFileCount`` so the job never waits for it; Ctrl-C
cancels the job through the API and exits 130.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import requests

from media_triage_cli import contact_sheet, report
from media_triage_cli.api import ApiClient, ApiError, InitResponse, ResultsCopy
from media_triage_cli.files import LocalFile, collect
from media_triage_cli.journal import Journal
from media_triage_cli.progress import (
    TERMINAL_JOB,
    LineView,
    NullView,
    ProgressModel,
    TtyView,
    View,
)
from media_triage_cli.ratelimit import TokenBucket, format_rate
from media_triage_cli.uploader import Upload, Uploader

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_FILES = 1000


@dataclass(frozen=True, slots=True)
class RunOptions:
    paths: Sequence[str]
    api: str
    json: bool = False
    contact_sheet: Path | None = None
    concurrency: int = 4
    model: str | None = None
    timeout: float = 900.0
    poll_interval: float = 1.0
    quiet: bool = False
    resume: Path | None = None
    attempts: int = 5
    backoff: float = 0.5
    # While uploads are in flight, PATCH the unchanged expectedFileCount this often: a sign of
    # life that pushes the stall deadline (10 min) past a long upload of one big file.
    keepalive: float = 120.0
    # --max-upload-rate in bytes per second: one budget shared by every parallel upload
    max_upload_rate: float | None = None


@dataclass
class Outcome:
    """What a run ended with (for callers that embed the command, e.g. the benchmark)."""

    exit_code: int
    results: dict[str, Any] | None = None
    job_id: str | None = None
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    timeline: dict[str, float] = field(default_factory=dict)
    polls: list[tuple[float, str, int]] = field(default_factory=list)  # (t, status, processed)
    targets: list[tuple[str, str, str]] = field(default_factory=list)  # (fileId, filename, key)
    uploaded: dict[str, float] = field(default_factory=dict)  # fileId -> its upload acknowledged


class _Listener:
    """Forwards upload events to the progress model and the journal, and PATCHes
    ``expectedFileCount`` down when a file's upload fails for good."""

    def __init__(
        self,
        client: ApiClient,
        job_id: str,
        model: ProgressModel,
        journal: Journal,
        expected: int,
        names: dict[str, str],
    ) -> None:
        self.client, self.job_id, self.model, self.journal = client, job_id, model, journal
        self.expected = expected
        self.names = names
        self.failures: list[tuple[str, str, str]] = []
        self.all_failed = threading.Event()
        self._lock = threading.Lock()
        self.last_upload_done = 0.0
        self.done_at: dict[str, float] = {}

    def upload_started(self, file_id: str) -> None:
        self.model.upload_started(file_id)

    def upload_progress(self, file_id: str, sent: int) -> None:
        self.model.upload_progress(file_id, sent)

    def upload_retrying(self, file_id: str, attempt: int, reason: str) -> None:
        self.model.upload_retrying(file_id, attempt, reason)

    def upload_done(self, file_id: str) -> None:
        self.journal.file_done(file_id)
        self.model.upload_done(file_id)
        self.last_upload_done = self.done_at[file_id] = time.monotonic()

    def part_done(self, file_id: str, part_number: int, etag: str) -> None:
        self.journal.part_done(file_id, part_number, etag)

    def upload_failed(self, file_id: str, code: str, message: str) -> None:
        self.model.upload_failed(file_id, code, message)
        with self._lock:  # PATCHes go out in order, each with the absolute count
            self.failures.append((self.names.get(file_id, file_id), code, message))
            if self.expected - len(self.failures) < 1:
                self.all_failed.set()
                return
            self._patch_expected()

    def keep_alive(self) -> None:
        """The unchanged count again: the API takes a PATCH as a sign of life."""
        with self._lock:
            if self.expected - len(self.failures) >= 1:
                self._patch_expected()

    def _patch_expected(self) -> None:
        try:
            self.client.set_expected_count(self.job_id, self.expected - len(self.failures))
        except ApiError as exc:
            if exc.status != 409:  # 409: the job moved on already; nothing to wait for
                raise
        except requests.RequestException:
            pass  # the stall deadline is the backstop


class Run:
    model: ProgressModel
    listener: _Listener
    journal: Journal | None = None
    _uploader: Uploader | None = None

    def __init__(
        self,
        opts: RunOptions,
        *,
        client: ApiClient | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        view: View | None = None,
        on_init: Callable[[InitResponse], InitResponse] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.opts = opts
        self.client = client or ApiClient(opts.api)
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr
        self.view = view or self._default_view()
        self.on_init = on_init
        self.clock = clock
        self.cancel = threading.Event()
        self.interrupted = threading.Event()  # Ctrl-C seen; acted on at the next safe point
        self.outcome = Outcome(EXIT_FAILED)
        self._finished = False  # the job reached a final state: Ctrl-C no longer cancels it

    def _default_view(self) -> View:
        if self.opts.quiet:
            return NullView()
        if self.err.isatty():
            return TtyView(self.err)
        return LineView(self.err)

    def _say(self, text: str) -> None:
        if not self.opts.quiet:
            self.err.write(text + "\n")
            self.err.flush()

    # ------------------------------------------------------------------ the run

    def execute(self) -> int:
        # Ctrl-C only sets a flag: a KeyboardInterrupt raised at an arbitrary point (inside a
        # connection pool's lock, a buffered write) can leave a lock held, and the cancel call
        # that follows would then hang. The run checks the flag between steps; a second Ctrl-C
        # raises at once.
        if threading.current_thread() is not threading.main_thread():
            return self._execute()
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            return self._execute()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.interrupted.is_set():
            raise KeyboardInterrupt
        self.interrupted.set()

    def _checkpoint(self) -> None:
        if self.interrupted.is_set():
            raise KeyboardInterrupt

    def _execute(self) -> int:
        try:
            files = collect(self.opts.paths)
        except OSError as exc:
            self._say(f"media-triage: {exc}")
            return EXIT_USAGE
        if not files:
            self._say("media-triage: no files to upload")
            return EXIT_USAGE
        if len(files) > MAX_FILES:
            self._say(f"media-triage: {len(files)} files; a job takes at most {MAX_FILES}")
            return EXIT_USAGE
        journal = self.journal = Journal(self.opts.resume, files, self.client.base_url)
        uploader: Uploader | None = None
        try:
            self._checkpoint()
            init = self._init(files, journal)
            self.outcome.job_id = init.job_id
            self._checkpoint()
            uploader = self._start_uploads(files, init, journal)
            code = self._wait(init, uploader, journal)
        except KeyboardInterrupt:
            return self._interrupted(uploader or self._uploader)
        except (ApiError, requests.RequestException) as exc:
            if uploader is not None:
                uploader.shutdown(cancel=True)
            self._say(f"media-triage: {exc}")
            self.outcome.exit_code = EXIT_FAILED
            return EXIT_FAILED
        self.outcome.exit_code = code
        return code

    def _init(self, files: list[LocalFile], journal: Journal) -> InitResponse:
        self.outcome.timeline["init_start"] = self.clock()
        init = self.client.init(
            [f.spec() for f in files],
            model=self.opts.model,
            idempotency_key=journal.idempotency_key,
        )
        if journal.resumed and journal.job_id == init.job_id:
            self._say(
                f"resuming job {init.job_id}: {len(journal.uploaded())} file(s) and "
                f"{journal.part_count()} part(s) already uploaded"
            )
        journal.started(init.job_id)
        if self.on_init is not None:
            init = self.on_init(init)
        self.outcome.timeline["init_done"] = self.clock()
        if len(init.uploads) != len(files):
            raise ApiError(500, "bad_response", "init returned a different number of targets")
        return init

    def _start_uploads(
        self, files: list[LocalFile], init: InitResponse, journal: Journal
    ) -> Uploader:
        pairs = list(zip(files, init.uploads, strict=True))
        self.outcome.targets = [(t.file_id, f.filename, t.key) for f, t in pairs]
        self.model = ProgressModel(init.job_id, [(t.file_id, f.filename, f.size) for f, t in pairs])
        self.listener = _Listener(
            self.client,
            init.job_id,
            self.model,
            journal,
            len(files),
            {t.file_id: f.filename for f, t in pairs},
        )
        uploader = Uploader(
            self.client,
            init.job_id,
            self.listener,
            concurrency=self.opts.concurrency,
            attempts=self.opts.attempts,
            backoff=self.opts.backoff,
            cancel=self.cancel,
            bucket=self._bucket(),
        )
        done = journal.uploaded()
        todo = []
        for f, t in pairs:
            if t.file_id in done:
                self.model.upload_done(t.file_id)
            else:
                todo.append(Upload(f, t, journal.parts(t.file_id) or None))
        self.outcome.timeline["upload_start"] = self.clock()
        self._uploader = uploader
        uploader.start(todo)
        return uploader

    def _bucket(self) -> TokenBucket | None:
        rate = self.opts.max_upload_rate
        if rate is None:
            return None
        self._say(f"uploads limited to {format_rate(rate)} in all")
        return TokenBucket(rate)

    def _wait(self, init: InitResponse, uploader: Uploader, journal: Journal) -> int:
        started = self.clock()
        deadline = started + self.opts.timeout
        next_poll = started
        results = ResultsCopy(self.client, init.job_id)  # whole documents, polled as deltas
        body: dict[str, Any] | None = None
        uploads_timed = False
        next_keepalive = started + self.opts.keepalive
        while True:
            self._checkpoint()
            now = self.clock()
            if not uploads_timed and uploader.done:
                uploads_timed = True
                self.outcome.timeline["upload_done"] = self.listener.last_upload_done or now
            if not uploader.done and now >= next_keepalive:
                next_keepalive = now + self.opts.keepalive
                self.listener.keep_alive()
            if now >= next_poll:
                next_poll = now + self.opts.poll_interval
                changed = results.poll()
                if changed is not None:
                    body = changed
                    self.model.apply_results(body)
                if body is not None:
                    self.outcome.polls.append(
                        (self.clock(), str(body["status"]), int(body["processedCount"]))
                    )
                if body is not None and body.get("status") in TERMINAL_JOB:
                    self._finished = True
                    break
            if self.listener.all_failed.is_set():
                self._say("media-triage: every upload failed; cancelling the job")
                self._cancel_job(init.job_id)
                results.poll()
                body = results.body or body
                break
            self.view.update(self.model.snapshot())
            if now >= deadline:
                self._say(f"media-triage: timed out after {self.opts.timeout:.0f} s")
                break
            time.sleep(max(0.0, min(0.1, next_poll - self.clock())))
        self.outcome.timeline["done"] = self.clock()
        if not uploader.done:
            uploader.shutdown(cancel=True)
        else:
            uploader.shutdown()
        self.view.finish(self.model.snapshot())
        self.outcome.results = body
        self._collect()
        status = body.get("status") if body else None
        if status in TERMINAL_JOB:
            journal.finished()
        self._report(body)
        return EXIT_OK if status == "complete" else EXIT_FAILED

    def _collect(self) -> None:
        """What the uploads ended with, for callers that embed the run (the benchmark)."""
        self.outcome.failures = list(self.listener.failures)
        self.outcome.uploaded = dict(self.listener.done_at)

    def _report(self, body: dict[str, Any] | None) -> None:
        if self.opts.json:
            self.out.write(json.dumps(body, indent=2, sort_keys=True) + "\n")
        elif body is not None:
            if self.listener.failures:
                self.out.write(report.failed_uploads(self.listener.failures) + "\n")
            width = shutil.get_terminal_size().columns if self.out.isatty() else None
            self.out.write(report.table(body, width=width) + "\n")
        self.out.flush()
        if self.opts.contact_sheet is not None and body is not None:
            thumbs = self._thumbnails(body)
            path = contact_sheet.write(self.opts.contact_sheet, body, thumbs)
            self._say(f"contact sheet: {path} ({len(thumbs)} thumbnails)")

    def _thumbnails(self, body: dict[str, Any]) -> dict[str, bytes]:
        wanted = [
            (str(f["fileId"]), str(f["thumbnailUrl"]))
            for f in body.get("files", [])
            if f.get("thumbnailUrl")
        ]

        def fetch(item: tuple[str, str]) -> tuple[str, bytes | None]:
            try:
                return item[0], self.client.download(item[1])
            except (ApiError, requests.RequestException):
                return item[0], None

        with ThreadPoolExecutor(max(1, self.opts.concurrency)) as pool:
            return {fid: data for fid, data in pool.map(fetch, wanted) if data}

    # ------------------------------------------------------------------ Ctrl-C

    def _cancel_job(self, job_id: str) -> None:
        try:
            self.client.cancel(job_id, timeout=10)
        except (ApiError, requests.RequestException) as exc:
            self._say(f"media-triage: cancel failed: {exc}")

    def _interrupted(self, uploader: Uploader | None) -> int:
        self.cancel.set()
        if uploader is not None:
            uploader.shutdown(cancel=True)
        job_id = self.outcome.job_id
        try:
            if job_id and self._finished:
                self._say(f"\ninterrupted (job {job_id} had finished: nothing cancelled)")
            elif job_id:
                self._say(f"\ninterrupted: cancelling job {job_id}")
                self._cancel_job(job_id)
                self._say(f"job {job_id} cancelled")
                if self.journal is not None:
                    self.journal.finished()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: leave without waiting for the answer
        self.outcome.exit_code = EXIT_INTERRUPTED
        return EXIT_INTERRUPTED
