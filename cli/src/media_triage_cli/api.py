"""A typed client of the media-triage HTTP API (SPEC section 3) over one ``requests.Session``.

It knows the routes, the bearer token, the error body and which calls are safe to repeat; it
knows nothing about progress views or files on disk. Calls to the API are retried with
exponential backoff on connection errors, 429 and 5xx (every call it makes is idempotent:
init carries an ``Idempotency-Key``, PATCH sets an absolute count, presigning parts writes
nothing, complete/abort/cancel are idempotent on the server; ``/uploads`` only with a key).
Transfers to S3 (``post_object``, ``put_part``) are single attempts: the uploader decides
whether to repeat them, because it has to rebuild the body.

Bodies are the server's own pydantic models (``init_session.api_models``): a request is dumped
from them, an answer parsed into them, so a change of the contract reaches the client at once
and an answer that does not fit is a ``bad_response`` error, not a ``KeyError`` later on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ValidationError

from init_session.api.models import (
    CancelResponse,
    FileSpec,
    InitResponse,
    JobView,
    MultipartAbortResponse,
    MultipartCompleteResponse,
    MultipartPart,
    MultipartPartsResponse,
    MultipartPlan,
    ResultsResponse,
    RetryResponse,
    UploadsResponse,
    UploadTarget,
)

__all__ = [
    "FileSpec",
    "InitResponse",
    "MultipartPart",
    "MultipartPlan",
    "UploadTarget",
]

DEFAULT_TIMEOUT = 30.0
TRANSFER_TIMEOUT = 120.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiError(Exception):
    """An error answer of the API (``{"error": {"code", "message", "details"}}``) or of S3."""

    def __init__(
        self, status: int, code: str, message: str, *, request_id: str | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.status in RETRY_STATUSES


def part_span(plan: MultipartPlan, part_number: int, file_size: int) -> tuple[int, int]:
    """(offset, length) of one part of a file of ``file_size`` bytes."""
    start = (part_number - 1) * plan.part_size
    return start, min(plan.part_size, file_size - start)


def plan_fits(plan: MultipartPlan, file_size: int) -> bool:
    """Whether the plan's parts cover exactly ``file_size`` bytes."""
    last = (plan.part_count - 1) * plan.part_size
    return plan.part_count >= 1 and last < max(file_size, 1) <= last + plan.part_size


@dataclass(frozen=True, slots=True)
class PartUrls:
    """One answer of ``/multipart/parts``: presigned PUTs valid until ``expires_at``."""

    expires_at: float  # epoch seconds
    parts: tuple[MultipartPart, ...]


def _epoch(iso_time: str) -> float:
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Poll:
    """One results poll as answered: ``body`` is None when the server answered 304 (nothing
    changed); with ``body["delta"]`` true it holds only the file rows changed since the cursor
    sent as ``since`` (:class:`ResultsCopy` merges it into the whole document)."""

    etag: str | None
    body: dict[str, Any] | None


def merge_results(copy: dict[str, Any] | None, answer: dict[str, Any]) -> dict[str, Any] | None:
    """The whole results document after ``answer``, given the last one applied (``copy``).

    A full answer (``delta`` false) is the document. A delta keeps the copy's file rows,
    replaces each one whose ``fileId`` the answer carries, adds the answer's other rows and
    orders them by ``fileId`` (plain string order, as the server's sort key ``FILE#<fileId>``);
    every other field comes from the answer. None: a delta with no copy to merge into.
    """
    if not answer.get("delta"):
        return answer
    if copy is None:
        return None
    rows = {f["fileId"]: f for f in copy["files"]}
    rows.update((f["fileId"], f) for f in answer["files"])
    return {**answer, "delta": False, "files": [rows[k] for k in sorted(rows)]}


class ResultsCopy:
    """One job's results document as last seen, kept current by conditional polls that ask
    only for what changed: ``If-None-Match`` with the last ETag and ``?since=`` with the cursor
    of the last answer applied (none after an answer without one). Whoever reads ``body`` sees
    whole documents only: a delta is merged here, into exactly what a full answer would be."""

    def __init__(self, client: ApiClient, job_id: str) -> None:
        self.client = client
        self.job_id = job_id
        self.body: dict[str, Any] | None = None
        self.etag: str | None = None
        self.cursor: str | None = None

    def poll(self) -> dict[str, Any] | None:
        """One poll: the new whole document (also in ``body``), or None when nothing changed."""
        answer = self.client.results(self.job_id, self.etag, self.cursor)
        if answer.body is None:  # 304: the ETag and the cursor stay good
            self.etag = answer.etag
            return None
        doc = merge_results(self.body, answer.body)
        if doc is None:
            # A delta with nothing to merge into (a client bug): not applied, and its ETag and
            # cursor not kept (this copy has none yet: they come with a body); ask for it all.
            answer = self.client.results(self.job_id)
            doc = merge_results(None, answer.body) if answer.body is not None else None
            if doc is None:
                raise ApiError(200, "bad_response", "a results delta answered a full poll")
        self.body, self.etag, self.cursor = doc, answer.etag, doc.get("cursor")
        return doc

    def reset(self) -> None:
        """Forget the ETag and the cursor: the next poll answers the whole document."""
        self.etag = self.cursor = None


