"""The HTTP API core: sessions, jobs, upload targets, results, retry and cancel.

Models and ports in, models out: no boto3, no environment, no HTTP. ``init_session.api.http`` maps
requests to these functions and their domain errors to status codes.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from init_session import tokens
from init_session.api.models import (
    CancelResponse,
    FileSpec,
    FileStatusView,
    InitRequest,
    InitResponse,
    JobView,
    MediaResponse,
    MultipartAbortRequest,
    MultipartAbortResponse,
    MultipartCompleteRequest,
    MultipartCompleteResponse,
    MultipartPart,
    MultipartPartsRequest,
    MultipartPartsResponse,
    MultipartPlan,
    PatchJobRequest,
    ResultsResponse,
    RetryResponse,
    UploadsRequest,
    UploadsResponse,
    UploadTarget,
    Verdict,
    Verdicts,
)
from init_session.ports import (
    ClientLimits,
    Executions,
    IdempotencyRecord,
    IdempotencyStore,
    UploadSigner,
    Waker,
)
from media_triage_shared import keys, lifecycle
from media_triage_shared.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
)
from media_triage_shared.lifecycle import execution_name
from media_triage_shared.models import (
    FileError,
    FileRow,
    FileStatus,
    JobRow,
    JobStatus,
    MediaType,
    TriageInput,
    VerdictKind,
    iso,
    ttl_epoch,
)
from media_triage_shared.ports import FileRepository, JobRepository, ObjectStore

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_BYTES = 5 * 1024**3
# Parts planned per file: parts grow beyond the preferred size instead (52 MiB for 5 GiB), so a
# 5 GiB file takes one /multipart/parts call. Part URLs are never in the init or /uploads
# response (about 1.8 KB each on AWS with the role's session token, against Lambda's 6 MB
# response limit: ADR 0013); the plan there is uploadId, partSize and partCount.
PLAN_MAX_PARTS = 100
DELETE_BATCH = 1000
ACTIVE_STATUSES = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})
# Not final yet: counts against a client's open jobs (ADR 0014).
OPEN_STATUSES = frozenset({JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.ANALYZING})
NOT_UPLOADED = FileError(code="not_uploaded", message="the file never arrived")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    ttl_hours: float
    stall_timeout_seconds: int
    upload_expiry_seconds: int
    thumbnail_expiry_seconds: int
    media_expiry_seconds: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int
    max_file_bytes: int
    max_targets_per_job: int
    # Abuse limits (ADR 0014): the models a request may pick, the token bucket of each client
    # (one token per started execution: an init or a retry) and its open jobs.
    allowed_models: tuple[str, ...]
    start_interval_ms: int
    start_burst: int
    max_open_jobs: int


@dataclass(frozen=True, slots=True)
class Services:
    jobs: JobRepository
    files: FileRepository
    store: ObjectStore
    uploads: UploadSigner
    executions: Executions
    idempotency: IdempotencyStore
    limits: ClientLimits
    secrets: tokens.TokenSecrets
    cfg: ApiConfig
    waker: Waker | None = None  # wakes the state machine when a PATCH makes the job ready


def new_id() -> str:
    return uuid.uuid4().hex


def job_view(job: JobRow) -> JobView:
    return JobView(
        job_id=job.job_id,
        session_id=job.session_id,
        status=job.status,
        phase=job.phase,
        expected_file_count=job.expected_file_count,
        processed_count=job.processed_count,
    )


# ---------------------------------------------------------------------------- auth


def authorize(
    authorization: str | None, job_id: str, jobs: JobRepository, secrets: tokens.TokenSecrets
) -> JobRow:
    """The caller's job: 401 without a well-formed token, 404 when the token's session has no
    such job (another session's job looks exactly like a missing one), 403 on a wrong token."""
    token = tokens.bearer(authorization)
    job = jobs.get_job(tokens.session_of(token), job_id)
    if job is None:
        raise NotFound("job not found")
    tokens.verify(token, job.token_hash, secrets)
    return job


# ---------------------------------------------------------------------------- abuse limits


def check_model(model: str | None, cfg: ApiConfig) -> None:
    """Only the operator's allowlist: the model is billed to the operator, not the caller."""
    if model is not None and model not in cfg.allowed_models:
        allowed = ", ".join(cfg.allowed_models)
        raise InvalidRequest(
            f"body.model: {model!r} is not allowed here; allowed: {allowed}",
            details=[
                {"field": "body.model", "message": f"not allowed; allowed: {allowed}"},
                *({"field": "body.model", "message": m} for m in cfg.allowed_models),
            ],
        )


def take_start_token(client: str, svc: Services, now: datetime) -> None:
    """One token of the client's bucket per execution started (init, retry), else 429.
    ``client`` is ``tokens.client_hash`` of the caller's identity, as in ``admit_job``."""
    cfg = svc.cfg
    now_ms = int(now.timestamp() * 1000)
    horizon = now_ms + cfg.start_burst * cfg.start_interval_ms
    wait_ms = svc.limits.take(
        client, now_ms, cfg.start_interval_ms, cfg.start_burst, horizon // 1000 + 3600
    )
    if wait_ms > 0:
        seconds = math.ceil(wait_ms / 1000)
        raise RateLimited(
            f"too many new jobs from this client; retry in {seconds} s",
            retry_after=seconds,
            details=[{"field": "client", "message": f"retry after {seconds} s"}],
        )


def _still_open(member: str, svc: Services) -> bool:
    session_id, _, job_id = member.partition("/")
    job = svc.jobs.get_job(session_id, job_id)
    return job is not None and job.status in OPEN_STATUSES


def admit_job(client: str, job: JobRow, svc: Services, now: datetime) -> None:
    """At most ``max_open_jobs`` non-final jobs per client (409 ``too_many_open_jobs``).

    Members are released lazily: only a client at its cap pays for reading its jobs, and the
    ones that ended (or expired) make room. A job admitted by a concurrent init whose row does
    not exist yet can be released too early: the cap may then be passed by the client's
    in-flight inits, which its rate limit bounds."""
    cap = svc.cfg.max_open_jobs
    member = f"{job.session_id}/{job.job_id}"
    expires = ttl_epoch(now, svc.cfg.ttl_hours)
    if svc.limits.admit_job(client, member, cap, expires):
        return
    ended = {m for m in svc.limits.open_jobs(client) if m != member and not _still_open(m, svc)}
    if ended:
        svc.limits.release_jobs(client, ended)
        if svc.limits.admit_job(client, member, cap, expires):
            return
    raise Conflict(
        f"this client has {cap} jobs still open; finish or cancel one first",
        code="too_many_open_jobs",
        details=[{"field": "client", "message": f"at most {cap} open jobs"}],
    )


def require_unexpired(job: JobRow, now: datetime) -> None:
    """401 ``session_expired`` once the job's ``expiresAt`` (the table's TTL attribute, init + 24 h
    by default) has passed: DynamoDB deletes expired rows lazily, up to days later, and the
    token must not keep working until then. The page shows "session expired" on any 401."""
    if job.expires_at <= int(now.timestamp()):
        raise Unauthorized("the session has expired; start a new one", code="session_expired")


def _require_active(job: JobRow, action: str) -> None:
    if job.status not in ACTIVE_STATUSES:
        raise Conflict(
            f"cannot {action}: the job is {job.status.value}",
            code="job_not_active",
            details=[{"field": "status", "message": job.status.value}],
        )


# ---------------------------------------------------------------------------- upload targets


def part_size_for(size: int, preferred: int) -> int:
    """The preferred part size, grown (in whole MiB) until the file fits in PLAN_MAX_PARTS
    parts (up to S3's 5 GiB part limit; S3's 10,000-part limit then still holds)."""
    mib = 1024 * 1024
    needed = math.ceil(size / PLAN_MAX_PARTS)
    part = max(preferred, MIN_PART_BYTES, math.ceil(needed / mib) * mib)
    return min(part, MAX_PART_BYTES)


def _check_sizes(specs: list[FileSpec], cfg: ApiConfig) -> None:
    errors = [
        {"field": f"body.files.{i}.size", "message": f"must be <= {cfg.max_file_bytes} bytes"}
        for i, spec in enumerate(specs)
        if spec.size > cfg.max_file_bytes
    ]
    if errors:
        raise InvalidRequest(
            f"{errors[0]['field']}: file too large ({cfg.max_file_bytes} bytes at most)",
            details=errors,
        )


def _uploading_row(job: JobRow, spec: FileSpec, file_id: str, now: datetime, ttl: float) -> FileRow:
    return FileRow(
        job_id=job.job_id,
        file_id=file_id,
        session_id=job.session_id,
        filename=spec.filename,
        original_key=keys.upload_key(job.session_id, job.job_id, file_id, spec.filename),
        status=FileStatus.UPLOADING,
        size=spec.size,
        content_type=spec.content_type or DEFAULT_CONTENT_TYPE,
        created_at=iso(now),
        updated_at=iso(now),
        expires_at=ttl_epoch(now, ttl),
    )


def _with_multipart(row: FileRow, svc: Services) -> FileRow:
    if (row.size or 0) <= svc.cfg.multipart_threshold_bytes:
        return row
    upload_id = svc.uploads.create_multipart(row.original_key, row.content_type or "")
    return row.model_copy(update={"upload_id": upload_id})


def part_plan(size: int, preferred: int) -> tuple[int, int]:
    """(part size, part count) of a multipart upload of ``size`` bytes."""
    part = part_size_for(size, preferred)
    return part, max(1, math.ceil(size / part))


def upload_target(row: FileRow, svc: Services, now: datetime) -> UploadTarget:
    """The target for one uploading row: a presigned POST (locally, no AWS call), or the
    multipart plan without any URL (its parts are presigned on demand: ``multipart_parts``)."""
    cfg, size = svc.cfg, row.size or 0
    if row.upload_id is not None:
        part, count = part_plan(size, cfg.multipart_part_bytes)
        return UploadTarget(
            file_id=row.file_id,
            filename=row.filename,
            key=row.original_key,
            method="PUT",
            expires_at=iso(datetime.fromtimestamp(row.expires_at, tz=UTC)),
            multipart=MultipartPlan(upload_id=row.upload_id, part_size=part, part_count=count),
        )
    expires = cfg.upload_expiry_seconds
    url, fields = svc.uploads.presign_post(
        row.original_key, row.content_type or DEFAULT_CONTENT_TYPE, size, expires
    )
    return UploadTarget(
        file_id=row.file_id,
        filename=row.filename,
        key=row.original_key,
        method="POST",
        url=url,
        fields=fields,
        expires_at=iso(now + timedelta(seconds=expires)),
    )


def _new_rows(
    job: JobRow, specs: list[FileSpec], file_ids: list[str], svc: Services, now: datetime
) -> list[FileRow]:
    """Rows for ids nobody else knows yet: one batch write, no conditions needed."""
    rows = [
        _with_multipart(_uploading_row(job, spec, fid, now, svc.cfg.ttl_hours), svc)
        for spec, fid in zip(specs, file_ids, strict=True)
    ]
    if rows:
        svc.files.add_uploading(rows)
    return rows


def _planned_rows(
    job: JobRow,
    specs: list[FileSpec],
    file_ids: list[str],
    svc: Services,
    now: datetime,
    *,
    existing: dict[str, FileRow],
) -> list[FileRow]:
    """Rows of a call with an ``Idempotency-Key`` (init, or more uploads): its fileIds are
    fixed by the key, so a concurrent replay may be writing the same rows. Every row is written
    only if absent (ADR 0002): whoever writes a row first wins, the other call adopts that row
    (its uploadId) and aborts the multipart upload it created for nothing. No call ever
    overwrites a row, so a file that a client already uploaded (and MediaProcess counted) keeps
    its final state. A replay first reuses the ``existing`` rows it found, creating no
    multipart upload for them."""
    fresh = [
        _with_multipart(_uploading_row(job, spec, fid, now, svc.cfg.ttl_hours), svc)
        for spec, fid in zip(specs, file_ids, strict=True)
        if fid not in existing
    ]
    stored = {r.file_id: r for r in svc.files.add_uploading_if_absent(fresh)} if fresh else {}
    for row in fresh:
        if row.upload_id and stored[row.file_id].upload_id != row.upload_id:
            svc.uploads.abort_multipart(row.original_key, row.upload_id)  # lost the race
    return [existing.get(fid) or stored[fid] for fid in file_ids]


def _key_reused(field: str) -> Conflict:
    return Conflict(
        "this Idempotency-Key was used with a different request body",
        code="idempotency_key_reused",
        details=[{"field": field, "message": "reused"}],
    )


# ---------------------------------------------------------------------------- init


def request_hash(req: InitRequest) -> str:
    return hashlib.sha256(req.model_dump_json(by_alias=True).encode()).hexdigest()


def _claim(
    claimed: IdempotencyRecord, idempotency_key: str, svc: Services, now: datetime
) -> tuple[IdempotencyRecord, bytes]:
    """The init's idempotency record and the secret its token is derived with. During a
    rotation's grace period a record made under the previous secret is found first (its
    token was derived with that secret); otherwise the key is claimed under the current one."""
    now_epoch = int(now.timestamp())
    previous = svc.secrets.previous
    if previous is not None and previous != svc.secrets.current:
        found = svc.idempotency.find(tokens.key_hash(previous, idempotency_key), now_epoch)
        if found is not None:
            return found, previous
    return svc.idempotency.claim(claimed, now_epoch), svc.secrets.current


def init_session(
    req: InitRequest, idempotency_key: str | None, client: str, svc: Services, now: datetime
) -> InitResponse:
    """Create the session and job, the upload targets and the execution named after the job.

    With an ``Idempotency-Key`` the init is a plan claimed first (ids fixed, token derived
    from the key): a retry returns an equivalent response and finishes whatever step the first
    call did not reach; every step is conditional, so nothing happens twice.

    ``client`` is the caller's identity (``http.client_identity``): each init takes a token
    of its bucket and the job counts against its open jobs (ADR 0014)."""
    cfg = svc.cfg
    _check_sizes(req.files, cfg)
    check_model(req.model, cfg)
    client = tokens.client_hash(svc.secrets.current, client)
    take_start_token(client, svc, now)
    session_id, job_id, file_ids = new_id(), new_id(), [new_id() for _ in req.files]
    replay = False
    if idempotency_key is None:
        token = tokens.new_token(session_id)
    else:
        claimed = IdempotencyRecord(
            key_hash=tokens.key_hash(svc.secrets.current, idempotency_key),
            request_hash=request_hash(req),
            session_id=session_id,
            job_id=job_id,
            file_ids=file_ids,
            created_at=iso(now),
            expires_at=ttl_epoch(now, cfg.ttl_hours),
        )
        stored, secret = _claim(claimed, idempotency_key, svc, now)
        if stored.request_hash != claimed.request_hash:
            raise _key_reused("header.idempotency-key")
        replay = stored.session_id != session_id
        session_id, job_id, file_ids = stored.session_id, stored.job_id, stored.file_ids
        token = tokens.derived_token(secret, idempotency_key, session_id, job_id)

    planned = JobRow(
        session_id=session_id,
        job_id=job_id,
        expected_file_count=req.expected_file_count,
        token_hash=tokens.hash_token(svc.secrets.current, token),
        model=req.model,
        created_at=iso(now),
        updated_at=iso(now),
        stall_deadline=iso(now + timedelta(seconds=cfg.stall_timeout_seconds)),
        upload_target_count=len(req.files),
        expires_at=ttl_epoch(now, cfg.ttl_hours),
    )
    admit_job(client, planned, svc, now)
    job = svc.jobs.create_job(planned)
    if idempotency_key is None:
        rows = _new_rows(job, req.files, file_ids, svc, now)
    else:
        existing = {r.file_id: r for r in svc.files.list_files(job_id)} if replay else {}
        rows = _planned_rows(job, req.files, file_ids, svc, now, existing=existing)
    arn = svc.executions.start(
        execution_name(job), TriageInput(session_id=session_id, job_id=job_id)
    )
    if job.execution_arn != arn:
        svc.jobs.set_execution(session_id, job_id, arn)
    return InitResponse(
        session_id=session_id,
        job_id=job_id,
        session_token=token,
        expires_at=iso(datetime.fromtimestamp(job.expires_at, tz=UTC)),
        uploads=[upload_target(row, svc, now) for row in rows],
    )


# ---------------------------------------------------------------------------- uploads


def upload_file_ids(job_id: str, key_hash: str, count: int) -> list[str]:
    """fileIds of a ``POST .../uploads`` with an ``Idempotency-Key``: the same key in the same
    job names the same files, so a retry finds the rows the first call wrote."""
    return [
        hashlib.sha256(f"media-triage/upload-file/v1|{job_id}|{key_hash}|{i}".encode()).hexdigest()[
            :32
        ]
        for i in range(count)
    ]


def add_uploads(
    job: JobRow,
    req: UploadsRequest,
    idempotency_key: str | None,
    svc: Services,
    now: datetime,
) -> UploadsResponse:
    """Targets for more files; reserving them pushes the stall deadline forward.

    With an ``Idempotency-Key`` the fileIds derive from the key (``upload_file_ids``) and rows
    are written only if absent: a retry (response lost) returns the same files, with fresh
    POSTs, and reserves only the targets the first call did not write; the same key for other
    files is a 409. Without one, a retry makes new files."""
    _require_active(job, "add uploads")
    _check_sizes(req.files, svc.cfg)
    existing: dict[str, FileRow] = {}
    if idempotency_key is None:
        file_ids = [new_id() for _ in req.files]
    else:
        key_hash = tokens.key_hash(svc.secrets.current, idempotency_key)
        file_ids = upload_file_ids(job.job_id, key_hash, len(req.files))
        wanted = set(file_ids)
        existing = {r.file_id: r for r in svc.files.list_files(job.job_id) if r.file_id in wanted}
        for i, (spec, fid) in enumerate(zip(req.files, file_ids, strict=True)):
            row = existing.get(fid)
            if row is not None and (row.filename, row.size, row.content_type) != (
                spec.filename,
                spec.size,
                spec.content_type or DEFAULT_CONTENT_TYPE,
            ):
                raise _key_reused(f"body.files.{i}")
    deadline = iso(now + timedelta(seconds=svc.cfg.stall_timeout_seconds))
    if not svc.jobs.reserve_uploads(
        job.session_id,
        job.job_id,
        len(req.files) - len(existing),
        deadline,
        svc.cfg.max_targets_per_job,
    ):
        current = svc.jobs.get_job(job.session_id, job.job_id) or job
        _require_active(current, "add uploads")
        raise Conflict(
            f"a job takes at most {svc.cfg.max_targets_per_job} upload targets",
            code="too_many_uploads",
            details=[{"field": "body.files", "message": "limit reached"}],
        )
    if idempotency_key is None:
        rows = _new_rows(job, req.files, file_ids, svc, now)
    else:
        rows = _planned_rows(job, req.files, file_ids, svc, now, existing=existing)
    _keep_running(job.model_copy(update={"stall_deadline": deadline}), svc, now)
    return UploadsResponse(job_id=job.job_id, uploads=[upload_target(r, svc, now) for r in rows])


def _multipart_row(job: JobRow, file_id: str, upload_id: str, svc: Services) -> FileRow:
    row = svc.files.get_file(job.job_id, file_id)
    if (
        row is None
        or row.upload_id is None
        or not row.original_key.startswith(keys.upload_prefix(job.session_id, job.job_id))
    ):
        raise NotFound("no multipart upload for this file")
    if row.upload_id != upload_id:
        raise Conflict(
            "uploadId does not belong to this file",
            code="upload_id_mismatch",
            details=[{"field": "body.uploadId", "message": "does not match the file's upload"}],
        )
    return row


def multipart_parts(
    job: JobRow, req: MultipartPartsRequest, svc: Services, now: datetime
) -> MultipartPartsResponse:
    """Presigned PUT URLs for some parts of one file's multipart upload (ADR 0013): clients
    ask in batches shortly before sending the parts, and again when the URLs expired.
    One GetItem of the file row, then local presigning: no write, no S3 call."""
    _require_active(job, "upload parts")
    row = _multipart_row(job, req.file_id, req.upload_id, svc)
    size = row.size or 0
    part, count = part_plan(size, svc.cfg.multipart_part_bytes)
    outside = [(i, n) for i, n in enumerate(req.part_numbers) if n > count]
    if outside:
        raise InvalidRequest(
            f"body.partNumbers.{outside[0][0]}: this upload has parts 1..{count}",
            details=[
                {"field": f"body.partNumbers.{i}", "message": f"must be <= {count}"}
                for i, _ in outside
            ],
        )
    expires = svc.cfg.upload_expiry_seconds
    return MultipartPartsResponse(
        file_id=row.file_id,
        upload_id=req.upload_id,
        expires_at=iso(now + timedelta(seconds=expires)),
        parts=[
            MultipartPart(
                part_number=n,
                url=svc.uploads.presign_part(row.original_key, req.upload_id, n, expires),
                size=min(part, size - (n - 1) * part),
            )
            for n in req.part_numbers
        ],
    )


def complete_multipart(
    job: JobRow, req: MultipartCompleteRequest, svc: Services
) -> MultipartCompleteResponse:
    _require_active(job, "complete an upload")
    row = _multipart_row(job, req.file_id, req.upload_id, svc)
    _, count = part_plan(row.size or 0, svc.cfg.multipart_part_bytes)
    numbers = sorted(p.part_number for p in req.parts)
    if numbers != list(range(1, count + 1)):
        raise InvalidRequest(
            f"body.parts: must list every part 1..{count} exactly once",
            details=[{"field": "body.parts", "message": f"expected parts 1..{count}"}],
        )
    parts = sorted((p.part_number, p.etag) for p in req.parts)
    try:
        _check_uploaded_size(row, req.upload_id, numbers, svc)
        svc.uploads.complete_multipart(row.original_key, req.upload_id, parts)
    except NotFound:
        if svc.store.head(row.original_key) is None:
            raise
        # completed by an earlier call whose response was lost: same outcome
    return MultipartCompleteResponse(file_id=row.file_id, key=row.original_key)


def _check_uploaded_size(row: FileRow, upload_id: str, numbers: list[int], svc: Services) -> None:
    """The parts S3 holds must add up to the size the file was declared with (issue 13 item
    11): a presigned part URL does not pin its length, so a client could otherwise store a
    larger object than the one the API accepted (the presigned POST pins it exactly). A part
    not uploaded yet is a 400 the client can still fix; a wrong total aborts the upload (its
    parts are dropped) and is a 400 ``size_mismatch``: the client gives the file up as after
    any failed complete (``/multipart/abort`` drops the row, the PATCH lowers the count)."""
    held = svc.uploads.list_parts(row.original_key, upload_id)
    missing = [n for n in numbers if n not in held]
    if missing:
        raise InvalidRequest(
            f"body.parts: part {missing[0]} has not been uploaded",
            details=[{"field": "body.parts", "message": f"not uploaded: {missing[:10]}"}],
        )
    total, declared = sum(held[n] for n in numbers), row.size or 0
    if total != declared:
        svc.uploads.abort_multipart(row.original_key, upload_id)
        raise InvalidRequest(
            f"the uploaded parts hold {total} bytes, not the {declared} declared for this file; "
            "the upload was aborted",
            code="size_mismatch",
            details=[{"field": "body.parts", "message": f"{total} bytes != {declared}"}],
        )


def abort_multipart(
    job: JobRow, req: MultipartAbortRequest, svc: Services
) -> MultipartAbortResponse:
    """Give up one multipart upload: S3 drops its parts and the file leaves the results.
    The caller lowers expectedFileCount (PATCH) if the file will not come."""
    row = _multipart_row(job, req.file_id, req.upload_id, svc)
    aborted = svc.uploads.abort_multipart(row.original_key, req.upload_id)
    svc.files.delete_uploading(job.job_id, row.file_id)
    return MultipartAbortResponse(file_id=row.file_id, aborted=aborted)


# ---------------------------------------------------------------------------- job changes


def patch_job(job: JobRow, req: PatchJobRequest, svc: Services, now: datetime) -> JobView:
    """Change expectedFileCount while files are still expected. Lowering it below
    processedCount is allowed: the next poll moves on to triage. It also counts as a sign of
    life: the stall deadline moves forward, and a job whose execution ended at its timeout
    gets a successor execution (the keep-alive of a session longer than that timeout)."""
    _require_active(job, "change expectedFileCount")
    deadline = iso(now + timedelta(seconds=svc.cfg.stall_timeout_seconds))
    updated = svc.jobs.set_expected_count(
        job.session_id, job.job_id, req.expected_file_count, deadline
    )
    if updated is None:  # moved on between the read and the write
        current = svc.jobs.get_job(job.session_id, job.job_id) or job
        _require_active(current, "change expectedFileCount")
        raise Conflict("the job changed concurrently; try again", code="conflict")
    resumed = _keep_running(updated, svc, now)
    if (
        resumed is None
        and svc.waker is not None
        and updated.processed_count >= updated.expected_file_count
    ):
        svc.waker.wake_if_ready(job.session_id, job.job_id)  # triage now, not at the timeout
    return job_view(updated)


def _keep_running(job: JobRow, svc: Services, now: datetime) -> str | None:
    """A sign of life (a PATCH, more upload targets) on a job whose execution ended at its
    timeout starts a successor ``<jobId>-r<n>`` (issue 13 item 4; ``lifecycle``)."""
    return lifecycle.keep_running(job, jobs=svc.jobs, executions=svc.executions, now=now)


def retry(job: JobRow, client: str, svc: Services, now: datetime) -> RetryResponse:
    """Re-run a failed job in a new execution ``<jobId>-r<n>`` (n from an atomic counter).

    With files already processed the new execution triages them at once (the stall deadline
    is set to now); with none it waits a full stall timeout for uploads again."""
    if job.status is not JobStatus.FAILED:
        raise Conflict(
            f"only a failed job can be retried; this one is {job.status.value}",
            code="job_not_failed",
            details=[{"field": "status", "message": job.status.value}],
        )
    client = tokens.client_hash(svc.secrets.current, client)
    take_start_token(client, svc, now)
    admit_job(client, job, svc, now)
    has_files = job.processed_count > 0
    wait = 0 if has_files else svc.cfg.stall_timeout_seconds
    status = JobStatus.PROCESSING if has_files else JobStatus.PENDING
    phase = "processing_files" if has_files else "waiting_for_files"
    attempt = svc.jobs.begin_retry(
        job.session_id, job.job_id, status, phase, iso(now + timedelta(seconds=wait))
    )
    if attempt is None:
        raise Conflict("the job is being retried already", code="job_not_failed")
    retried = job.model_copy(update={"execution_count": attempt, "status": status, "phase": phase})
    name = execution_name(retried)
    try:
        arn = svc.executions.start(name, TriageInput(session_id=job.session_id, job_id=job.job_id))
    except Exception:
        svc.jobs.set_status(
            job.session_id,
            job.job_id,
            JobStatus.FAILED,
            "failed",
            error=f"retry {name} could not start",
        )
        raise
    svc.jobs.set_execution(job.session_id, job.job_id, arn)
    return RetryResponse(**job_view(retried).model_dump(), execution_name=name)


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def cancel(job: JobRow, svc: Services) -> CancelResponse:
    """Cancel and delete: status ``cancelled``, the execution stopped, in-flight multipart
    uploads aborted and every object under the job's uploads/ and derived/ prefixes deleted.
    Repeating it is harmless (it finds nothing left to delete)."""
    if svc.jobs.cancel(job.session_id, job.job_id) and job.status not in {
        JobStatus.COMPLETE,
        JobStatus.FAILED,
    }:
        svc.executions.stop(execution_name(job), "cancelled by the user")
    uploads = keys.upload_prefix(job.session_id, job.job_id)
    aborted = sum(
        svc.uploads.abort_multipart(key, upload_id)
        for key, upload_id in list(svc.uploads.list_multipart(uploads))
    )
    deleted = 0
    for prefix in (uploads, keys.derived_prefix(job.session_id, job.job_id)):
        # list first, then delete: deleting while paging a listing can skip keys
        for chunk in _chunks(list(svc.store.list_keys(prefix)), DELETE_BATCH):
            deleted += svc.store.delete_keys(chunk)
    current = svc.jobs.get_job(job.session_id, job.job_id) or job
    return CancelResponse(
        **job_view(current).model_dump(), deleted_objects=deleted, aborted_uploads=aborted
    )


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Results:
    etag: str
    body: ResultsResponse | None  # None: the caller's copy is current (304)


def _file_view(row: FileRow, job: JobRow) -> FileStatusView:
    status, error = row.status, row.error
    if status is FileStatus.UPLOADING and job.status not in ACTIVE_STATUSES:
        status, error = FileStatus.INVALID, NOT_UPLOADED  # the job moved on without it
    return FileStatusView(
        file_id=row.file_id,
        filename=row.filename,
        status=status,
        media_type=row.media_type,
        width=row.width,
        height=row.height,
        duration_seconds=row.duration_seconds,
        converted=row.converted,
        error=error,
        duplicate_of=row.duplicate_of,
    )


def _verdicts(rows: list[FileRow]) -> Verdicts:
    out: dict[VerdictKind, list[Verdict]] = {VerdictKind.KEEP: [], VerdictKind.DISCARD: []}
    for row in rows:
        if row.verdict is not None:
            out[row.verdict].append(
                Verdict(
                    file_id=row.file_id,
                    filename=row.filename,
                    verdict=row.verdict,
                    reason=row.reason,
                    score=row.score,
                    issues=row.issues or [],
                )
            )
    return Verdicts(keep=out[VerdictKind.KEEP], discard=out[VerdictKind.DISCARD])


def weak_match(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


PUBLIC_ERROR_CHARS = 300


def public_error(cause: str | None) -> str | None:
    """The job's failure as the page shows it. The row keeps the whole cause for operators;
    a Lambda failure's cause is Step Functions' JSON with a ``stackTrace``, which is internal:
    the page gets ``<errorType>: <errorMessage>``, cut to a readable length."""
    if not cause:
        return cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        kind = parsed.get("errorType")
        cause = (
            f"{kind}: {parsed['errorMessage']}" if isinstance(kind, str) else parsed["errorMessage"]
        )
    cause = " ".join(cause.split())
    if len(cause) > PUBLIC_ERROR_CHARS:
        cause = cause[: PUBLIC_ERROR_CHARS - 3].rstrip() + "..."
    return cause


UNFINISHED_STATUSES = frozenset({JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.ANALYZING})
# Past the stall deadline the workflow acts within seconds (or is in TriageRun); this much later
# an unfinished job is worth one DescribeExecution per poll.
ORPHAN_GRACE_SECONDS = 120


def settle_orphan(job: JobRow, svc: Services, now: datetime) -> JobRow:
    """A job whose workflow ended without finishing it (the execution-timeout backstop, an
    execution stopped by hand) would otherwise be polled forever: once its stall deadline is
    well past, an execution that is no longer running fails the job, guarded by the status
    read, so a job that completes meanwhile stays complete. ``retry`` can then start anew."""
    if job.status not in UNFINISHED_STATUSES:
        return job
    if iso(now - timedelta(seconds=ORPHAN_GRACE_SECONDS)) <= job.stall_deadline:
        return job
    status = svc.executions.status(execution_name(job))
    if status == "RUNNING":
        return job
    cause = (
        f"the triage workflow ended ({status or 'not found'}) without finishing this job; "
        "retry runs it again"
    )
    svc.jobs.set_status(
        job.session_id, job.job_id, JobStatus.FAILED, "failed", error=cause, expect=job.status
    )
    return svc.jobs.get_job(job.session_id, job.job_id) or job


def results(job: JobRow, svc: Services, if_none_match: str | None, now: datetime) -> Results:
    """The page's poll: job, per-file statuses, verdicts when complete.

    One paginated Query of the job's file rows, thumbnail URLs presigned locally. The ETag is
    weak: it hashes the body with thumbnail *keys* instead of URLs plus the URL signing
    window, so an unchanged job answers 304 without presigning anything, and a client's copy
    is replaced (fresh URLs) well before its URLs expire."""
    job = settle_orphan(job, svc, now)
    rows = svc.files.list_files(job.job_id)
    derived = keys.derived_prefix(job.session_id, job.job_id)
    thumbs = {
        row.file_id: row.thumbnail_key
        for row in rows
        if row.thumbnail_key
        and row.thumbnail_key.startswith(derived)
        and job.status is not JobStatus.CANCELLED
    }
    judged = job.summary if job.status is JobStatus.COMPLETE else None
    body = ResultsResponse(
        job_id=job.job_id,
        session_id=job.session_id,
        status=job.status,
        phase=job.phase,
        expected_file_count=job.expected_file_count,
        processed_count=job.processed_count,
        files=[_file_view(row, job) for row in rows],
        verdicts=_verdicts(rows) if job.status is JobStatus.COMPLETE else None,
        partial=job.partial,
        error=public_error(job.error),
        analyzer=judged.analyzer if judged else None,
        model=judged.model if judged else None,
    )
    expiry = svc.cfg.thumbnail_expiry_seconds
    window = int(now.timestamp()) // max(1, expiry // 3) if thumbs else 0
    digest = hashlib.sha256(body.model_dump_json(by_alias=True, exclude_none=True).encode())
    digest.update(repr((sorted(thumbs.items()), window)).encode())
    etag = f'W/"{digest.hexdigest()[:32]}"'
    if weak_match(if_none_match, etag):
        return Results(etag, None)
    if thumbs:
        body = body.model_copy(
            update={
                "files": [
                    view.model_copy(
                        update={
                            "thumbnail_url": svc.store.presign_get(thumbs[view.file_id], expiry)
                        }
                    )
                    if view.file_id in thumbs
                    else view
                    for view in body.files
                ]
            }
        )
    return Results(etag, body)


# ---------------------------------------------------------------------------- one file's media

# Photo types every browser the page supports shows in an <img> as they are.
BROWSER_PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
VIEWABLE_STATUSES = frozenset({FileStatus.VALID, FileStatus.DUPLICATE})
# An ``invalid`` row with this code has no original any more (MediaProcess found it gone).
ORIGINAL_GONE = "missing"


def content_disposition(kind: str, filename: str) -> str:
    """``inline``/``attachment`` with the original filename (RFC 6266): its last path part
    without control characters, an ASCII fallback and ``filename*`` for anything else."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip() or "file"
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in name)
    header = f'{kind}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def _original_exists(row: FileRow) -> bool:
    """What the row tells about the original, without asking S3: it landed once MediaProcess
    started on it, and it stays until the job is cancelled (or the bucket's lifecycle rule)."""
    if row.status is FileStatus.UPLOADING:
        return False  # maybe on its way: not worth a HEAD per click; it shows once processing
    return not (row.error is not None and row.error.code == ORIGINAL_GONE)


def media(job: JobRow, file_id: str, svc: Services, now: datetime) -> MediaResponse:
    """Presigned GET URLs of one file's objects, for the page's full view of it.

    Decided from the file row alone (no S3 call): thumbnailUrl, displayUrl and proxyUrl when
    MediaProcess recorded the object, originalUrl once the upload landed. While the file is
    ``uploading`` every URL is null, while ``processing`` only originalUrl is set; a cancelled
    job's objects are deleted, so its files have none. Every key is checked to lie in the
    job's own prefixes before it is signed."""
    row = svc.files.get_file(job.job_id, file_id)
    uploads = keys.upload_prefix(job.session_id, job.job_id)
    if row is None or row.session_id != job.session_id or not row.original_key.startswith(uploads):
        raise NotFound("file not found", details=[{"field": "path.fileId", "message": "unknown"}])
    expiry = svc.cfg.media_expiry_seconds
    derived = keys.derived_prefix(job.session_id, job.job_id) + f"{row.file_id}/"
    live = job.status is not JobStatus.CANCELLED

    def derived_url(key: str | None) -> str | None:
        ok = live and key is not None and key.startswith(derived)
        return svc.store.presign_get(key, expiry) if ok and key is not None else None

    original_url = None
    if live and _original_exists(row):
        known = row.mime_type is not None and row.media_type is not None
        original_url = svc.store.presign_get(
            row.original_key,
            expiry,
            content_type=row.mime_type if known else DEFAULT_CONTENT_TYPE,
            content_disposition=content_disposition(
                "inline" if known else "attachment", row.filename
            ),
        )
    display_url = None
    if row.media_type is MediaType.PHOTO and row.status in VIEWABLE_STATUSES:
        display_url = derived_url(row.display_key)
        if display_url is None and row.mime_type in BROWSER_PHOTO_TYPES:
            display_url = original_url
    return MediaResponse(
        file_id=row.file_id,
        filename=row.filename,
        media_type=row.media_type,
        thumbnail_url=derived_url(row.thumbnail_key),
        display_url=display_url,
        proxy_url=derived_url(row.proxy_key) if row.media_type is MediaType.VIDEO else None,
        original_url=original_url,
        expires_at=iso(now + timedelta(seconds=expiry)),
    )
