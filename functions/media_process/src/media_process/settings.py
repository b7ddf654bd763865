"""MediaProcess settings, validated at cold start (a bad value fails with its name)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import Field, model_validator

from media_process.adapters.photo import PhotoOptions
from media_process.adapters.video import VideoOptions
from media_process.context import MIB, Limits
from media_triage_shared.settings import BaseAppSettings


def _defaults(cls: Any) -> dict[str, Any]:
    """A dataclass's field defaults: the dataclasses hold every default once, the settings
    only validate and override them."""
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


LIMITS, PHOTO, VIDEO = _defaults(Limits), _defaults(PhotoOptions), _defaults(VideoOptions)


class MediaProcessSettings(BaseAppSettings):
    state_machine_arn: str = Field(
        min_length=20,
        description="The triage state machine: the count that makes a job ready starts a "
        "successor execution when the job's execution has ended (its timeout).",
    )
    processing_deadline_seconds: float = Field(
        default=240, gt=0, description="Finalise every file before this (below the timeout)."
    )
    # Limits (SPEC section 6).
    max_photo_bytes: int = Field(
        default=LIMITS["max_photo_bytes"], gt=0, description="Larger photos: too_large."
    )
    max_photo_pixels: int = Field(
        default=LIMITS["max_photo_pixels"],
        gt=0,
        description="Decompression-bomb guard: too_many_pixels.",
    )
    max_video_bytes: int = Field(
        default=LIMITS["max_video_bytes"], gt=0, description="Larger: too_large."
    )
    max_video_seconds: float = Field(
        default=LIMITS["max_video_seconds"], gt=0, description="Longer: too_long."
    )
    max_video_pixels: int = Field(
        default=LIMITS["max_video_pixels"],
        gt=0,
        description="Picture size guard (width x height from ffprobe, checked before any frame "
        "is decoded): larger videos are too_many_pixels. Default 8K UHD.",
    )
    # Tools and renditions.
    ffmpeg_path: str = Field(default=VIDEO["ffmpeg"], min_length=1, description="ffmpeg binary.")
    ffprobe_path: str = Field(default=VIDEO["ffprobe"], min_length=1, description="ffprobe binary.")
    thumbnail_edge: int = Field(default=PHOTO["thumbnail_edge"], ge=64, le=2048)
    display_edge: int = Field(default=PHOTO["display_edge"], ge=256, le=8192)
    display_quality: int = Field(default=PHOTO["display_quality"], ge=50, le=95)
    proxy_edge: int = Field(default=VIDEO["proxy_edge"], ge=128, le=1920)
    proxy_fps: float = Field(default=VIDEO["proxy_fps"], gt=0, le=60)
    proxy_max_seconds: float = Field(default=VIDEO["proxy_max_seconds"], gt=0)
    proxy_video_kbps: int = Field(default=VIDEO["proxy_video_kbps"], ge=64)
    proxy_audio_kbps: int = Field(default=VIDEO["proxy_audio_kbps"], ge=16)
    proxy_max_bytes: int = Field(
        default=VIDEO["proxy_max_bytes"], gt=MIB, description="Hard cap (ffmpeg -fs)."
    )
    finalize_reserve_seconds: float = Field(
        default=LIMITS["finalize_reserve_seconds"],
        ge=0,
        description="Deadline share kept for uploads and the final write.",
    )
    async_retry_attempts: int = Field(
        default=2,
        ge=0,
        le=2,
        description="Lambda's async retries of a failed event (Terraform sets it from "
        "async_maximum_retry_attempts): the invocation after the last retry never raises for "
        "an unexpected error, it finalises the file as internal (ADR 0012).",
    )

    @model_validator(mode="after")
    def _deadline_leaves_room(self) -> MediaProcessSettings:
        if self.finalize_reserve_seconds >= self.processing_deadline_seconds:
            raise ValueError("FINALIZE_RESERVE_SECONDS must be below PROCESSING_DEADLINE_SECONDS")
        return self
