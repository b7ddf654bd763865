"""What one MediaProcess invocation works with: its limits, its ports, its deadline."""

from __future__ import annotations

from dataclasses import dataclass

from media_triage_shared.deadline import FINALIZE_RESERVE_SECONDS, MIN_PROXY_SECONDS, Deadline
from media_triage_shared.keys import UploadKey
from media_triage_shared.ports import MediaFiles, MediaJobs, MediaTool, ObjectStore

MIB = 1024 * 1024
GIB = 1024 * MIB
# Every derived object MediaProcess may write for a file (derived/<session>/<job>/<file>/...).
DERIVED_NAMES = {"thumb.jpg": "thumbnail", "display.jpg": "display", "proxy.mp4": "proxy"}


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
    finalize_reserve_seconds: float = FINALIZE_RESERVE_SECONDS
    # A proxy encode is not started with less time than this left (it would only be killed).
    min_proxy_seconds: float = MIN_PROXY_SECONDS
    # Videos up to this size are fingerprinted whole; larger ones by size + three 1 MiB samples.
    full_hash_max_bytes: int = 32 * MIB
    presign_seconds: int = 3600
    # Invocations that may work on one file: 1 + Lambda's async retries (Terraform's
    # async_maximum_retry_attempts). The last one never raises for an unexpected error.
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class Ctx:
    upload: UploadKey
    store: ObjectStore
    files: MediaFiles
    jobs: MediaJobs
    media: MediaTool
    limits: Limits
    deadline: Deadline
