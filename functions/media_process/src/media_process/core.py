"""MediaProcess core: one uploaded object -> one final file row, counted exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from media_triage_shared.keys import UploadKey
from media_triage_shared.models import FileError, FileRow, FileStatus, MediaType, iso, ttl_epoch
from media_triage_shared.ports import FileRepository, JobRepository, ObjectStore

_SNIFF_BYTES = 64


@dataclass(frozen=True, slots=True)
class Limits:
    ttl_hours: float
    stall_timeout_seconds: int


@dataclass(frozen=True, slots=True)
class Outcome:
    row: FileRow
    counted: bool


def sniff(head: bytes) -> tuple[MediaType, str] | None:
    """The real type from the first bytes (magic numbers), not from the extension."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.PHOTO, "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PHOTO, "image/png"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in {b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"}:
            return MediaType.PHOTO, "image/heic"
        if brand == b"qt  ":
            return MediaType.VIDEO, "video/quicktime"
        return MediaType.VIDEO, "video/mp4"
    return None


def process_upload(
    upload: UploadKey,
    *,
    store: ObjectStore,
    files: FileRepository,
    jobs: JobRepository,
    limits: Limits,
    now: datetime,
) -> Outcome:
    deadline = iso(now + timedelta(seconds=limits.stall_timeout_seconds))
    base = FileRow(
        job_id=upload.job_id,
        file_id=upload.file_id,
        session_id=upload.session_id,
        filename=upload.filename,
        original_key=upload.key,
        status=FileStatus.PROCESSING,
        created_at=iso(now),
        updated_at=iso(now),
        expires_at=ttl_epoch(now, limits.ttl_hours),
    )
    existing = files.get_file(upload.job_id, upload.file_id)
    if existing is not None and existing.is_final:
        return Outcome(existing, counted=False)  # a duplicate delivery: nothing to redo
    files.begin(base)
    jobs.mark_processing(upload.session_id, upload.job_id, deadline)

    info = store.head(upload.key)
    final: FileRow
    if info is None or info.size == 0:
        final = base.model_copy(
            update={
                "status": FileStatus.INVALID,
                "size": 0 if info else None,
                "error": FileError(code="empty", message="the uploaded file is empty"),
            }
        )
    else:
        kind = sniff(store.get_bytes(upload.key, byte_range=(0, _SNIFF_BYTES - 1)))
        common = {"size": info.size, "etag": info.etag, "updated_at": iso(now)}
        if kind is None:
            final = base.model_copy(
                update={
                    **common,
                    "status": FileStatus.INVALID,
                    "error": FileError(
                        code="unsupported_type", message="not a supported photo or video"
                    ),
                }
            )
        else:
            final = base.model_copy(
                update={
                    **common,
                    "status": FileStatus.VALID,
                    "media_type": kind[0],
                    "mime_type": kind[1],
                }
            )
    counted = files.finalize(final, stall_deadline=deadline)
    return Outcome(final, counted)
