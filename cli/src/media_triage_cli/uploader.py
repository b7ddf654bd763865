"""Parallel uploads to the presigned targets, the way the page does them.

A presigned POST sends the returned ``fields`` then the file last; a multipart plan PUTs every
part (in parallel, each part retried on its own, so an interrupted upload resumes at the part
that broke), collects the ETags and calls ``/multipart/complete``; on giving up it calls
``/multipart/abort``. Part URLs are not in the plan: they are asked for in batches shortly
before use (``/multipart/parts``, :class:`PartUrlCache`), and again when they expired (a part
S3 refuses with 403 gets one fresh URL). Connection errors, timeouts, 429 and 5xx are retried
with exponential backoff; any other answer (S3 refusing the policy) fails the file at once.
With ``--max-upload-rate`` every body is paced by one shared :class:`TokenBucket` as it is
sent (:mod:`media_triage_cli.ratelimit`).
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

from media_triage_cli.api import (
    ApiClient,
    ApiError,
    MultipartPlan,
    UploadTarget,
    part_span,
    plan_fits,
)
from media_triage_cli.files import Cancelled, FileSlice, FormBody, LocalFile
from media_triage_cli.ratelimit import Body, PacedBody, TokenBucket

T = TypeVar("T")

# Part URLs asked for at once: the part wanted plus the next ones not sent yet, a few rounds of
# the parts in flight (4); the API presigns at most 100 per call.
PART_URL_BATCH = 12
# A cached part URL this close to its expiry is asked for again before use.
PART_URL_MARGIN = 120.0


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
        bucket: TokenBucket | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket  # --max-upload-rate: one budget for every body sent
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

    def _paced(self, body: Body) -> Body:
        return body if self.bucket is None else PacedBody(body, self.bucket)

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: attempt n waits 0.5-1x ``backoff * 2**(n-1)``."""
        return float(random.uniform(0.5, 1.0) * self.backoff * 2 ** (attempt - 1))

    def _post(self, up: Upload) -> None:
        counter = _Counter(up.target.file_id, self.listener)

        def send() -> None:
            file = FileSlice(
                up.file.path, 0, up.file.size, on_read=counter.reader(1), cancel=self.cancel
            )
            form = FormBody(up.target.fields or {}, up.file.filename, up.file.content_type, file)
            try:
                self.client.post_object(up.target, self._paced(form), form.content_type)
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
                return self.client.put_part(
                    up.target.url or "", self._paced(body), headers=up.target.headers
                )
            finally:
                body.close()

        self._retrying(up.target.file_id, send)

    def _multipart(self, up: Upload) -> None:
        plan = up.target.multipart
        assert plan is not None
        fid = up.target.file_id
        if not plan_fits(plan, up.file.size):
            raise UploadFailed("size_changed", "the file no longer matches its multipart plan")
        counter = _Counter(fid, self.listener)
        etags: dict[int, str] = {}
        failed = threading.Event()
        known = dict(up.done_parts or {})
        numbers = range(1, plan.part_count + 1)
        todo_numbers = [n for n in numbers if n not in known]
        urls = PartUrlCache(self.client, self.job_id, fid, plan, todo_numbers)

        def send_part(number: int) -> None:
            try:
                etag = self._retrying(
                    fid, lambda: self._put_part(up, plan, number, urls, counter, failed)
                )
            except BaseException:
                failed.set()
                raise
            etags[number] = etag
            urls.sent(number)
            self.listener.part_done(fid, number, etag)

        todo = []
        for number in numbers:
            if number in known:
                etags[number] = known[number]
                counter.set(number, part_span(plan, number, up.file.size)[1])
            else:
                todo.append(self._parts.submit(send_part, number))
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

    def _put_part(
        self,
        up: Upload,
        plan: MultipartPlan,
        number: int,
        urls: PartUrlCache,
        counter: _Counter,
        failed: threading.Event,
    ) -> str:
        """One attempt at one part; an expired URL (S3: 403 "Request has expired") is asked
        for again once."""
        if failed.is_set():
            raise Cancelled("another part failed")
        start, length = part_span(plan, number, up.file.size)

        def put(url: str) -> str:
            body = FileSlice(
                up.file.path, start, length, on_read=counter.reader(number), cancel=self.cancel
            )
            try:
                return self.client.put_part(url, self._paced(body), headers=up.target.headers)
            finally:
                body.close()

        try:
            return put(urls.get(number))
        except ApiError as exc:
            if exc.status != 403:
                raise
            urls.expire(number)
            return put(urls.get(number))

    def _abort(self, up: Upload, upload_id: str) -> None:
        # on failure S3's lifecycle rule drops the parts; the PATCH goes out all the same
        with contextlib.suppress(ApiError, requests.RequestException):
            self.client.abort_multipart(self.job_id, up.target.file_id, upload_id)


class PartUrlCache:
    """Presigned part URLs of one multipart upload, asked for on demand: the part wanted and
    the next ones not sent yet, ``batch`` at a time, shortly before they are sent. A URL
    within ``margin`` seconds of its expiry is asked for again (a resumed upload an hour
    later gets fresh ones); :meth:`expire` drops one S3 refused. One call at a time per file:
    parts that want a URL meanwhile wait for it and usually find theirs in its answer."""

    def __init__(
        self,
        client: ApiClient,
        job_id: str,
        file_id: str,
        plan: MultipartPlan,
        todo: Sequence[int],
        *,
        batch: int = PART_URL_BATCH,
        margin: float = PART_URL_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._job_id = job_id
        self._file_id = file_id
        self._plan = plan
        self._todo = list(todo)  # in sending order
        self._unsent = set(todo)
        self._batch = max(1, min(batch, 100))
        self._margin = margin
        self._clock = clock
        self._urls: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _fresh(self, number: int) -> bool:
        cached = self._urls.get(number)
        return cached is not None and cached[1] - self._clock() > self._margin

    def get(self, number: int) -> str:
        with self._lock:
            if self._fresh(number):
                return self._urls[number][0]
            later = self._todo[self._todo.index(number) + 1 :] if number in self._todo else []
            ahead = [n for n in later if n in self._unsent and not self._fresh(n)]
            wanted = [number, *ahead[: self._batch - 1]]
            answer = self._client.multipart_parts(
                self._job_id, self._file_id, self._plan.upload_id, wanted
            )
            for part in answer.parts:
                self._urls[part.part_number] = (part.url, answer.expires_at)
            if number not in self._urls:
                raise ApiError(200, "bad_response", f"no URL for part {number} in the answer")
            return self._urls[number][0]  # fresh from the API: used even if its expiry is near

    def expire(self, number: int) -> None:
        """S3 refused this part's URL: drop it and every URL of the same answer (they expire
        together; a clock that differs from S3's makes them all stale at once)."""
        with self._lock:
            dropped = self._urls.pop(number, None)
            if dropped is not None:
                self._urls = {n: u for n, u in self._urls.items() if u[1] != dropped[1]}

    def sent(self, number: int) -> None:
        with self._lock:
            self._unsent.discard(number)
            self._urls.pop(number, None)
