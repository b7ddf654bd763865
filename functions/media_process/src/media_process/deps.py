"""Composition root: settings, adapters and limits built once per container."""

from __future__ import annotations

import functools

from media_process.adapters.photo import PhotoOptions, PillowPhotoTool
from media_process.adapters.toolkit import MediaToolkit
from media_process.adapters.video import FfmpegVideoTool, VideoOptions
from media_process.core import Limits
from media_process.settings import MediaProcessSettings
from media_triage_shared import aws
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.executions import StepFunctionsExecutions
from media_triage_shared.adapters.s3 import S3ObjectStore
from media_triage_shared.adapters.wake import JobWaker


@functools.cache
def settings() -> MediaProcessSettings:
    return MediaProcessSettings.from_env()  # from the environment


@functools.cache
def store() -> S3ObjectStore:
    return S3ObjectStore(aws.client("s3"), settings().media_bucket)


@functools.cache
def files() -> DynamoFileRepository:
    s = settings()
    return DynamoFileRepository(
        aws.client("dynamodb"), s.files_table, s.sessions_table, s.file_ttl_hours
    )


@functools.cache
def jobs() -> DynamoJobRepository:
    return DynamoJobRepository(aws.client("dynamodb"), settings().sessions_table)


@functools.cache
def waker() -> JobWaker:
    s = settings()
    return JobWaker(aws.client("dynamodb"), aws.client("stepfunctions"), s.sessions_table)


@functools.cache
def executions() -> StepFunctionsExecutions:
    return StepFunctionsExecutions(aws.client("stepfunctions"), settings().state_machine_arn)


@functools.cache
def media() -> MediaToolkit:
    s = settings()
    photo = PhotoOptions(
        thumbnail_edge=s.thumbnail_edge,
        display_edge=s.display_edge,
        display_quality=s.display_quality,
    )
    video = VideoOptions(
        ffmpeg=s.ffmpeg_path,
        ffprobe=s.ffprobe_path,
        thumbnail_edge=s.thumbnail_edge,
        proxy_edge=s.proxy_edge,
        proxy_fps=s.proxy_fps,
        proxy_max_seconds=s.proxy_max_seconds,
        proxy_video_kbps=s.proxy_video_kbps,
        proxy_audio_kbps=s.proxy_audio_kbps,
        proxy_max_bytes=s.proxy_max_bytes,
    )
    return MediaToolkit(PillowPhotoTool(photo), FfmpegVideoTool(video))


@functools.cache
def limits() -> Limits:
    s = settings()
    return Limits(
        ttl_hours=s.file_ttl_hours,
        stall_timeout_seconds=s.stall_timeout_seconds,
        max_photo_bytes=s.max_photo_bytes,
        max_photo_pixels=s.max_photo_pixels,
        max_video_bytes=s.max_video_bytes,
        max_video_seconds=s.max_video_seconds,
        max_video_pixels=s.max_video_pixels,
        finalize_reserve_seconds=s.finalize_reserve_seconds,
        # The presigned GET must outlive every ffmpeg read of this invocation.
        presign_seconds=int(s.processing_deadline_seconds) + 300,
        max_attempts=1 + s.async_retry_attempts,
    )
