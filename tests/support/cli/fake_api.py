"""A small fake of the media-triage HTTP API and of S3's presigned endpoints, on 127.0.0.1 in
a thread (stdlib ``http.server``), speaking the SPEC section 3 contract: init (with
Idempotency-Key replay), presigned POST (policy fields checked, file last, exact size),
multipart plans without URLs (part URLs from ``/multipart/parts``, expiring after ``url_ttl``
seconds: an expired one is S3's 403; part PUTs with ETags, complete, abort), PATCH
expectedFileCount, results with ETag / If-None-Match and deltas (``?since=<cursor>``: only the
rows changed since the answer that gave the cursor, while the job is pending or processing),
DELETE, thumbnails. Faults are injected per filename.

Processing is simulated on results polls: an uploaded file becomes final one poll later
(``corrupt`` in the name -> invalid/corrupt, ``copy`` -> duplicate of the first file, else
valid); once processedCount >= expectedFileCount the job is analyzing for one poll, then
complete with verdicts (``dark`` in the name -> discard).

Every API request the fake takes and every answer it gives is checked against the server's
contract (``fake_contract``): a mismatch is recorded and fails the test when ``serve`` ends.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from init_session.api.routing import Route
from support.cli.fake_contract import check_answer, check_request, route_of

TOKEN_PREFIX = "tok-"


@dataclass
class FakeFile:
    file_id: str
    filename: str
    size: int
    content_type: str
    key: str
    multipart: bool
    upload_id: str | None = None
    status: str = "uploading"
    data: bytes | None = None
    parts: dict[int, bytes] = field(default_factory=dict)
    polls_since_upload: int = 0
    error: dict[str, str] | None = None
    duplicate_of: str | None = None


@dataclass
class FakeJob:
    job_id: str
    session_id: str
    token: str
    expected: int
    files: dict[str, FakeFile]
    status: str = "pending"
    phase: str = "waiting_for_files"
    analyzing_polls: int = 0
    model: str | None = None
    # the rows each cursor's answer showed ({fileId: row}), and the last cursor given out
    cursors: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    last_cursor: str | None = None


@dataclass
class Faults:
    post_500: dict[str, int] = field(default_factory=dict)  # filename -> 500s before success
    post_403: set[str] = field(default_factory=set)  # filename -> refused for good
    part_500: dict[tuple[str, int], int] = field(default_factory=dict)  # (name, part) -> 500s
    part_hang: set[tuple[str, int]] = field(default_factory=set)  # never answers
    results_500: int = 0  # results answers that fail first
    never_complete: bool = False
    fail_job: bool = False
    full_answers: bool = False  # answer the whole list even to a good ?since= (as the server may)
    stray_deltas: int = 0  # answers that are deltas (no rows) to a poll without ?since= (a bug)


class State:
    def __init__(self, multipart_threshold: int = 1 << 30, part_size: int = 1024) -> None:
        self.lock = threading.RLock()
        self.jobs: dict[str, FakeJob] = {}
        self.idempotency: dict[str, str] = {}
        self.faults = Faults()
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.url_ttl = 3600.0  # seconds a presigned part URL works
        self.clock = time.time
        self.parts_requests: list[list[int]] = []  # partNumbers of every /multipart/parts call
        self.expired_puts = 0
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.init_headers: list[dict[str, str]] = []
        self.init_bodies: list[dict[str, Any]] = []
        self.post_forms: list[list[tuple[str, str]]] = []  # field names/values, file last
        self.post_attempts: dict[str, int] = {}
        self.part_attempts: dict[tuple[str, int], int] = {}
        self.patches: list[int] = []
        self.completes: list[dict[str, Any]] = []
        self.aborts: list[dict[str, Any]] = []
        self.deletes: list[str] = []
        self.results_200 = 0
        self.results_304 = 0
        self.if_none_match: list[str | None] = []
        self.since: list[str | None] = []  # ?since= of every results request
        self.results_deltas = 0  # 200 answers with delta: true
        self.base = ""
        self.release = threading.Event()  # lets hung requests go
        self.contract_violations: list[str] = []  # what the real API would not do
        # (monotonic time, bytes) of every chunk of an upload body as it arrived
        self.arrivals: list[tuple[float, int]] = []

    def only_job(self) -> FakeJob:
        (job,) = self.jobs.values()
        return job

    def file_by_name(self, name: str) -> FakeFile:
        for job in self.jobs.values():
            for f in job.files.values():
                if f.filename == name:
                    return f
        raise KeyError(name)


def _thumb(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (160, 120), colour).save(buf, "JPEG")
    return buf.getvalue()


def _processed(job: FakeJob) -> int:
    return sum(f.status in {"valid", "invalid", "duplicate"} for f in job.files.values())


def _job_view(job: FakeJob) -> dict[str, Any]:
    """The JobView body (PATCH, and the start of DELETE's)."""
    return {
        "jobId": job.job_id,
        "sessionId": job.session_id,
        "status": job.status,
        "phase": job.phase,
        "expectedFileCount": job.expected,
        "processedCount": _processed(job),
    }


def _results_body(state: State, job: FakeJob) -> dict[str, Any]:
    files = []
    for f in sorted(job.files.values(), key=lambda f: f.file_id):  # the server's row order
        entry: dict[str, Any] = {"fileId": f.file_id, "filename": f.filename, "status": f.status}
        if f.status == "valid":
            entry.update(mediaType="photo", width=160, height=120)
            entry["thumbnailUrl"] = f"{state.base}/thumb/{f.file_id}?sig=x"
        if f.status == "duplicate":
            entry["duplicateOf"] = f.duplicate_of
            entry["thumbnailUrl"] = f"{state.base}/thumb/{f.file_id}?sig=x"
        if f.error:
            entry["error"] = f.error
        if f.status == "uploading" and job.status not in {"pending", "processing"}:
            entry["status"] = "invalid"
            entry["error"] = {"code": "not_uploaded", "message": "the file never arrived"}
        files.append(entry)
    body: dict[str, Any] = {**_job_view(job), "files": files}
    if job.status == "complete":
        keep: list[dict[str, Any]] = []
        discard: list[dict[str, Any]] = []
        for f in job.files.values():
            if f.status != "valid":
                continue
            dark = "dark" in f.filename
            verdict = {
                "fileId": f.file_id,
                "filename": f.filename,
                "verdict": "discard" if dark else "keep",
                "reason": "too dark" if dark else "sharp and well exposed",
                "score": 12 if dark else 88,
                "issues": ["dark"] if dark else [],
            }
            (discard if dark else keep).append(verdict)
        body["verdicts"] = {"keep": keep, "discard": discard}
    if job.status == "failed":
        body["error"] = "analyzer exploded"
    return body


def _advance(state: State, job: FakeJob) -> None:
    """One poll's worth of pipeline progress."""
    if job.status in {"complete", "failed", "cancelled"}:
        return
    original = next(
        (f.file_id for f in job.files.values() if not re.search("copy|corrupt", f.filename)),
        None,
    )
    for f in job.files.values():
        if f.status == "processing":
            f.polls_since_upload += 1
            if f.polls_since_upload >= 1:
                if "corrupt" in f.filename:
                    f.status = "invalid"
                    f.error = {"code": "corrupt", "message": "cannot decode the image"}
                elif "copy" in f.filename and original:
                    f.status, f.duplicate_of = "duplicate", original
                else:
                    f.status = "valid"
    processed = _processed(job)
    if any(f.status != "uploading" for f in job.files.values()) and job.status == "pending":
        job.status, job.phase = "processing", "processing_files"
    if processed >= job.expected and job.status == "processing" and not state.faults.never_complete:
        job.status, job.phase = "analyzing", "analyzing"
    elif job.status == "analyzing":
        if state.faults.fail_job:
            job.status, job.phase = "failed", "failed"
        else:
            job.status, job.phase = "complete", "done"


class Handler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"
    api_route: Route | None = None  # the real API's route of the request being answered

    def log_message(self, format: str, *args: Any) -> None:
        return None

    # ------------------------------------------------------------------ helpers

    @property
    def state(self) -> State:
        return self.server.state

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upload_body(self) -> bytes:
        """An upload body read as it arrives, each chunk's arrival recorded (the rate limit's
        tests measure the achieved rate from them)."""
        left = int(self.headers.get("Content-Length") or 0)
        data = bytearray()
        while left > 0:
            chunk = self.rfile.read1(min(left, 16 * 1024))
            if not chunk:
                break
            with self.state.lock:
                self.state.arrivals.append((time.monotonic(), len(chunk)))
            data += chunk
            left -= len(chunk)
        return bytes(data)

    def _violation(self, problem: str | None) -> None:
        if problem:
            with self.state.lock:
                self.state.contract_violations.append(problem)

    def _match_route(self, path: str) -> None:
        self.api_route = route_of(self.command, path)
        if self.api_route is None and path.startswith("/api/"):
            self._violation(f"{self.command} {path} is not a route of the API")

    def _request(self) -> Any:
        """The JSON body of an API request, checked against the route's request model."""
        raw = self._body()
        if self.api_route is not None:
            self._violation(check_request(self.api_route, raw))
        return json.loads(raw)

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        if self.api_route is not None:
            self._violation(check_answer(self.api_route, status, body))
        raw = (
            b""
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-request-id", uuid.uuid4().hex)
        if body is not None and not isinstance(body, bytes):
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if raw and self.command != "HEAD":
            self.wfile.write(raw)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, {"error": {"code": code, "message": message, "details": []}})

    def _s3_error(self, status: int, code: str, message: str) -> None:
        xml = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        self._send(status, xml.encode(), {"Content-Type": "application/xml"})

    def _job(self, job_id: str) -> FakeJob | None:
        job = self.state.jobs.get(job_id)
        if job is None:
            self._error(404, "not_found", "job not found")
            return None
        if self.headers.get("Authorization") != f"Bearer {job.token}":
            self._error(403, "forbidden", "wrong token")
            return None
        return job

    def _route(self) -> None:  # noqa: PLR0911 - a route table
        url = urlsplit(self.path)
        with self.state.lock:
            self.state.log.append((self.command, url.path))
        self._match_route(url.path)
        parts = url.path.strip("/").split("/")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        method = self.command
        if url.path == "/api/triage/init" and method == "POST":
            return self._init()
        if url.path == "/s3/upload" and method == "POST":
            return self._post_object()
        if url.path == "/s3/part" and method == "PUT":
            return self._put_part(query)
        if parts[0] == "thumb" and method == "GET":
            return self._send(200, _thumb((200, 120, 40)), {"Content-Type": "image/jpeg"})
        m = re.fullmatch(r"/api/triage/(\w+)(/.*)?", url.path)
        if not m:
            return self._error(404, "not_found", url.path)
        job = self._job(m.group(1))
        if job is None:
            return None
        rest = m.group(2) or ""
        if rest == "/results" and method == "GET":
            return self._results(job, query.get("since"))
        if rest == "" and method == "PATCH":
            return self._patch(job)
        if rest == "" and method == "DELETE":
            return self._delete(job)
        if rest == "/multipart/parts" and method == "POST":
            return self._parts(job)
        if rest == "/multipart/complete" and method == "POST":
            return self._complete(job)
        if rest == "/multipart/abort" and method == "POST":
            return self._abort(job)
        return self._error(404, "not_found", url.path)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _route

    # ------------------------------------------------------------------ API

    def _targets(self, job: FakeJob) -> list[dict[str, Any]]:
        out = []
        for f in job.files.values():
            target: dict[str, Any] = {
                "fileId": f.file_id,
                "filename": f.filename,
                "key": f.key,
                "expiresAt": "2026-11-28T13:00:00Z",
            }
            if f.multipart:
                target.update(
                    method="PUT",
                    multipart={
                        "uploadId": f.upload_id,
                        "partSize": self.state.part_size,
                        "partCount": self._part_count(f),
                    },
                )
            else:
                target.update(
                    method="POST",
                    url=f"{self.state.base}/s3/upload",
                    fields={
                        "key": f.key,
                        "Content-Type": f.content_type,
                        "policy": "eyJmYWtlIjp0cnVlfQ==",
                        "x-amz-signature": hashlib.sha256(f.key.encode()).hexdigest(),
                    },
                )
            out.append(target)
        return out

    def _part_count(self, f: FakeFile) -> int:
        return max(1, -(-f.size // self.state.part_size))

    def _parts(self, job: FakeJob) -> None:
        body = self._request()
        with self.state.lock:
            numbers = body["partNumbers"]
            self.state.parts_requests.append(list(numbers))
            f = job.files.get(body["fileId"])
            if f is None or not f.multipart:
                return self._error(404, "not_found", "no multipart upload for this file")
            if body["uploadId"] != f.upload_id:
                return self._error(409, "upload_id_mismatch", "wrong upload")
            count, size = self._part_count(f), self.state.part_size
            if not 1 <= len(numbers) <= 100 or any(not 1 <= n <= count for n in numbers):
                return self._error(400, "invalid_request", f"parts are 1..{count}, 100 at most")
            expires = self.state.clock() + self.state.url_ttl
            parts = [
                {
                    "partNumber": n,
                    "url": f"{self.state.base}/s3/part?uploadId={f.upload_id}&partNumber={n}"
                    f"&expires={expires}",
                    "size": min(size, f.size - (n - 1) * size),
                }
                for n in numbers
            ]
        stamp = datetime.fromtimestamp(expires, tz=UTC).isoformat().replace("+00:00", "Z")
        self._send(
            200,
            {"fileId": f.file_id, "uploadId": f.upload_id, "expiresAt": stamp, "parts": parts},
        )

    def _init(self) -> None:
        body = self._request()
        key = self.headers.get("Idempotency-Key")
        with self.state.lock:
            self.state.init_headers.append(dict(self.headers.items()))
            self.state.init_bodies.append(body)
            if key and key in self.state.idempotency:
                job = self.state.jobs[self.state.idempotency[key]]
            else:
                job_id, session_id = uuid.uuid4().hex, uuid.uuid4().hex
                files = {}
                for spec in body.get("files", []):
                    fid = uuid.uuid4().hex
                    multipart = spec["size"] > self.state.multipart_threshold
                    files[fid] = FakeFile(
                        file_id=fid,
                        filename=spec["filename"],
                        size=spec["size"],
                        content_type=spec.get("contentType") or "application/octet-stream",
                        key=f"uploads/{session_id}/{job_id}/{fid}/{spec['filename']}",
                        multipart=multipart,
                        upload_id=f"mpu-{fid}" if multipart else None,
                    )
                job = FakeJob(
                    job_id=job_id,
                    session_id=session_id,
                    token=TOKEN_PREFIX + uuid.uuid4().hex,
                    expected=body["expectedFileCount"],
                    files=files,
                    model=body.get("model"),
                )
                self.state.jobs[job_id] = job
                if key:
                    self.state.idempotency[key] = job_id
            reply = {
                "sessionId": job.session_id,
                "jobId": job.job_id,
                "sessionToken": job.token,
                "expiresAt": "2026-11-29T12:00:00Z",
                "uploads": self._targets(job),
            }
        self._send(202, reply)

    def _results(self, job: FakeJob, since: str | None) -> None:
        with self.state.lock:
            self.state.since.append(since)
            if since is not None and since != job.last_cursor:
                self._violation(f"?since={since} is not the cursor of the last answer")
            if self.state.faults.results_500:
                self.state.faults.results_500 -= 1
                return self._error(500, "internal_error", "boom")
            _advance(self.state, job)
            body = _results_body(self.state, job)
            etag = (
                'W/"'
                + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
                + '"'
            )
            inm = self.headers.get("If-None-Match")
            self.state.if_none_match.append(inm)
            if inm == etag:  # a 304 keeps the client's ETag and cursor
                self.state.results_304 += 1
                return self._send(304, None, {"ETag": etag})
            self.state.results_200 += 1
            body = self._delta(job, body, since)
        self._send(200, body, {"ETag": etag})

    def _delta(self, job: FakeJob, body: dict[str, Any], since: str | None) -> dict[str, Any]:
        """The 200 answer: a cursor while the job is live; only the rows changed since the
        cursor's answer when ``since`` names one (and the job is live)."""
        rows = {f["fileId"]: f for f in body.get("files", [])}
        seen = job.cursors.get(since or "")
        body["delta"] = False
        if self.state.faults.stray_deltas and since is None:
            self.state.faults.stray_deltas -= 1
            body.update(delta=True, files=[])
        live = job.status in {"pending", "processing"}
        if live and seen is not None and not self.state.faults.full_answers:
            body.update(delta=True, files=[r for k, r in rows.items() if seen.get(k) != r])
        if body["delta"]:
            self.state.results_deltas += 1
        job.last_cursor = None
        if live:
            job.last_cursor = body["cursor"] = f"{int(time.time() * 1000)}.{len(job.cursors):06d}"
            job.cursors[job.last_cursor] = rows
        return body

    def _patch(self, job: FakeJob) -> None:
        body = self._request()
        with self.state.lock:
            if job.status not in {"pending", "processing"}:
                return self._error(409, "job_not_active", job.status)
            job.expected = body["expectedFileCount"]
            self.state.patches.append(job.expected)
            # a file that will not come leaves the job's wait
        self._send(200, _job_view(job))

    def _delete(self, job: FakeJob) -> None:
        with self.state.lock:
            job.status, job.phase = "cancelled", "cancelled"
            self.state.deletes.append(job.job_id)
        files = job.files.values()
        self._send(
            200,
            {
                **_job_view(job),
                "deletedObjects": sum(f.data is not None for f in files),
                "abortedUploads": sum(f.multipart and f.data is None for f in files),
            },
        )

    def _complete(self, job: FakeJob) -> None:
        body = self._request()
        with self.state.lock:
            self.state.completes.append(body)
            f = job.files[body["fileId"]]
            if body["uploadId"] != f.upload_id:
                return self._error(409, "upload_id_mismatch", "wrong upload")
            numbers = [p["partNumber"] for p in body["parts"]]
            if numbers != sorted(f.parts):
                return self._error(400, "invalid_request", f"parts {numbers} vs {sorted(f.parts)}")
            for p in body["parts"]:
                want = '"' + hashlib.md5(f.parts[p["partNumber"]]).hexdigest() + '"'  # noqa: S324
                if p["etag"] != want:
                    return self._error(400, "invalid_request", "InvalidPart")
            f.data = b"".join(f.parts[n] for n in sorted(f.parts))
            f.status = "processing"
        self._send(200, {"fileId": f.file_id, "key": f.key})

    def _abort(self, job: FakeJob) -> None:
        body = self._request()
        with self.state.lock:
            self.state.aborts.append(body)
            job.files.pop(body["fileId"], None)
        self._send(200, {"fileId": body["fileId"], "aborted": True})

    # ------------------------------------------------------------------ S3

    def _post_object(self) -> None:
        raw = self._upload_body()
        ctype = self.headers.get("Content-Type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
        )
        form: list[tuple[str, str]] = []
        values: dict[str, str] = {}
        data = b""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            raw_payload = part.get_payload(decode=True)
            payload = raw_payload if isinstance(raw_payload, bytes) else b""
            if name == "file":
                data = payload
                form.append(("file", str(part.get_filename())))
            else:
                values[str(name)] = payload.decode()
                form.append((str(name), payload.decode()))
        with self.state.lock:
            self.state.post_forms.append(form)
            f = next(
                (
                    x
                    for job in self.state.jobs.values()
                    for x in job.files.values()
                    if x.key == values.get("key")
                ),
                None,
            )
            if f is None or form[-1][0] != "file":
                return self._s3_error(400, "InvalidArgument", "key or file field missing")
            self.state.post_attempts[f.filename] = self.state.post_attempts.get(f.filename, 0) + 1
            if f.filename in self.state.faults.post_403:
                return self._s3_error(403, "AccessDenied", "Invalid according to Policy")
            left = self.state.faults.post_500.get(f.filename, 0)
            if left:
                self.state.faults.post_500[f.filename] = left - 1
                return self._s3_error(500, "InternalError", "try again")
            if len(data) != f.size:
                return self._s3_error(400, "EntityTooLarge", "content-length-range")
            if values.get("Content-Type") != f.content_type:
                return self._s3_error(403, "AccessDenied", "content type")
            f.data = data
            f.status = "processing"
        self._send(204)

    def _put_part(self, query: dict[str, str]) -> None:
        upload_id, number = query["uploadId"], int(query["partNumber"])
        with self.state.lock:
            f = next(
                x
                for job in self.state.jobs.values()
                for x in job.files.values()
                if x.upload_id == upload_id
            )
            if float(query.get("expires", "0")) <= self.state.clock():
                self.state.expired_puts += 1
                return self._s3_error(403, "AccessDenied", "Request has expired")
            key = (f.filename, number)
            self.state.part_attempts[key] = self.state.part_attempts.get(key, 0) + 1
            hang = key in self.state.faults.part_hang
        if hang:
            self.state.release.wait(30)
            self.close_connection = True
            return None
        data = self._upload_body()
        with self.state.lock:
            left = self.state.faults.part_500.get(key, 0)
            if left:
                self.state.faults.part_500[key] = left - 1
                return self._s3_error(500, "InternalError", "try again")
            f.parts[number] = data
        self._send(200, b"", {"ETag": '"' + hashlib.md5(data).hexdigest() + '"'})  # noqa: S324


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: State) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state
        state.base = f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def serve(state: State | None = None) -> Iterator[State]:
    state = state or State()
    server = FakeServer(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert not state.contract_violations, state.contract_violations
