"""Parallel uploads to the presigned targets, the way the page does them.

A presigned POST sends the returned ``fields`` then the file last; a multipart plan PUTs every
part (in parallel, each part retried on its own, so an interrupted upload resumes at the part
that broke), collects the ETags and calls ``/multipart/complete``; on giving up it calls
``/multipart/abort``. Connection errors, timeouts, 429 and 5xx are retried with exponential
backoff; any other answer (S3 refusing the policy, an expired URL) fails the file at once.
The uploader reports to an :class:`UploadListener` and never touches the terminal.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol, TypeVar

import requests

from media_triage_cli.api import ApiClient, ApiError, PartTarget, UploadTarget
from media_triage_cli.files import Cancelled, FileSlice, FormBody, LocalFile

T = TypeVar("T")


class UploadListener(Protocol):
    def upload_started(self, file_id: str) -> None: ...

    def upload_progress(self, file_id: str, sent: int) -> None: ...

    def upload_retrying(self, file_id: str, attempt: int, reason: str) -> None: ...

    def upload_done(self, file_id: str) -> None: ...

    def upload_failed(self, file_id: str, code: str, message: str) -> None: ...

    def part_done(self, file_id: str, part_number: int, etag: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Upload:
    file: LocalFile
    target: UploadTarget
    done_parts: Mapping[int, str] | None = None  # part ETags from an earlier, interrupted run


class UploadFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _check_unchanged(up: Upload) -> None:
    """The upload target pins the size declared at init (the POST policy's content-length-range,
    the multipart plan's parts); a file that changed since would be sent truncated or refused,
    so it fails for good instead, and the job stops waiting for it."""
    try:
        now = os.stat(up.file.path).st_size
    except OSError as exc:
        raise UploadFailed("unreadable", f"cannot read the file any more: {exc}") from exc
    if now != up.file.size:
        raise UploadFailed(
            "size_changed",
            f"the file changed since the upload was planned ({up.file.size} -> {now} bytes)",
        )


def describe(exc: BaseException) -> tuple[str, str]:
    """A stable code and a message for an upload error."""
    if isinstance(exc, UploadFailed):
        return exc.code, exc.message
    if isinstance(exc, ApiError):
        return exc.code, exc.message or str(exc)
    if isinstance(exc, requests.Timeout):
        return "timeout", str(exc) or "the transfer timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection_error", str(exc)
    if isinstance(exc, OSError):
        return "read_error", str(exc)
    return "upload_error", f"{type(exc).__name__}: {exc}"


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.retryable
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


class _Counter:
    """Bytes sent for one file, over parts and retries (a retried part starts from zero)."""

    def __init__(self, file_id: str, listener: UploadListener) -> None:
        self._lock = threading.Lock()
        self._parts: dict[int, int] = {}
        self._file_id = file_id
        self._listener = listener

    def set(self, part: int, sent: int) -> None:
        with self._lock:
            self._parts[part] = sent
            total = sum(self._parts.values())
        self._listener.upload_progress(self._file_id, total)

    def reader(self, part: int) -> Callable[[int], None]:
        sent = 0
        self.set(part, 0)

        def on_read(n: int) -> None:
            nonlocal sent
            sent += n
            self.set(part, sent)

        return on_read


class Uploader:
    def __init__(
        self,
        client: ApiClient,
        job_id: str,
        listener: UploadListener,
        *,
        concurrency: int = 4,
        attempts: int = 5,
        backoff: float = 0.5,
        cancel: threading.Event | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.job_id = job_id
        self.listener = listener
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.cancel = cancel or threading.Event()
        self._sleep = sleep
        self._files = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="upload")
        self._parts = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="part")
        self._futures: list[Future[None]] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self, uploads: Sequence[Upload]) -> None:
        self._futures += [self._files.submit(self._upload, up) for up in uploads]

    @property
    def done(self) -> bool:
        return all(f.done() for f in self._futures)

    def join(self, timeout: float | None = None) -> bool:
        _, pending = wait(self._futures, timeout=timeout)
        return not pending

    def shutdown(self, *, cancel: bool = False) -> None:
        if cancel:
            self.cancel.set()
        self._files.shutdown(wait=not cancel, cancel_futures=cancel)
        self._parts.shutdown(wait=not cancel, cancel_futures=cancel)

    # ------------------------------------------------------------------ one file

    def _upload(self, up: Upload) -> None:
        fid = up.target.file_id
        if self.cancel.is_set():
            return
        self.listener.upload_started(fid)
        try:
            _check_unchanged(up)
            if up.target.multipart is not None:
                self._multipart(up)
            elif up.target.method == "PUT":
                self._single_put(up)
            else:
                self._post(up)
        except Cancelled:
            return
        except Exception as exc:
            if self.cancel.is_set():
                return
            self.listener.upload_failed(fid, *describe(exc))
            return
        self.listener.upload_done(fid)

    def _retrying(self, fid: str, action: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            if self.cancel.is_set():
                raise Cancelled("cancelled")
            try:
                return action()
            except Cancelled:
                raise
            except Exception as exc:
                if not retryable(exc) or attempt == self.attempts or self.cancel.is_set():
                    raise
                code, _ = describe(exc)
                self.listener.upload_retrying(fid, attempt, code)
                self._sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: attempt n waits 0.5-1x ``backoff * 2**(n-1)``."""
        return float(random.uniform(0.5, 1.0) * self.backoff * 2 ** (attempt - 1))

    def _post(self, up: Upload) -> None:
        counter = _Counter(up.target.file_id, self.listener)

        def send() -> None:
            file = FileSlice(
                up.file.path, 0, up.file.size, on_read=counter.reader(1), cancel=self.cancel
            )
            form = FormBody(up.target.fields, up.file.filename, up.file.content_type, file)
            try:
                self.client.post_object(up.target, form, form.content_type)
            finally:
                form.close()

        self._retrying(up.target.file_id, send)

    def _single_put(self, up: Upload) -> None:
        counter = _Counter(up.target.file_id, self.listener)

        def send() -> str:
            body = FileSlice(
                up.file.path, 0, up.file.size, on_read=counter.reader(1), cancel=self.cancel
            )
            try:
                return self.client.put_part(up.target.url, body, headers=up.target.headers)
            finally:
                body.close()

        self._retrying(up.target.file_id, send)

    def _multipart(self, up: Upload) -> None:
        plan = up.target.multipart
        assert plan is not None
        fid = up.target.file_id
        counter = _Counter(fid, self.listener)
        etags: dict[int, str] = {}
        failed = threading.Event()
        offsets, offset = {}, 0
        for part in sorted(plan.parts, key=lambda p: p.part_number):
            offsets[part.part_number] = offset
            offset += part.size or min(plan.part_size, up.file.size - offset)
        if offset != up.file.size:
            raise UploadFailed("size_changed", "the file no longer matches its multipart plan")

        def send_part(part: PartTarget) -> None:
            start = offsets[part.part_number]
            length = part.size or min(plan.part_size, up.file.size - start)

            def once() -> str:
                if failed.is_set():
                    raise Cancelled("another part failed")
                body = FileSlice(
                    up.file.path,
                    start,
                    length,
                    on_read=counter.reader(part.part_number),
                    cancel=self.cancel,
                )
                try:
                    return self.client.put_part(part.url, body, headers=up.target.headers)
                finally:
                    body.close()

            try:
                etag = self._retrying(fid, once)
            except BaseException:
                failed.set()
                raise
            etags[part.part_number] = etag
            self.listener.part_done(fid, part.part_number, etag)

        known = dict(up.done_parts or {})
        todo = []
        for part in plan.parts:
            if part.part_number in known:
                etags[part.part_number] = known[part.part_number]
                length = part.size or min(plan.part_size, up.file.size - offsets[part.part_number])
                counter.set(part.part_number, length)
            else:
                todo.append(self._parts.submit(send_part, part))
        wait(todo)
        errors = [e for f in todo if (e := f.exception()) is not None]
        real = [e for e in errors if not isinstance(e, Cancelled)]
        if errors or self.cancel.is_set():
            if self.cancel.is_set():
                raise Cancelled("cancelled")
            self._abort(up, plan.upload_id)
            raise real[0] if real else UploadFailed("upload_error", "a part failed")
        try:
            self.client.complete_multipart(self.job_id, fid, plan.upload_id, sorted(etags.items()))
        except ApiError:
            self._abort(up, plan.upload_id)
            raise

    def _abort(self, up: Upload, upload_id: str) -> None:
        # on failure S3's lifecycle rule drops the parts; the PATCH goes out all the same
        with contextlib.suppress(ApiError, requests.RequestException):
            self.client.abort_multipart(self.job_id, up.target.file_id, upload_id)
