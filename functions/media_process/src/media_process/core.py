"""MediaProcess core: one uploaded object -> one final file row, counted exactly once.

Takes models and ports, returns models; no boto3, no environment, no logging setup. Order of
work, cheapest first, so a bad file is judged before anything expensive runs:

1. a final row already? -> a duplicate delivery: nothing to do (no second count);
2. the ``processing`` row (visible to the page at once) and the job's ``processing`` status;
3. HEAD (missing, empty), 4 KiB ranged GET -> type from content, size limits;
4. photos: decode + derive in memory; videos: ffprobe + one thumbnail frame, from a presigned
   URL (streamed);
5. the fingerprint claim (``FP#<hash>`` item, conditional put): a second identical file in the
   job becomes ``duplicate`` of the first and skips the expensive rest (display copy, proxy);
6. derived objects under ``derived/.../<fileId>/`` (never the original), then one transaction:
   final row + ``ADD processedCount 1``, guarded so it counts once per fileId.

Bad content is a value (``invalid`` + code). Metadata read from the file (EXIF, container tags)
is untrusted: a field the row refuses (NaN, inf, negative, wrong type) is dropped with a
warning, never fails the file. Transient infrastructure errors (throttling, 5xx, connection
errors; the ``transient`` predicate the handler passes) raise, so Lambda retries the event and
the guarded writes keep the retry harmless. Anything else - and a transient error on the last
attempt (the row counts MediaProcess's attempts) - finalises the file ``invalid`` with code
``internal``, counted once like any other: one bad file never costs the batch its wait
(ADR 0012).

A cancelled job leaves nothing behind (issue 13 item 6): an invocation that finds its job
cancelled - before it starts (a late upload through a still-valid presigned POST), when its
count is refused (DELETE swept while it worked), or after a concurrent delivery counted the
file - deletes the file's original and every derived object it may have written. A file that
arrives after the job's triage started is stored ``invalid`` with code ``late`` and counted,
never ``valid`` without a verdict (ADR 0003).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from media_process import detect
from media_triage_shared import keys
from media_triage_shared.errors import JobCancelled, JobStateChanged
from media_triage_shared.keys import UploadKey
from media_triage_shared.logging import get_logger
from media_triage_shared.media import (
    Capture,
    MediaErrorCode,
    MediaFailure,
    MediaWarningCode,
    Rendition,
    VideoProbe,
    warning,
)
from media_triage_shared.models import (
    CLOSED_JOB_STATUSES,
    FileError,
    FileRow,
    FileStatus,
    JobStatus,
    MediaType,
    iso,
    ttl_epoch,
)
from media_triage_shared.ports import MediaFiles, MediaJobs, MediaTool, ObjectStore

MIB = 1024 * 1024
GIB = 1024 * MIB
_SAMPLE_BYTES = MIB
# Every derived object MediaProcess may write for a file (derived/<session>/<job>/<file>/...).
DERIVED_NAMES = {"thumb.jpg": "thumbnail", "display.jpg": "display", "proxy.mp4": "proxy"}
LATE = "late"  # the error code of a file finalised after its job's triage started
LATE_MESSAGE = (
    "the file arrived after this job's triage had started, so it was not judged; "
    "upload it again in a new job"
)
# Finalise attempts while the job's status moves (open -> closed, or a failed job retried).
_FINALIZE_TRIES = 4

log = get_logger()


@dataclass(frozen=True, slots=True)
class Limits:
    ttl_hours: float
    stall_timeout_seconds: int
    max_photo_bytes: int = 100 * MIB
    max_photo_pixels: int = 100_000_000
    max_video_bytes: int = 5 * GIB
    max_video_seconds: float = 3 * 3600
    # Decoding cost guard, checked on ffprobe's picture size before any frame is decoded.
    max_video_pixels: int = 7680 * 4320
    # Time kept back from the deadline for the uploads and the final transaction.
    finalize_reserve_seconds: float = 5.0
    # A proxy encode is not started with less time than this left (it would only be killed).
    min_proxy_seconds: float = 3.0
    # Videos up to this size are fingerprinted whole; larger ones by size + three 1 MiB samples.
    full_hash_max_bytes: int = 32 * MIB
    presign_seconds: int = 3600
    # Invocations that may work on one file: 1 + Lambda's async retries (Terraform's
    # async_maximum_retry_attempts). The last one never raises for an unexpected error.
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class Deadline:
    """The processing deadline, as a ``clock()`` value (``time.monotonic`` by default)."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self, reserve: float = 0.0) -> float:
        return self.at - self.clock() - reserve


