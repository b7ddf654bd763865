"""A typed client of the media-triage HTTP API (SPEC section 3) over one ``requests.Session``.

It knows the routes, the bearer token, the error body and which calls are safe to repeat; it
knows nothing about progress views or files on disk. Calls to the API are retried with
exponential backoff on connection errors, 429 and 5xx (every call it makes is idempotent:
init carries an ``Idempotency-Key``, PATCH sets an absolute count, presigning parts writes
nothing, complete/abort/cancel are idempotent on the server; ``/uploads`` only with a key).
Transfers to S3 (``post_object``, ``put_part``) are single attempts: the uploader decides
whether to repeat them, because it has to rebuild the body.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import requests

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


@dataclass(frozen=True, slots=True)
class FileSpec:
    filename: str
    content_type: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "contentType": self.content_type, "size": self.size}


@dataclass(frozen=True, slots=True)
class PartTarget:
    part_number: int
    url: str
    size: int


@dataclass(frozen=True, slots=True)
class MultipartPlan:
    """A multipart upload's plan: no URLs (``ApiClient.multipart_parts`` presigns parts)."""

    upload_id: str
    part_size: int
    part_count: int

    def span(self, part_number: int, file_size: int) -> tuple[int, int]:
        """(offset, length) of one part of a file of ``file_size`` bytes."""
        start = (part_number - 1) * self.part_size
        return start, min(self.part_size, file_size - start)

    def fits(self, file_size: int) -> bool:
        last = (self.part_count - 1) * self.part_size
        return self.part_count >= 1 and last < max(file_size, 1) <= last + self.part_size


@dataclass(frozen=True, slots=True)
class PartUrls:
    """One answer of ``/multipart/parts``: presigned PUTs valid until ``expires_at``."""

    expires_at: float  # epoch seconds
    parts: tuple[PartTarget, ...]


def _epoch(iso_time: str) -> float:
    return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class UploadTarget:
    file_id: str
    filename: str
    key: str
    method: Literal["POST", "PUT"]
    url: str  # the presigned POST's URL; "" for a multipart plan
    expires_at: str
    fields: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    multipart: MultipartPlan | None = None  # PUT without a plan: one presigned PUT of the file

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> UploadTarget:
        method = raw["method"]
        if method not in ("POST", "PUT"):
            raise ValueError(f"unknown upload method {method!r}")
        plan: MultipartPlan | None = None
        mp = raw.get("multipart")
        if mp:
            plan = MultipartPlan(
                upload_id=str(mp["uploadId"]),
                part_size=int(mp["partSize"]),
                part_count=int(mp["partCount"]),
            )
        return cls(
            file_id=str(raw["fileId"]),
            filename=str(raw["filename"]),
            key=str(raw["key"]),
            method=method,
            url=str(raw.get("url") or ""),
            expires_at=str(raw.get("expiresAt", "")),
            fields=dict(raw.get("fields") or {}),
            headers=dict(raw.get("headers") or {}),
            multipart=plan,
        )


@dataclass(frozen=True, slots=True)
class InitResult:
    session_id: str
    job_id: str
    session_token: str
    expires_at: str
    uploads: tuple[UploadTarget, ...]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> InitResult:
        return cls(
            session_id=str(raw["sessionId"]),
            job_id=str(raw["jobId"]),
            session_token=str(raw["sessionToken"]),
            expires_at=str(raw.get("expiresAt", "")),
            uploads=tuple(UploadTarget.from_json(u) for u in raw.get("uploads", [])),
        )


@dataclass(frozen=True, slots=True)
class Poll:
    """One results poll: ``body`` is None when the server answered 304 (nothing changed)."""

    etag: str | None
    body: dict[str, Any] | None


