"""In-memory harness for the HTTP API: the shared fakes plus fakes of the API's own ports, and
a client that builds API Gateway payload 2.0 events and runs them through ``http.dispatch``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from init_session import uploads
from init_session.api import http
from init_session.ports import IdempotencyRecord
from init_session.services import ApiConfig, Services
from init_session.tokens import TokenSecrets
from media_triage_shared import keys
from media_triage_shared.errors import InvalidRequest, NotFound
from media_triage_shared.models import (
    FileRow,
    FileStatus,
    JobPhase,
    JobStatus,
    MediaType,
    VerdictKind,
    iso,
)
from support.fakes import FakeExecutions, FakeFileRepository, FakeJobRepository, FakeObjectStore

MIB = 1024 * 1024
T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
BUCKET = "media-triage-test-media"
# Fake server secrets (ADR 0014): deployed stacks read theirs from SSM.
SECRET = b"unit-test-token-secret-0123456789abcdef"
OTHER_SECRET = b"unit-test-token-secret-fedcba9876543210"
SECRETS = TokenSecrets(current=SECRET)


@dataclass
class FakeUploads:
    store: FakeObjectStore
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    counter: int = 0
    # Part sizes S3 holds per uploadId; an upload not listed here holds exactly what its plan
    # asked for (``planned``, set by ``Api``): a client that uploaded every part as told.
    part_sizes: dict[str, dict[int, int]] = field(default_factory=dict)
    planned: Any = None

    def presign_post(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        policy = {
            "expiresIn": expires_in,
            "conditions": [
                {"bucket": BUCKET},
                {"key": key},
                {"Content-Type": content_type},
                ["content-length-range", size, size],
            ],
        }
        fields = {
            "key": key,
            "Content-Type": content_type,
            "policy": base64.b64encode(json.dumps(policy).encode()).decode(),
        }
        return f"https://{BUCKET}.s3.fake", fields

    def create_multipart(self, key: str, content_type: str) -> str:
        self.counter += 1
        upload_id = f"mpu-{self.counter}"
        self.uploads[upload_id] = {"key": key, "content_type": content_type}
        return upload_id

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        return f"https://{BUCKET}.s3.fake/{key}?uploadId={upload_id}&partNumber={part_number}"

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        upload = self.uploads.get(upload_id)
        if upload is None or upload["key"] != key:
            raise NotFound("no such multipart upload")
        if any(not etag for _, etag in parts):
            raise InvalidRequest("body.parts: S3 refused the parts (InvalidPart)")
        del self.uploads[upload_id]
        self.completed.append(upload_id)
        self.store.put_bytes(key, b"x" * 10, upload["content_type"])

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        upload = self.uploads.get(upload_id)
        if upload is None or upload["key"] != key:
            raise NotFound("no such multipart upload")
        if upload_id in self.part_sizes:
            return dict(self.part_sizes[upload_id])
        return dict(self.planned(upload_id)) if self.planned else {}

    def abort_multipart(self, key: str, upload_id: str) -> bool:
        if self.uploads.pop(upload_id, None) is None:
            return False
        self.aborted.append(upload_id)
        return True

    def list_multipart(self, prefix: str) -> Iterator[tuple[str, str]]:
        for upload_id, upload in sorted(self.uploads.items()):
            if upload["key"].startswith(prefix):
                yield upload["key"], upload_id


class FakeIdempotency:
    def __init__(self) -> None:
        self.records: dict[str, IdempotencyRecord] = {}

    def claim(self, record: IdempotencyRecord, now_epoch: int) -> IdempotencyRecord:
        stored = self.records.get(record.key_hash)
        if stored is None or stored.expires_at < now_epoch:
            self.records[record.key_hash] = record
            return record
        return stored

    def find(self, key_hash: str, now_epoch: int) -> IdempotencyRecord | None:
        stored = self.records.get(key_hash)
        return stored if stored is not None and stored.expires_at >= now_epoch else None


@dataclass
class FakeClientLimits:
    """The GCRA bucket and the open-jobs set of ``DynamoClientLimits``, in memory."""

    tat: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, set[str]] = field(default_factory=dict)

    def take(self, client: str, now_ms: int, interval_ms: int, burst: int, expires_at: int) -> int:
        tat = max(self.tat.get(client, now_ms), now_ms)
        limit = now_ms + (burst - 1) * interval_ms
        if tat > limit:
            return tat - limit
        self.tat[client] = tat + interval_ms
        return 0

    def open_jobs(self, client: str) -> set[str]:
        return set(self.jobs.get(client, set()))

    def admit_job(self, client: str, member: str, cap: int, expires_at: int) -> bool:
        held = self.jobs.setdefault(client, set())
        if member in held or len(held) < cap:
            held.add(member)
            return True
        return False

    def release_jobs(self, client: str, members: set[str]) -> None:
        self.jobs.get(client, set()).difference_update(members)


class CountingStore(FakeObjectStore):
    def __init__(self) -> None:
        super().__init__()
        self.presigned = 0

    def presign_get(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        self.presigned += 1
        query: dict[str, str | int] = {"X-Amz-Expires": expires_in, "sig": self.presigned}
        if content_type is not None:
            query["response-content-type"] = content_type
        if content_disposition is not None:
            query["response-content-disposition"] = content_disposition
        return f"https://{BUCKET}.s3.fake/{key}?{urlencode(query)}"


CONFIG = ApiConfig(
    ttl_hours=24,
    stall_timeout_seconds=600,
    upload_expiry_seconds=3600,
    thumbnail_expiry_seconds=900,
    media_expiry_seconds=3600,
    multipart_threshold_bytes=100 * MIB,
    multipart_part_bytes=16 * MIB,
    max_file_bytes=5 * 1024 * MIB,
    max_targets_per_job=2000,
    allowed_models=("gemini-2.5-flash", "gemini-2.5-flash-lite"),
    # Generous, as in envs/local: tests of the limits set their own.
    start_interval_ms=10,
    start_burst=10_000,
    max_open_jobs=10_000,
)


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        body = self.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message", "details"}, body
        return dict(body["error"])


def event(
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: str | None = None,
    headers: dict[str, str] | None = None,
    b64: bool = False,
    source_ip: str = "198.51.100.7",
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    text = raw if raw is not None else (None if body is None else json.dumps(body))
    if text is not None and b64:
        text = base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()
    path, _, query = path.partition("?")
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        # API Gateway joins a repeated parameter's values with commas
        **(
            {"queryStringParameters": {k: ",".join(v) for k, v in params.items()}} if params else {}
        ),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": source_ip},
            "requestId": "req-123",
            "stage": "$default",
            **({"authorizer": {"jwt": {"claims": claims, "scopes": None}}} if claims else {}),
        },
        "body": text,
        "isBase64Encoded": b64,
    }


class Api:
    def __init__(self, cfg: ApiConfig = CONFIG) -> None:
        self.jobs = FakeJobRepository()
        self.files = FakeFileRepository(self.jobs)
        self.store = CountingStore()
        self.uploads = FakeUploads(self.store)
        self.executions = FakeExecutions()
        self.idempotency = FakeIdempotency()
        self.limits = FakeClientLimits()
        self.svc = Services(
            jobs=self.jobs,
            files=self.files,
            store=self.store,
            uploads=self.uploads,
            executions=self.executions,
            idempotency=self.idempotency,
            limits=self.limits,
            secrets=SECRETS,
            cfg=cfg,
        )
        self.now = T0
        self.uploads.planned = self._planned_parts

    def _planned_parts(self, upload_id: str) -> dict[int, int]:
        """The part sizes of the upload's plan (as ``upload_target`` hands them out)."""
        rows = [
            r
            for (_, _), r in self.files.rows.items()
            if r.upload_id == upload_id and r.size is not None
        ]
        if not rows:
            return {}
        size = rows[0].size or 0
        part = uploads.part_size_for(size, self.svc.cfg.multipart_part_bytes)
        count = max(1, -(-size // part))
        return {n: min(part, size - (n - 1) * part) for n in range(1, count + 1)}

    def with_config(self, **changes: Any) -> Api:
        self.svc = replace(self.svc, cfg=replace(self.svc.cfg, **changes))
        return self

    def with_secrets(self, current: bytes, previous: bytes | None = None) -> Api:
        """A deployment whose server secret is ``current`` (rotated from ``previous``)."""
        self.svc = replace(self.svc, secrets=TokenSecrets(current=current, previous=previous))
        return self

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def send(self, ev: dict[str, Any]) -> Response:
        out = http.dispatch(ev, self.svc, "req-123", now=self.now)
        assert out["headers"]["x-request-id"] == "req-123"
        return Response(out["statusCode"], out["headers"], out["body"])

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
        b64: bool = False,
        **context: Any,
    ) -> Response:
        """``context``: ``source_ip`` and ``claims`` (JWT) of the request context."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["authorization"] = f"Bearer {token}"
        return self.send(event(method, path, body, raw=raw, headers=hdrs, b64=b64, **context))

    def init(self, expected: int = 1, files: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", None)
        resp = self.call(
            "POST",
            "/api/triage/init",
            {"expectedFileCount": expected, "files": files or [], **kw},
            headers=headers,
        )
        assert resp.status_code == 202, resp.text
        return resp.json()

    # -- what the rest of the pipeline does to the rows

    def land(
        self,
        session_id: str,
        job_id: str,
        file_id: str,
        status: FileStatus = FileStatus.VALID,
        *,
        verdict: VerdictKind | None = None,
        **fields: Any,
    ) -> FileRow:
        """MediaProcess finalising a file (and TriageRun's verdict when given); ``fields``
        override the row's (``mime_type``, ``display_key``, ...)."""
        current = self.files.get_file(job_id, file_id)
        assert current is not None
        thumb = keys.derived_key(session_id, job_id, file_id, "thumb.jpg")
        self.store.put_bytes(thumb, b"jpeg", "image/jpeg")
        final = current.model_copy(
            update={
                "status": status,
                "media_type": MediaType.PHOTO,
                "width": 400,
                "height": 300,
                "thumbnail_key": thumb,
                **fields,
            }
        )
        self.files.finalize(final, stall_deadline=iso(self.now))
        if verdict is not None:
            self.files.write_verdicts(
                [final.model_copy(update={"verdict": verdict, "reason": "r", "score": 70})]
            )
        return final

    def set_job(self, session_id: str, job_id: str, status: JobStatus, **kw: Any) -> None:
        self.jobs.set_status(session_id, job_id, status, PHASE_OF[status], **kw)


# The phase the real system writes with each status (the API validates it as a JobPhase).
PHASE_OF = {
    JobStatus.PENDING: JobPhase.WAITING_FOR_FILES,
    JobStatus.PROCESSING: JobPhase.PROCESSING_FILES,
    JobStatus.ANALYZING: JobPhase.ANALYZING,
    JobStatus.COMPLETE: JobPhase.DONE,
    JobStatus.FAILED: JobPhase.FAILED,
    JobStatus.CANCELLED: JobPhase.CANCELLED,
}


def spec(name: str = "IMG_0001.jpg", size: int = 1000, ct: str = "image/jpeg") -> dict[str, Any]:
    return {"filename": name, "contentType": ct, "size": size}
