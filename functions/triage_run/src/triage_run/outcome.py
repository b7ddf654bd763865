"""What a triage did, beyond its Step Functions output: the figures the handler's metrics need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from media_triage_shared.models import FileRow, TriageOutput, VerdictSummary


@dataclass(frozen=True, slots=True)
class Triaged:
    """What a triage did, for the handler's summary and metrics: the task's output, and for a
    completed job its summary, when it was created and when its last file was processed."""

    output: TriageOutput
    summary: VerdictSummary | None = None
    job_created_at: str | None = None
    last_file_at: str | None = None  # None on a re-run (rows already had verdicts)


def last_file_at(rows: Sequence[FileRow]) -> str | None:
    """When the job's last file was processed (its row's final write, second precision), or
    None when a row already carries a verdict: a re-run, whose wait is not an upload's tail."""
    if any(r.verdict is not None for r in rows):
        return None
    return max((r.updated_at for r in rows if r.is_final), default=None)