class UploadBody(Protocol):
    """A request body that streams from disk and knows its length (no chunked encoding: S3
    presigned POST and part PUT need a Content-Length)."""

    def read(self, size: int = -1) -> bytes: ...

    def __len__(self) -> int: ...


M = TypeVar("M", bound=BaseModel)


def _wire(files: Sequence[FileSpec]) -> list[dict[str, Any]]:
    return [f.model_dump(mode="json", by_alias=True, exclude_none=True) for f in files]


def _error_from(resp: requests.Response) -> ApiError:
    request_id = resp.headers.get("x-request-id")
    code, message = f"http_{resp.status_code}", resp.reason or ""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", code))
        message = str(body["error"].get("message", message))
    elif resp.text.lstrip().startswith("<"):  # S3 speaks XML
        code = _xml_tag(resp.text, "Code") or code
        message = _xml_tag(resp.text, "Message") or message
    return ApiError(resp.status_code, code, message, request_id=request_id)


def _xml_tag(text: str, tag: str) -> str | None:
    start = text.find(f"<{tag}>")
    end = text.find(f"</{tag}>")
    if start < 0 or end < start:
        return None
    return text[start + len(tag) + 2 : end]


class _Streamed:
    """Adapter so requests streams an ``UploadBody`` with its Content-Length."""

    def __init__(self, body: UploadBody) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(size)

    def __len__(self) -> int:
        return len(self._body)

    def __iter__(self) -> Any:  # requests treats objects with __iter__ as streams
        while chunk := self._body.read(64 * 1024):
            yield chunk


