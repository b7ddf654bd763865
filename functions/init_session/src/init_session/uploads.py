"""Upload targets: a presigned POST per small file, a multipart plan per large one, the file
rows reserved for them, and ``POST .../uploads`` (targets for more files)."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Protocol

from init_session import tokens
from init_session.api.models import (
    FileSpec,
    MultipartPlan,
    UploadsRequest,
    UploadsResponse,
    UploadTarget,
)
from init_session.ports import UploadSigner
from init_session.services import ApiConfig
from init_session.sessions import new_id, require_active
from media_triage_shared import keys, lifecycle
from media_triage_shared.errors import ApiErrorCode, Conflict, InvalidRequest
from media_triage_shared.models import FileRow, FileStatus, JobRow, iso, ttl_epoch
from media_triage_shared.ports import Executions, FileRepository, JobRepository

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_BYTES = 5 * 1024**3
# Parts planned per file: parts grow beyond the preferred size instead (52 MiB for 5 GiB), so a
# 5 GiB file takes one /multipart/parts call. Part URLs are never in the init or /uploads
# response (about 1.8 KB each on AWS with the role's session token, against Lambda's 6 MB
# response limit: ADR 0013); the plan there is uploadId, partSize and partCount.
PLAN_MAX_PARTS = 100


class TargetPorts(Protocol):
    """What reserving rows and making their targets takes (init and ``/uploads``)."""

    @property
    def files(self) -> FileRepository: ...
    @property
    def uploads(self) -> UploadSigner: ...
    @property
    def cfg(self) -> ApiConfig: ...


class UploadPorts(TargetPorts, Protocol):
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def executions(self) -> Executions: ...
    @property
    def secrets(self) -> tokens.TokenSecrets: ...


def part_size_for(size: int, preferred: int) -> int:
    """The preferred part size, grown (in whole MiB) until the file fits in PLAN_MAX_PARTS
    parts (up to S3's 5 GiB part limit; S3's 10,000-part limit then still holds)."""
    mib = 1024 * 1024
    needed = math.ceil(size / PLAN_MAX_PARTS)
    part = max(preferred, MIN_PART_BYTES, math.ceil(needed / mib) * mib)
    return min(part, MAX_PART_BYTES)


def check_sizes(specs: list[FileSpec], cfg: ApiConfig) -> None:
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


def _with_multipart(row: FileRow, svc: TargetPorts) -> FileRow:
    if (row.size or 0) <= svc.cfg.multipart_threshold_bytes:
        return row
    upload_id = svc.uploads.create_multipart(row.original_key, row.content_type or "")
    return row.model_copy(update={"upload_id": upload_id})


def part_plan(size: int, preferred: int) -> tuple[int, int]:
    """(part size, part count) of a multipart upload of ``size`` bytes."""
    part = part_size_for(size, preferred)
    return part, max(1, math.ceil(size / part))


def upload_target(row: FileRow, svc: TargetPorts, now: datetime) -> UploadTarget:
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


def new_rows(
    job: JobRow, specs: list[FileSpec], file_ids: list[str], svc: TargetPorts, now: datetime
) -> list[FileRow]:
    """Rows for ids nobody else knows yet: one batch write, no conditions needed."""
    rows = [
        _with_multipart(_uploading_row(job, spec, fid, now, svc.cfg.ttl_hours), svc)
        for spec, fid in zip(specs, file_ids, strict=True)
    ]
    if rows:
        svc.files.add_uploading(rows)
    return rows


def planned_rows(
    job: JobRow,
    specs: list[FileSpec],
    file_ids: list[str],
    svc: TargetPorts,
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


def key_reused(field: str) -> Conflict:
    return Conflict(
        "this Idempotency-Key was used with a different request body",
        code=ApiErrorCode.IDEMPOTENCY_KEY_REUSED,
        details=[{"field": field, "message": "reused"}],
    )


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
    svc: UploadPorts,
    now: datetime,
) -> UploadsResponse:
    """Targets for more files; reserving them pushes the stall deadline forward.

    With an ``Idempotency-Key`` the fileIds derive from the key (``upload_file_ids``) and rows
    are written only if absent: a retry (response lost) returns the same files, with fresh
    POSTs, and reserves only the targets the first call did not write; the same key for other
    files is a 409. Without one, a retry makes new files."""
    require_active(job, "add uploads")
    check_sizes(req.files, svc.cfg)
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
                raise key_reused(f"body.files.{i}")
    deadline = iso(now + timedelta(seconds=svc.cfg.stall_timeout_seconds))
    if not svc.jobs.reserve_uploads(
        job.session_id,
        job.job_id,
        len(req.files) - len(existing),
        deadline,
        svc.cfg.max_targets_per_job,
    ):
        current = svc.jobs.get_job(job.session_id, job.job_id) or job
        require_active(current, "add uploads")
        raise Conflict(
            f"a job takes at most {svc.cfg.max_targets_per_job} upload targets",
            code=ApiErrorCode.TOO_MANY_UPLOADS,
            details=[{"field": "body.files", "message": "limit reached"}],
        )
    if idempotency_key is None:
        rows = new_rows(job, req.files, file_ids, svc, now)
    else:
        rows = planned_rows(job, req.files, file_ids, svc, now, existing=existing)
    lifecycle.keep_running(
        job.model_copy(update={"stall_deadline": deadline}),
        jobs=svc.jobs,
        executions=svc.executions,
        now=now,
    )
    return UploadsResponse(job_id=job.job_id, uploads=[upload_target(r, svc, now) for r in rows])
