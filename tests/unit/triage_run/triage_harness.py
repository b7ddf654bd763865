"""Builders shared by the TriageRun unit tests: rows, a job with fakes, a scripted analyzer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from support.fakes import FakeFileRepository, FakeJobRepository, FakeObjectStore

from media_triage_shared import keys
from media_triage_shared.job_cost import TokenTally
from media_triage_shared.models import (
    FileError,
    FileRow,
    FileStatus,
    JobRow,
    JobStatus,
    MediaItem,
    MediaType,
    Verdict,
    VerdictKind,
)

SESSION, JOB = "s-1", "j-1"
T = "2026-11-28T12:00:00Z"


def derived(file_id: str, name: str) -> str:
    return keys.derived_key(SESSION, JOB, file_id, name)


def row(
    file_id: str,
    status: FileStatus = FileStatus.VALID,
    media_type: MediaType | None = MediaType.PHOTO,
    **kw: Any,
) -> FileRow:
    values: dict[str, Any] = {
        "job_id": JOB,
        "file_id": file_id,
        "session_id": SESSION,
        "filename": kw.pop("filename", f"{file_id}.jpg"),
        "original_key": keys.upload_key(SESSION, JOB, file_id, f"{file_id}.jpg"),
        "status": status,
        "media_type": media_type if status is not FileStatus.INVALID else None,
        "mime_type": "image/jpeg" if media_type is MediaType.PHOTO else "video/mp4",
        "created_at": T,
        "updated_at": T,
        "expires_at": 2_000_000_000,
        "counted": status in {FileStatus.VALID, FileStatus.INVALID, FileStatus.DUPLICATE},
    }
    if status is FileStatus.VALID and "thumbnail_key" not in kw:
        values["thumbnail_key"] = derived(file_id, "thumb.jpg")
    if status is FileStatus.INVALID:
        values["error"] = FileError(code="corrupt", message="not a photo")
    values.update(kw)
    return FileRow(**values)


@dataclass
class World:
    jobs: FakeJobRepository = field(default_factory=FakeJobRepository)
    store: FakeObjectStore = field(default_factory=FakeObjectStore)
    files: FakeFileRepository = field(init=False)

    def __post_init__(self) -> None:
        self.files = FakeFileRepository(self.jobs)

    def job(
        self,
        expected: int,
        status: JobStatus = JobStatus.ANALYZING,
        model: str | None = "gemini-test",
    ) -> JobRow:
        job = JobRow(
            session_id=SESSION,
            job_id=JOB,
            status=status,
            phase="analyzing",
            expected_file_count=expected,
            token_hash="hash",
            model=model,
            created_at=T,
            updated_at=T,
            stall_deadline=T,
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:t:j-1",
            expires_at=2_000_000_000,
        )
        self.jobs.create_job(job)
        return job

    def add(self, *rows: FileRow) -> None:
        for r in rows:
            self.files.rows[(r.job_id, r.file_id)] = r
            if r.counted:
                self.jobs.count(r.session_id, r.job_id, T)

    def stored(self) -> dict[str, FileRow]:
        return {r.file_id: r for r in self.files.list_files(JOB)}

    def job_row(self) -> JobRow:
        job = self.jobs.get_job(SESSION, JOB)
        assert job is not None
        return job


def verdict(file_id: str, kind: str = "keep", **kw: Any) -> Verdict:
    return Verdict(
        file_id=file_id,
        filename=kw.pop("filename", "model-made-up-name.jpg"),
        verdict=VerdictKind(kind),
        reason=kw.pop("reason", "fine" if kind == "keep" else "bad"),
        score=kw.pop("score", 80 if kind == "keep" else 10),
        issues=kw.pop("issues", []),
    )


@dataclass
class ScriptedAnalyzer:
    """Analyzer port fake: answers with ``answer(items)`` and records what it was sent."""

    answer: Callable[[Sequence[MediaItem]], list[Verdict]] = lambda items: [
        verdict(i.file_id) for i in items
    ]
    name: str = "scripted"
    model: str | None = "scripted-1"
    url_ttl_seconds: int = 600
    calls: list[list[MediaItem]] = field(default_factory=list)
    deadlines: list[float] = field(default_factory=list)
    tokens_per_call: tuple[int, int, int] | None = None  # (prompt, candidates, thoughts)

    def with_model(self, model: str) -> ScriptedAnalyzer:
        self.model = model  # a fake: record the choice in place
        return self

    def analyze(
        self, items: Sequence[MediaItem], *, deadline: float, tokens: TokenTally | None = None
    ) -> list[Verdict]:
        self.calls.append(list(items))
        self.deadlines.append(deadline)
        if tokens is not None and self.tokens_per_call is not None:
            tokens.add(*self.tokens_per_call)
        return self.answer(items)
