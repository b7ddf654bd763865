"""MediaProcess settings, validated at cold start."""

from __future__ import annotations

from pydantic import Field

from media_triage_shared.settings import BaseAppSettings


class MediaProcessSettings(BaseAppSettings):
    processing_deadline_seconds: float = Field(
        default=240, gt=0, description="Finalise every file before this (below the timeout)."
    )