@dataclass(frozen=True, slots=True)
class Outcome:
    row: FileRow
    counted: bool
    job_cancelled: bool = False  # skipped (or not finalised): the job was cancelled
    already_counted: bool = False  # an earlier (or concurrent) delivery counted the file

    @property
    def settled(self) -> bool:
        """The file is final and counted, by this delivery or an earlier one: whoever sees it
        settled checks whether the job is ready (a retry after a crash between the count and
        the wake-up must wake the state machine too)."""
        return self.counted or self.already_counted


def never_transient(exc: Exception) -> bool:
    """The default ``transient`` predicate: no error is worth a retry (unit tests)."""
    return False


@dataclass(frozen=True, slots=True)
class _Ctx:
    upload: UploadKey
    store: ObjectStore
    files: MediaFiles
    jobs: MediaJobs
    media: MediaTool
    limits: Limits
    deadline: Deadline


def process_upload(
    upload: UploadKey,
    *,
    store: ObjectStore,
    files: MediaFiles,
    jobs: MediaJobs,
    media: MediaTool,
    limits: Limits,
    now: datetime,
    deadline: Deadline,
    transient: Callable[[Exception], bool] = never_transient,
) -> Outcome:
    stall_deadline = iso(now + timedelta(seconds=limits.stall_timeout_seconds))
    existing = files.get_file(upload.job_id, upload.file_id)
    if existing is not None and existing.is_final:
        log.info("media.already_final", status=existing.status.value)
        # a duplicate delivery, or Lambda's retry after a crash past the count: nothing to
        # redo, but the handler still checks whether the job is ready (the wake-up)
        return Outcome(existing, counted=False, already_counted=True)
    base = _processing_row(upload, existing, limits, now)
    ctx = _Ctx(upload, store, files, jobs, media, limits, deadline)
    if _cancelled(jobs, upload):  # a late upload to a cancelled job: its URL was still valid
        log.info("media.job_cancelled", stage="before")  # no work, no row
        _discard(ctx)  # the late original (and what an earlier attempt may have written)
        return Outcome(existing or base, counted=False, job_cancelled=True)
    if not files.start_processing(base):  # a concurrent delivery finalised it meanwhile
        current = files.get_file(upload.job_id, upload.file_id)
        return Outcome(current or base, counted=False, already_counted=True)
    jobs.mark_processing(upload.session_id, upload.job_id, stall_deadline)

    try:
        final = _storable(_examine(ctx, base).model_copy(update={"updated_at": iso(now)}))
        return _finalize(ctx, final, stall_deadline)
    except Exception as exc:
        attempt, last = base.attempts or 1, limits.max_attempts
        if transient(exc) and attempt < last:
            log.warning(
                "media.retrying", error_type=type(exc).__name__, attempt=attempt, max_attempts=last
            )
            raise  # Lambda retries the event; the guarded writes make the retry harmless
        log.exception(
            "media.internal_error",
            error_type=type(exc).__name__,
            attempt=attempt,
            max_attempts=last,
            transient=transient(exc),
        )
    failed = _invalid(base, MediaErrorCode.INTERNAL, INTERNAL_MESSAGE)
    return _finalize(ctx, failed.model_copy(update={"updated_at": iso(now)}), stall_deadline)


INTERNAL_MESSAGE = "processing failed unexpectedly (internal error); the original file is kept"


def _finalize(ctx: _Ctx, final: FileRow, stall_deadline: str) -> Outcome:
    """Count the file once, as the row its job's status calls for: ``final`` while the job is
    open, a ``late`` row once its triage started (the guarded transaction says which)."""
    row, closed = final, False
    for _ in range(_FINALIZE_TRIES):
        try:
            counted = ctx.files.finalize(row, stall_deadline=stall_deadline, job_closed=closed)
        except JobCancelled:  # cancelled while we worked: nothing is counted, nothing stays
            log.info("media.job_cancelled", stage="after")
            _discard(ctx)
            return Outcome(row, counted=False, job_cancelled=True)
        except JobStateChanged as exc:
            closed = exc.status in {s.value for s in CLOSED_JOB_STATUSES}
            row = _late(final) if closed else final
            continue
        break
    else:
        raise RuntimeError(f"job {final.job_id} kept changing status while a file was counted")
    if not counted:  # a concurrent delivery counted it first
        if _cancelled(ctx.jobs, ctx.upload):  # ...and DELETE swept since: ours must go too
            log.info("media.job_cancelled", stage="after_count")
            _discard(ctx)
            return Outcome(row, counted=False, job_cancelled=True)
        return Outcome(row, counted=False, already_counted=True)
    if closed:
        log.info("media.late", status=final.status.value)
    if row.status is FileStatus.INVALID and row.error is not None:
        log.info("media.invalid", code=row.error.code, message=row.error.message)
    return Outcome(row, counted)


