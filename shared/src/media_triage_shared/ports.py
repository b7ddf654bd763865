"""Ports the cores depend on. AWS adapters live in ``media_triage_shared.adapters``; tests use
in-memory fakes of the same protocols (tests/fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from media_triage_shared.models import FileRow, JobRow, JobStatus, VerdictSummary


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None = None


class ObjectStore(Protocol):
    def head(self, key: str) -> ObjectInfo | None: ...

    def get_bytes(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def presign_get(self, key: str, expires_in: int) -> str: ...

    def list_keys(self, prefix: str) -> Iterator[str]: ...

    def delete_keys(self, keys: list[str]) -> int: ...


class JobRepository(Protocol):
    def get_job(self, session_id: str, job_id: str) -> JobRow | None: ...

    def create_job(self, job: JobRow) -> JobRow:
        """Create the job row, keeping any counter that early uploads already wrote.
        Returns the stored row (an existing one for a repeated idempotency key)."""
        ...

    def mark_processing(self, session_id: str, job_id: str, stall_deadline: str) -> None:
        """A file landed: pending -> processing, and push the stall deadline forward."""
        ...

    def set_status(
        self,
        session_id: str,
        job_id: str,
        status: JobStatus,
        phase: str,
        *,
        error: str | None = None,
        summary: VerdictSummary | None = None,
        partial: bool | None = None,
    ) -> None: ...


class FileRepository(Protocol):
    def get_file(self, job_id: str, file_id: str) -> FileRow | None: ...

    def begin(self, row: FileRow) -> bool:
        """Write the ``processing`` row unless the file already exists. True if written."""
        ...

    def finalize(self, row: FileRow, *, stall_deadline: str) -> bool:
        """Write the final row and count it on the job, exactly once per fileId.

        One transaction: the file row (guarded by "not counted yet") and ``ADD
        processedCount 1`` on the job row. Returns False when it was already counted."""
        ...

    def list_files(self, job_id: str) -> list[FileRow]: ...

    def write_verdicts(self, rows: list[FileRow]) -> None: ...
