"""MediaProcess's processing steps, cheapest first: type and size checks, photo or video
work, the fingerprint claim, derived objects, metadata kept field by field."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from pydantic import BaseModel, ValidationError

from media_process import detect
from media_process.context import DERIVED_NAMES, GIB, MIB, Ctx, Limits
from media_triage_shared import keys
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
from media_triage_shared.models import FileError, FileRow, FileStatus, MediaType
from media_triage_shared.ports import ObjectStore

_SAMPLE_BYTES = MIB

log = get_logger()


def invalid(row: FileRow, code: MediaErrorCode, message: str) -> FileRow:
    return row.model_copy(
        update={"status": FileStatus.INVALID, "error": FileError(code=code.value, message=message)}
    )


def _failed(row: FileRow, failure: MediaFailure) -> FileRow:
    return invalid(row, failure.code, failure.message)


def examine(ctx: Ctx, row: FileRow) -> FileRow:
    key = ctx.upload.key
    info = ctx.store.head(key)
    if info is None:
        return invalid(row, MediaErrorCode.MISSING, "the uploaded file is gone (job cancelled?)")
    row = row.model_copy(update={"size": info.size, "etag": info.etag})
    if info.size == 0:
        return invalid(row, MediaErrorCode.EMPTY, "the uploaded file is empty (0 bytes)")
    head = ctx.store.get_bytes(key, byte_range=(0, min(info.size, detect.SNIFF_BYTES) - 1))
    found = detect.sniff(head)
    log.info("media.type_detected", mime_type=found.mime_type, label=found.label)
    if found.mime_type is None or found.media_type is None:
        return invalid(
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


def _photo(ctx: Ctx, row: FileRow, mime_type: str, size: int) -> FileRow:
    limits = ctx.limits
    if size > limits.max_photo_bytes:
        return invalid(
            row,
            MediaErrorCode.TOO_LARGE,
            f"{_mib(size)} is over the {_mib(limits.max_photo_bytes)} limit for photos",
        )
    if ctx.deadline.passed:
        return invalid(row, MediaErrorCode.TIMEOUT, "the processing deadline passed")
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


def _video(ctx: Ctx, row: FileRow, mime_type: str, size: int) -> FileRow:
    limits, deadline = ctx.limits, ctx.deadline
    if size > limits.max_video_bytes:
        return invalid(
            row,
            MediaErrorCode.TOO_LARGE,
            f"{_mib(size)} is over the {_mib(limits.max_video_bytes)} limit for videos",
        )
    fingerprint = _video_fingerprint(ctx.store, ctx.upload.key, size, limits)
    row = row.model_copy(update={"fingerprint": fingerprint})
    url = ctx.store.presign_get(ctx.upload.key, limits.presign_seconds)
    tools = deadline.before(limits.finalize_reserve_seconds)  # the final writes keep theirs
    probe = ctx.media.probe_video(url, mime_type, deadline=tools)
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
    thumb = ctx.media.video_thumbnail(url, mime_type, probe, deadline=tools)
    if isinstance(thumb, MediaFailure):
        return _failed(row, thumb)
    row = _put(ctx, row, "thumb.jpg", thumb, "thumbnail_key")
    owner = _claim(ctx, row, fingerprint)
    if owner is not None:
        return _duplicate(row, owner)

    return _with_proxy(ctx, row, url, mime_type, probe, duration)


def _with_proxy(
    ctx: Ctx, row: FileRow, url: str, mime_type: str, probe: VideoProbe, duration: float | None
) -> FileRow:
    """The ``valid`` video row, with its proxy when there is time for one; a proxy skipped,
    failed or cut short is a warning, never an invalid file."""
    limits = ctx.limits
    warnings = list(row.warnings or [])
    tools = ctx.deadline.before(limits.finalize_reserve_seconds)
    budget = tools.remaining()
    if budget < limits.min_proxy_seconds:
        proxy: Rendition | MediaFailure = MediaFailure(
            MediaErrorCode.TIMEOUT, f"only {max(budget, 0):.1f} s left before the deadline"
        )
    else:
        proxy = ctx.media.video_proxy(url, mime_type, probe, deadline=tools)
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
        return invalid(
            row,
            MediaErrorCode.TOO_MANY_PIXELS,
            f"{probe.width}x{probe.height} ({pixels / 1e6:.1f} MP) is over the "
            f"{limits.max_video_pixels / 1e6:.1f} MP limit for videos",
        )
    duration = row.duration_seconds  # as the row keeps it: finite, >= 0, or None
    if duration is not None and duration > limits.max_video_seconds:
        return invalid(
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


def _claim(ctx: Ctx, row: FileRow, fingerprint: str) -> str | None:
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


def _put(ctx: Ctx, row: FileRow, name: str, rendition: Rendition, attr: str) -> FileRow:
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