def _late(row: FileRow) -> FileRow:
    """The row of a file that arrived after its job's triage started: triage will never judge
    it, so it must not show ``valid`` (or ``duplicate``) without a verdict. A file already
    invalid keeps its own, more telling, reason."""
    if row.status is FileStatus.INVALID:
        return row
    late = row.model_copy(update={"duplicate_of": None})
    return late.model_copy(
        update={"status": FileStatus.INVALID, "error": FileError(code=LATE, message=LATE_MESSAGE)}
    )


def _discard(ctx: _Ctx) -> None:
    """Delete the file's original and every derived object MediaProcess may have written for
    it: the job was cancelled and DELETE's sweep may already be over. Deleting a key that is
    not there is a no-op, so no listing is needed (media-process has no s3:ListBucket)."""
    up = ctx.upload
    doomed = [
        up.key,
        *(keys.derived_key(up.session_id, up.job_id, up.file_id, name) for name in DERIVED_NAMES),
    ]
    ctx.store.delete_keys(doomed)
    log.info("media.cancelled_objects_deleted", keys=len(doomed))


def _storable(row: FileRow) -> FileRow:
    """The row validated again (``model_copy`` does not validate): a value DynamoDB cannot
    store fails here, as a value error, not inside the counting transaction."""
    return FileRow.model_validate(row.model_dump())


def _cancelled(jobs: MediaJobs, upload: UploadKey) -> bool:
    """The job was cancelled (its objects deleted). A job row not there yet is not cancelled:
    an upload may land before init's write, and is counted once the job exists."""
    job = jobs.get_job(upload.session_id, upload.job_id)
    return job is not None and job.status is JobStatus.CANCELLED


def _processing_row(
    upload: UploadKey, existing: FileRow | None, limits: Limits, now: datetime
) -> FileRow:
    if existing is not None:  # init's ``uploading`` row: keep its name, size, type, uploadId
        return existing.model_copy(
            update={
                "status": FileStatus.PROCESSING,
                "original_key": upload.key,
                "updated_at": iso(now),
                "attempts": (existing.attempts or 0) + 1,
            }
        )
    return FileRow(
        job_id=upload.job_id,
        file_id=upload.file_id,
        session_id=upload.session_id,
        filename=upload.filename,
        original_key=upload.key,
        status=FileStatus.PROCESSING,
        created_at=iso(now),
        updated_at=iso(now),
        expires_at=ttl_epoch(now, limits.ttl_hours),
        attempts=1,
    )


def _invalid(row: FileRow, code: MediaErrorCode, message: str) -> FileRow:
    return row.model_copy(
        update={"status": FileStatus.INVALID, "error": FileError(code=code.value, message=message)}
    )


def _failed(row: FileRow, failure: MediaFailure) -> FileRow:
    return _invalid(row, failure.code, failure.message)


def _examine(ctx: _Ctx, row: FileRow) -> FileRow:
    key = ctx.upload.key
    info = ctx.store.head(key)
    if info is None:
        return _invalid(row, MediaErrorCode.MISSING, "the uploaded file is gone (job cancelled?)")
    row = row.model_copy(update={"size": info.size, "etag": info.etag})
    if info.size == 0:
        return _invalid(row, MediaErrorCode.EMPTY, "the uploaded file is empty (0 bytes)")
    head = ctx.store.get_bytes(key, byte_range=(0, min(info.size, detect.SNIFF_BYTES) - 1))
    found = detect.sniff(head)
    log.info("media.type_detected", mime_type=found.mime_type, label=found.label)
    if found.mime_type is None or found.media_type is None:
        return _invalid(
            row,
            MediaErrorCode.UNSUPPORTED_TYPE,
            f"{found.label}: not a supported photo (JPEG, PNG, WebP, GIF, HEIC) or video "
            "(MP4, MOV, WebM, MKV, AVI)",
        )
    mismatch = detect.extension_warning(row.filename, found.mime_type)
    row = row.model_copy(
        update={
            "media_type": found.media_type,
            "mime_type": found.mime_type,
            "warnings": [mismatch] if mismatch else None,
        }
    )
    if found.media_type is MediaType.PHOTO:
        return _photo(ctx, row, found.mime_type, info.size)
    return _video(ctx, row, found.mime_type, info.size)


