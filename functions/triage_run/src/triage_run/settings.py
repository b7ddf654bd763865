"""TriageRun settings, validated at cold start."""

from __future__ import annotations

from media_triage_shared.settings import BaseAppSettings


class TriageSettings(BaseAppSettings):
    pass