class UploadBody(Protocol):
    """A request body that streams from disk and knows its length (no chunked encoding: S3
    presigned POST and part PUT need a Content-Length)."""

    def read(self, size: int = -1) -> bytes: ...

    def __len__(self) -> int: ...


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

    # ------------------------------------------------------------------ API routes

    def init(
        self,
        files: Sequence[FileSpec],
        *,
        expected: int | None = None,
        model: str | None = None,
        idempotency_key: str | None = None,
    ) -> InitResult:
        """``POST /api/triage/init``; remembers the session token for every later call."""
        body: dict[str, Any] = {
            "expectedFileCount": expected if expected is not None else len(files),
            "files": [f.to_json() for f in files],
        }
        if model:
            body["model"] = model
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        # without a key a repeated init would start a second job: never repeat it then
        retries = None if idempotency_key else 0
        resp = self.request(
            "POST", "/api/triage/init", body=body, headers=headers, ok=(202,), retries=retries
        )
        result = InitResult.from_json(self._json(resp))
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
            body={"files": [f.to_json() for f in files]},
            headers=headers,
            retries=None if idempotency_key else 0,
        )
        return tuple(UploadTarget.from_json(u) for u in self._json(resp)["uploads"])

    def multipart_parts(
        self, job_id: str, file_id: str, upload_id: str, part_numbers: Sequence[int]
    ) -> PartUrls:
        """``POST /api/triage/{jobId}/multipart/parts``: presigned PUTs for some parts (at most
        100 per call), asked for shortly before they are sent."""
        body = {"fileId": file_id, "uploadId": upload_id, "partNumbers": list(part_numbers)}
        data = self._json(self.request("POST", f"/api/triage/{job_id}/multipart/parts", body=body))
        return PartUrls(
            expires_at=_epoch(str(data["expiresAt"])),
            parts=tuple(
                PartTarget(int(p["partNumber"]), str(p["url"]), int(p["size"]))
                for p in data["parts"]
            ),
        )

    def set_expected_count(self, job_id: str, count: int) -> dict[str, Any]:
        """``PATCH /api/triage/{jobId}`` with ``{expectedFileCount}``."""
        resp = self.request("PATCH", f"/api/triage/{job_id}", body={"expectedFileCount": count})
        return self._json(resp)

    def results(self, job_id: str, etag: str | None = None) -> Poll:
        """``GET /api/triage/{jobId}/results``, conditional on ``etag`` (304 -> body None)."""
        headers = {"If-None-Match": etag} if etag else {}
        resp = self.request("GET", f"/api/triage/{job_id}/results", headers=headers, ok=(200, 304))
        new_etag = resp.headers.get("ETag") or etag
        if resp.status_code == 304:
            return Poll(new_etag, None)
        return Poll(new_etag, self._json(resp))

    def cancel(self, job_id: str, *, timeout: float | None = None) -> dict[str, Any]:
        """``DELETE /api/triage/{jobId}``: stop the job and delete its media."""
        resp = self.request("DELETE", f"/api/triage/{job_id}", timeout=timeout, retries=1)
        return self._json(resp)

    def retry(self, job_id: str) -> dict[str, Any]:
        """``POST /api/triage/{jobId}/retry`` after the job failed."""
        return self._json(self.request("POST", f"/api/triage/{job_id}/retry", ok=(200, 202)))

    def complete_multipart(
        self, job_id: str, file_id: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> dict[str, Any]:
        body = {
            "fileId": file_id,
            "uploadId": upload_id,
            "parts": [{"partNumber": n, "etag": etag} for n, etag in sorted(parts)],
        }
        resp = self.request("POST", f"/api/triage/{job_id}/multipart/complete", body=body)
        return self._json(resp)

    def abort_multipart(self, job_id: str, file_id: str, upload_id: str) -> dict[str, Any]:
        body = {"fileId": file_id, "uploadId": upload_id}
        resp = self.request("POST", f"/api/triage/{job_id}/multipart/abort", body=body)
        return self._json(resp)

    # ------------------------------------------------------------------ S3 transfers

    def post_object(
        self, target: UploadTarget, body: UploadBody, content_type: str, *, timeout: float = 0
    ) -> None:
        """One presigned POST (``body`` is the whole multipart/form-data payload)."""
        resp = self.http.post(
            target.url,
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