# ---------------------------------------------------------------------------- photos


def _photo(ctx: _Ctx, row: FileRow, mime_type: str, size: int) -> FileRow:
    limits = ctx.limits
    if size > limits.max_photo_bytes:
        return _invalid(
            row,
            MediaErrorCode.TOO_LARGE,
            f"{_mib(size)} is over the {_mib(limits.max_photo_bytes)} limit for photos",
        )
    if ctx.deadline.remaining() <= 0:
        return _invalid(row, MediaErrorCode.TIMEOUT, "the processing deadline passed")
    data = ctx.store.get_bytes(ctx.upload.key)  # <= 100 MiB: in memory, no /tmp
    fingerprint = "sha256:" + hashlib.sha256(data).hexdigest()
    result = ctx.media.process_photo(data, mime_type, max_pixels=limits.max_photo_pixels)
    del data
    if isinstance(result, MediaFailure):
        return _failed(row.model_copy(update={"fingerprint": fingerprint}), result)
    row = _with_metadata(
        row.model_copy(update={"fingerprint": fingerprint}),
        width=result.width,
        height=result.height,
        **_capture_fields(result.capture),
    )
    row = _put(ctx, row, "thumb.jpg", result.thumbnail, "thumbnail_key")
    owner = _claim(ctx, row, fingerprint)
    if owner is not None:
        return _duplicate(row, owner)
    if result.display is not None:
        row = _put(ctx, row, "display.jpg", result.display, "display_key")
    converted = result.converted or result.display is not None
    return row.model_copy(update={"status": FileStatus.VALID, "converted": converted})


# ---------------------------------------------------------------------------- videos


def _video(ctx: _Ctx, row: FileRow, mime_type: str, size: int) -> FileRow:
    limits, deadline = ctx.limits, ctx.deadline
    if size > limits.max_video_bytes:
        return _invalid(
            row,
            MediaErrorCode.TOO_LARGE,
            f"{_mib(size)} is over the {_mib(limits.max_video_bytes)} limit for videos",
        )
    fingerprint = _video_fingerprint(ctx.store, ctx.upload.key, size, limits)
    row = row.model_copy(update={"fingerprint": fingerprint})
    url = ctx.store.presign_get(ctx.upload.key, limits.presign_seconds)
    reserve = limits.finalize_reserve_seconds
    probe = ctx.media.probe_video(url, mime_type, timeout=deadline.remaining(reserve))
    if isinstance(probe, MediaFailure):
        return _failed(row, probe)
    row = _with_metadata(
        row,
        width=probe.width,
        height=probe.height,
        duration_seconds=probe.duration_seconds,
        **_capture_fields(probe.capture),
    )
    refused = _over_video_limits(row, probe, limits)
    if refused is not None:
        return refused
    duration = row.duration_seconds  # as the row keeps it: finite, >= 0, or None
    thumb = ctx.media.video_thumbnail(url, mime_type, probe, timeout=deadline.remaining(reserve))
    if isinstance(thumb, MediaFailure):
        return _failed(row, thumb)
    row = _put(ctx, row, "thumb.jpg", thumb, "thumbnail_key")
    owner = _claim(ctx, row, fingerprint)
    if owner is not None:
        return _duplicate(row, owner)

    warnings = list(row.warnings or [])
    budget = deadline.remaining(reserve)
    if budget < limits.min_proxy_seconds:
        proxy: Rendition | MediaFailure = MediaFailure(
            MediaErrorCode.TIMEOUT, f"only {max(budget, 0):.1f} s left before the deadline"
        )
    else:
        proxy = ctx.media.video_proxy(url, mime_type, probe, timeout=budget)
    if isinstance(proxy, MediaFailure):
        code = (
            MediaWarningCode.PROXY_SKIPPED
            if proxy.code is MediaErrorCode.TIMEOUT
            else MediaWarningCode.PROXY_FAILED
        )
        warnings.append(warning(code, f"no proxy.mp4: {proxy.message}"))
        log.warning("media.proxy_skipped", reason=proxy.message, code=proxy.code.value)
    else:
        row = _put(ctx, row, "proxy.mp4", proxy, "proxy_key")
        covered = _finite(proxy.duration_seconds)
        if covered is not None and duration and covered < duration:
            warnings.append(
                warning(
                    MediaWarningCode.PROXY_TRUNCATED,
                    f"proxy.mp4 covers the first {covered:.0f} s of {duration:.0f} s",
                )
            )
    return row.model_copy(
        update={
            "status": FileStatus.VALID,
            "converted": row.proxy_key is not None,
            "warnings": warnings or None,
        }
    )