class ApiClient:
    """The HTTP API as the web page uses it. ``token`` is set by :meth:`init`."""

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = session or requests.Session()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.token = token
        self._sleep = sleep

    # ------------------------------------------------------------------ plumbing

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter: attempt 1 waits up to ``backoff`` s."""
        return float(random.uniform(0.5, 1.0) * self.backoff * (2 ** (attempt - 1)))

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        ok: Sequence[int] = (200, 201, 202, 204),
        timeout: float | None = None,
        retries: int | None = None,
    ) -> requests.Response:
        """One API call, repeated on connection errors, 429 and 5xx; other errors raise
        :class:`ApiError` at once."""
        attempts = 1 + (self.retries if retries is None else retries)
        for attempt in range(1, attempts + 1):
            try:
                resp = self.http.request(
                    method,
                    f"{self.base_url}{path}",
                    json=body,
                    headers=self._headers(headers),
                    timeout=timeout or self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout):
                if attempt == attempts:
                    raise
            else:
                if resp.status_code in ok:
                    return resp
                error = _error_from(resp)
                if not error.retryable or attempt == attempts:
                    raise error
            self._sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, resp: requests.Response) -> dict[str, Any]:
        data = resp.json()
        if not isinstance(data, dict):
            raise ApiError(resp.status_code, "bad_response", "expected a JSON object")
        return data

    def _parse(
        self, resp: requests.Response, model: type[M], data: dict[str, Any] | None = None
    ) -> M:
        """The answer as the server's own response model (``init_session.api_models``)."""
        try:
            return model.model_validate(self._json(resp) if data is None else data)
        except ValidationError as exc:
            raise ApiError(resp.status_code, "bad_response", str(exc)) from exc

    # ------------------------------------------------------------------ API routes

    def init(
        self,
        files: Sequence[FileSpec],
        *,
        expected: int | None = None,
        model: str | None = None,
        idempotency_key: str | None = None,
    ) -> InitResponse:
        """``POST /api/triage/init``; remembers the session token for every later call."""
        body: dict[str, Any] = {
            "expectedFileCount": expected if expected is not None else len(files),
            "files": _wire(files),
        }
        if model:
            body["model"] = model
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        # without a key a repeated init would start a second job: never repeat it then
        retries = None if idempotency_key else 0
        resp = self.request(
            "POST", "/api/triage/init", body=body, headers=headers, ok=(202,), retries=retries
        )
        result = self._parse(resp, InitResponse)
        self.token = result.session_token
        return result

    def add_uploads(
        self, job_id: str, files: Sequence[FileSpec], *, idempotency_key: str | None = None
    ) -> tuple[UploadTarget, ...]:
        """``POST /api/triage/{jobId}/uploads``: targets for more files. Repeated on an
        ambiguous failure only with an ``Idempotency-Key`` (the retry then returns the same
        files); without one a repeat would make a second set of files."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        resp = self.request(
            "POST",
            f"/api/triage/{job_id}/uploads",
            body={"files": _wire(files)},
            headers=headers,
            retries=None if idempotency_key else 0,
        )
        return tuple(self._parse(resp, UploadsResponse).uploads)

    def multipart_parts(
        self, job_id: str, file_id: str, upload_id: str, part_numbers: Sequence[int]
    ) -> PartUrls:
        """``POST /api/triage/{jobId}/multipart/parts``: presigned PUTs for some parts (at most
        100 per call), asked for shortly before they are sent."""
        body = {"fileId": file_id, "uploadId": upload_id, "partNumbers": list(part_numbers)}
        resp = self.request("POST", f"/api/triage/{job_id}/multipart/parts", body=body)
        answer = self._parse(resp, MultipartPartsResponse)
        return PartUrls(expires_at=_epoch(answer.expires_at), parts=tuple(answer.parts))

    def set_expected_count(self, job_id: str, count: int) -> JobView:
        """``PATCH /api/triage/{jobId}`` with ``{expectedFileCount}``."""
        resp = self.request("PATCH", f"/api/triage/{job_id}", body={"expectedFileCount": count})
        return self._parse(resp, JobView)

    def results(self, job_id: str, etag: str | None = None, since: str | None = None) -> Poll:
        """``GET /api/triage/{jobId}/results``, conditional on ``etag`` (304 -> body None);
        with ``since`` (the cursor of the last answer applied) the body may be a delta
        (``delta: true``, see :class:`ResultsCopy`). The body is checked against
        ``ResultsResponse`` and handed on as JSON, as answered."""
        headers = {"If-None-Match": etag} if etag else {}
        query = f"?since={quote(since, safe='')}" if since else ""
        resp = self.request(
            "GET", f"/api/triage/{job_id}/results{query}", headers=headers, ok=(200, 304)
        )
        new_etag = resp.headers.get("ETag") or etag
        if resp.status_code == 304:
            return Poll(new_etag, None)
        body = self._json(resp)
        self._parse(resp, ResultsResponse, body)
        return Poll(new_etag, body)

    def cancel(self, job_id: str, *, timeout: float | None = None) -> CancelResponse:
        """``DELETE /api/triage/{jobId}``: stop the job and delete its media."""
        resp = self.request("DELETE", f"/api/triage/{job_id}", timeout=timeout, retries=1)
        return self._parse(resp, CancelResponse)

    def retry(self, job_id: str) -> RetryResponse:
        """``POST /api/triage/{jobId}/retry`` after the job failed."""
        resp = self.request("POST", f"/api/triage/{job_id}/retry", ok=(200, 202))
        return self._parse(resp, RetryResponse)

    def complete_multipart(
        self, job_id: str, file_id: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> MultipartCompleteResponse:
        body = {
            "fileId": file_id,
            "uploadId": upload_id,
            "parts": [{"partNumber": n, "etag": etag} for n, etag in sorted(parts)],
        }
        resp = self.request("POST", f"/api/triage/{job_id}/multipart/complete", body=body)
        return self._parse(resp, MultipartCompleteResponse)

    def abort_multipart(self, job_id: str, file_id: str, upload_id: str) -> MultipartAbortResponse:
        body = {"fileId": file_id, "uploadId": upload_id}
        resp = self.request("POST", f"/api/triage/{job_id}/multipart/abort", body=body)
        return self._parse(resp, MultipartAbortResponse)

    # ------------------------------------------------------------------ S3 transfers

    def post_object(
        self, target: UploadTarget, body: UploadBody, content_type: str, *, timeout: float = 0
    ) -> None:
        """One presigned POST (``body`` is the whole multipart/form-data payload)."""
        resp = self.http.post(
            target.url or "",
            data=_Streamed(body),
            headers={"Content-Type": content_type},
            timeout=timeout or TRANSFER_TIMEOUT,
        )
        if resp.status_code not in (200, 201, 204):
            raise _error_from(resp)

    def put_part(
        self,
        url: str,
        body: UploadBody,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 0,
    ) -> str:
        """One presigned PUT; returns the ETag S3 answered (needed to complete)."""
        resp = self.http.put(
            url, data=_Streamed(body), headers=dict(headers or {}), timeout=timeout or 120
        )
        if resp.status_code not in (200, 201, 204):
            raise _error_from(resp)
        etag = resp.headers.get("ETag")
        if not etag:
            raise ApiError(resp.status_code, "no_etag", "S3 returned no ETag for the part")
        return etag

    def download(self, url: str, *, max_bytes: int = 20 * 1024 * 1024) -> bytes:
        """GET a presigned URL (thumbnails), at most ``max_bytes``."""
        resp = self.http.get(url, timeout=self.timeout, stream=True)
        try:
            if resp.status_code != 200:
                raise _error_from(resp)
            data = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                data.extend(chunk)
                if len(data) > max_bytes:
                    raise ApiError(200, "too_large", f"more than {max_bytes} bytes")
            return bytes(data)
        finally:
            resp.close()
