"""MediaProcess unit fixtures: the core wired to the in-memory fakes and the REAL Pillow and
ffmpeg adapters (the media work is what is under test), plus a tiny clock for deadlines."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.fakes import (
    SM_ARN,
    FakeExecutions,
    FakeFileRepository,
    FakeJobRepository,
    FakeObjectStore,
    RecordingWaker,
)

from media_process import core
from media_process.adapters.photo import PillowPhotoTool
from media_process.adapters.toolkit import MediaToolkit
from media_process.adapters.video import FfmpegVideoTool
from media_triage_shared import keys
from media_triage_shared.models import FileRow, FileStatus, JobRow
from media_triage_shared.ports import MediaTool

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
SESSION, JOB = "sess1", "job1"


class DiskObjectStore(FakeObjectStore):
    """The fake store, plus what the ffmpeg adapter needs: ``presign_get`` hands out a local
    file (ffmpeg reads it like a URL), and every read is recorded (ranges included)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.reads: list[tuple[str, tuple[int, int] | None]] = []
        self._lock = threading.Lock()

    def get_bytes(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        with self._lock:
            self.reads.append((key, byte_range))
        return super().get_bytes(key, byte_range=byte_range)

    def presign_get(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        path = self.root / hashlib.sha256(key.encode()).hexdigest()
        if not path.exists():
            path.write_bytes(self.objects[key][0])
        return str(path)


@dataclass
class Env:
    store: DiskObjectStore
    jobs: FakeJobRepository
    files: FakeFileRepository
    media: MediaTool
    limits: core.Limits = field(
        default_factory=lambda: core.Limits(
            ttl_hours=24, stall_timeout_seconds=600, finalize_reserve_seconds=0
        )
    )
    waker: RecordingWaker = field(default_factory=RecordingWaker)
    executions: FakeExecutions = field(default_factory=FakeExecutions)
    _next: int = 0

    def create_job(self, expected: int = 1, session_id: str = SESSION, job_id: str = JOB) -> None:
        self.jobs.create_job(
            JobRow(
                session_id=session_id,
                job_id=job_id,
                expected_file_count=expected,
                token_hash="h" * 64,
                created_at="2026-11-28T12:00:00Z",
                updated_at="2026-11-28T12:00:00Z",
                stall_deadline="2026-11-28T12:10:00Z",
                expires_at=2_000_000_000,
            )
        )

    def put(self, filename: str, data: bytes, *, file_id: str | None = None) -> keys.UploadKey:
        """Land an object under uploads/ as the browser's presigned POST would."""
        if file_id is None:
            self._next += 1
            file_id = f"f{self._next:03d}"
        upload = keys.UploadKey(SESSION, JOB, file_id, keys.safe_filename(filename))
        self.store.put_bytes(upload.key, data, "application/octet-stream")
        return upload

    def uploading_row(self, upload: keys.UploadKey, filename: str, size: int) -> FileRow:
        """The row init_session writes when it hands out the upload target."""
        row = FileRow(
            job_id=upload.job_id,
            file_id=upload.file_id,
            session_id=upload.session_id,
            filename=filename,
            original_key=upload.key,
            status=FileStatus.UPLOADING,
            size=size,
            content_type="image/jpeg",
            created_at="2026-11-28T11:59:00Z",
            updated_at="2026-11-28T11:59:00Z",
            expires_at=2_000_000_000,
        )
        self.files.add_uploading([row])
        return row

    def process(
        self,
        upload: keys.UploadKey,
        *,
        deadline: core.Deadline | None = None,
        media: MediaTool | None = None,
        limits: core.Limits | None = None,
    ) -> core.Outcome:
        return core.process_upload(
            upload,
            store=self.store,
            files=self.files,
            jobs=self.jobs,
            media=media or self.media,
            limits=limits or self.limits,
            now=NOW,
            deadline=deadline or core.Deadline.after(120),
        )

    def processed_count(self) -> int:
        return self.jobs.counters.get((SESSION, JOB), 0)

    def derived(self, file_id: str) -> set[str]:
        prefix = keys.derived_prefix(SESSION, JOB) + f"{file_id}/"
        return {k.removeprefix(prefix) for k in self.store.objects if k.startswith(prefix)}


@pytest.fixture(scope="session")
def media_tool() -> MediaToolkit:
    return MediaToolkit(PillowPhotoTool(), FfmpegVideoTool())


@pytest.fixture
def env(tmp_path: Path, media_tool: MediaToolkit) -> Iterator[Env]:
    jobs = FakeJobRepository()
    return Env(DiskObjectStore(tmp_path), jobs, FakeFileRepository(jobs), media_tool)


class FakeClock:
    """A ``time.monotonic`` stand-in the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def handler(env: Env, monkeypatch: pytest.MonkeyPatch) -> Any:
    """media_process's Lambda handler with its composition root pointed at ``env``'s fakes."""
    for name, value in {
        "MEDIA_BUCKET": "media-triage-local-media",
        "SESSIONS_TABLE": "sessions",
        "FILES_TABLE": "files",
        "STATE_MACHINE_ARN": SM_ARN,
    }.items():
        monkeypatch.setenv(name, value)
    from media_process import deps
    from media_process import handler as module

    for port in ("store", "files", "jobs", "media", "limits", "waker", "executions"):
        monkeypatch.setattr(deps, port, lambda port=port: getattr(env, port))
    return module.handler
