"""TriageRun core: the job's manifest -> verdicts -> job complete."""

from __future__ import annotations

import time

from media_triage_shared.models import (
    FileStatus,
    JobStatus,
    TriageInput,
    TriageOutput,
    VerdictSummary,
)
from media_triage_shared.ports import FileRepository, JobRepository


def run_triage(req: TriageInput, *, files: FileRepository, jobs: JobRepository) -> TriageOutput:
    started = time.perf_counter()
    rows = files.list_files(req.job_id)
    valid = [r for r in rows if r.status is FileStatus.VALID]
    summary = VerdictSummary(
        keep=len(valid),
        discard=len(rows) - len(valid),
        analyzer="none",
        duration_ms=round((time.perf_counter() - started) * 1000),
        partial=req.partial,
    )
    jobs.set_status(
        req.session_id,
        req.job_id,
        JobStatus.COMPLETE,
        "done",
        summary=summary,
        partial=req.partial,
    )
    return TriageOutput(
        job_id=req.job_id,
        status=JobStatus.COMPLETE,
        keep=summary.keep,
        discard=summary.discard,
        partial=req.partial,
    )