def _over_video_limits(row: FileRow, probe: VideoProbe, limits: Limits) -> FileRow | None:
    """The invalid row when ffprobe's answer is over a limit, before any frame is decoded:
    the picture size (``too_many_pixels``, the decoding cost of every frame) and the length."""
    pixels = probe.width * probe.height
    if pixels > limits.max_video_pixels:
        return _invalid(
            row,
            MediaErrorCode.TOO_MANY_PIXELS,
            f"{probe.width}x{probe.height} ({pixels / 1e6:.1f} MP) is over the "
            f"{limits.max_video_pixels / 1e6:.1f} MP limit for videos",
        )
    duration = row.duration_seconds  # as the row keeps it: finite, >= 0, or None
    if duration is not None and duration > limits.max_video_seconds:
        return _invalid(
            row,
            MediaErrorCode.TOO_LONG,
            f"{duration / 60:.0f} min is over the "
            f"{limits.max_video_seconds / 60:.0f} min limit for videos",
        )
    return None


def _video_fingerprint(store: ObjectStore, key: str, size: int, limits: Limits) -> str:
    """sha256 of the whole file when small; else of its size and three 1 MiB samples (start,
    middle, end): a multi-GB video is never read whole just to find duplicates."""
    if size <= limits.full_hash_max_bytes:
        return "sha256:" + hashlib.sha256(store.get_bytes(key)).hexdigest()
    digest = hashlib.sha256(str(size).encode())
    for start in (0, size // 2 - _SAMPLE_BYTES // 2, size - _SAMPLE_BYTES):
        digest.update(store.get_bytes(key, byte_range=(start, start + _SAMPLE_BYTES - 1)))
    return "sha256-sampled:" + digest.hexdigest()


# ---------------------------------------------------------------------------- shared steps


def _claim(ctx: _Ctx, row: FileRow, fingerprint: str) -> str | None:
    """None when this file owns its content in the job; else the fileId it duplicates."""
    owner = ctx.files.claim_fingerprint(
        ctx.upload.job_id, fingerprint, ctx.upload.file_id, row.expires_at
    )
    if owner == ctx.upload.file_id:
        return None
    log.info("media.duplicate_found", duplicate_of=owner)
    return owner


def _duplicate(row: FileRow, owner: str) -> FileRow:
    return row.model_copy(update={"status": FileStatus.DUPLICATE, "duplicate_of": owner})


def _put(ctx: _Ctx, row: FileRow, name: str, rendition: Rendition, attr: str) -> FileRow:
    up = ctx.upload
    key = keys.derived_key(up.session_id, up.job_id, up.file_id, name)
    ctx.store.put_bytes(key, rendition.data, rendition.content_type)
    event = DERIVED_NAMES[name]
    log.info(
        f"media.{event}_written",
        bytes=len(rendition.data),
        width=rendition.width,
        height=rendition.height,
    )
    return row.model_copy(update={attr: key})


def _capture_fields(capture: Capture) -> dict[str, Any]:
    return {"taken_at": capture.taken_at, "gps": capture.gps, "camera": capture.camera}


def _with_metadata(row: FileRow, **fields: Any) -> FileRow:
    """The row with metadata read from the file, field by field: a value the row refuses (NaN,
    inf, negative, wrong type, too long) is dropped with a warning instead of failing the file;
    a GPS fix whose altitude alone is bad keeps its position. The values are not logged (a
    position is personal data)."""
    values = row.model_dump()
    for name, raw in fields.items():
        value = raw.model_dump() if isinstance(raw, BaseModel) else raw  # instances: re-check
        kept, refused = _field(values, name, value)
        dropped = name
        if refused is not None and name == "gps" and isinstance(value, dict):
            kept, _ = _field(values, name, {**value, "alt": None})  # the position alone?
            dropped = "gps.alt" if kept is not None else name
        if refused is not None:
            log.warning("media.metadata_dropped", field=dropped, reason=refused)
        values[name] = kept
    return FileRow.model_validate(values)


def _field(values: dict[str, Any], name: str, value: Any) -> tuple[Any, str | None]:
    """(the value as the row keeps it, None) or (None, why the row refuses it)."""
    if value is None:
        return None, None
    try:
        return getattr(FileRow.model_validate({**values, name: value}), name), None
    except ValidationError as exc:
        return None, str(exc.errors()[0]["type"])


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _mib(size: int) -> str:
    return f"{size / MIB:,.1f} MiB" if size < GIB else f"{size / GIB:,.2f} GiB"
