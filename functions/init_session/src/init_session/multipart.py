"""The parts of a multipart upload (ADR 0013): presigned on demand, completed against the
size the file was declared with, or aborted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from init_session.api.models import (
    MultipartAbortRequest,
    MultipartAbortResponse,
    MultipartCompleteRequest,
    MultipartCompleteResponse,
    MultipartPart,
    MultipartPartsRequest,
    MultipartPartsResponse,
)
from init_session.ports import UploadSigner
from init_session.services import ApiConfig
from init_session.sessions import require_active
from init_session.uploads import part_plan
from media_triage_shared import keys
from media_triage_shared.errors import ApiErrorCode, Conflict, InvalidRequest, NotFound
from media_triage_shared.models import FileRow, JobRow, iso
from media_triage_shared.ports import FileRepository, ObjectStore


class MultipartPorts(Protocol):
    @property
    def files(self) -> FileRepository: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def uploads(self) -> UploadSigner: ...
    @property
    def cfg(self) -> ApiConfig: ...


def _multipart_row(job: JobRow, file_id: str, upload_id: str, svc: MultipartPorts) -> FileRow:
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
            code=ApiErrorCode.UPLOAD_ID_MISMATCH,
            details=[{"field": "body.uploadId", "message": "does not match the file's upload"}],
        )
    return row


def multipart_parts(
    job: JobRow, req: MultipartPartsRequest, svc: MultipartPorts, now: datetime
) -> MultipartPartsResponse:
    """Presigned PUT URLs for some parts of one file's multipart upload (ADR 0013): clients
    ask in batches shortly before sending the parts, and again when the URLs expired.
    One GetItem of the file row, then local presigning: no write, no S3 call."""
    require_active(job, "upload parts")
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
    job: JobRow, req: MultipartCompleteRequest, svc: MultipartPorts
) -> MultipartCompleteResponse:
    require_active(job, "complete an upload")
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


def _check_uploaded_size(
    row: FileRow, upload_id: str, numbers: list[int], svc: MultipartPorts
) -> None:
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
            code=ApiErrorCode.SIZE_MISMATCH,
            details=[{"field": "body.parts", "message": f"{total} bytes != {declared}"}],
        )


def abort_multipart(
    job: JobRow, req: MultipartAbortRequest, svc: MultipartPorts
) -> MultipartAbortResponse:
    """Give up one multipart upload: S3 drops its parts and the file leaves the results.
    The caller lowers expectedFileCount (PATCH) if the file will not come."""
    row = _multipart_row(job, req.file_id, req.upload_id, svc)
    aborted = svc.uploads.abort_multipart(row.original_key, req.upload_id)
    svc.files.delete_uploading(row)
    return MultipartAbortResponse(file_id=row.file_id, aborted=aborted)
