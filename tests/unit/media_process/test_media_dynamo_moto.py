"""The repository methods MediaProcess added, and the core on the real S3/DynamoDB adapters,
against moto in-process: the conditions are DynamoDB's, not the fakes'."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from support.corpus import BY_NAME
from support.tables import BUCKET, FILES, SESSIONS, moto_app

from media_process import core
from media_process.adapters.photo import PillowPhotoTool
from media_process.adapters.toolkit import MediaToolkit
from media_process.adapters.video import FfmpegVideoTool
from media_triage_shared import keys
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.s3 import S3ObjectStore
from media_triage_shared.errors import JobCancelled
from media_triage_shared.models import FileRow, FileStatus, JobRow, JobStatus

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with moto_app(monkeypatch) as app:
        ddb, s3 = app.ddb, app.s3
        files = DynamoFileRepository(ddb, FILES, SESSIONS, 24)
        jobs = DynamoJobRepository(ddb, SESSIONS)
        yield {
            "ddb": ddb,
            "s3": s3,
            "files": files,
            "jobs": jobs,
            "store": S3ObjectStore(s3, BUCKET),
        }


def _row(status: FileStatus, **extra: Any) -> FileRow:
    return FileRow(
        job_id="j1",
        file_id="f1",
        session_id="s1",
        filename="IMG 1.jpg",
        original_key="uploads/s1/j1/f1/IMG 1.jpg",
        status=status,
        created_at="2026-11-28T12:00:00Z",
        updated_at="2026-11-28T12:00:00Z",
        expires_at=2_000_000_000,
        **extra,
    )


def _job(expected: int) -> JobRow:
    return JobRow(
        session_id="s1",
        job_id="j1",
        expected_file_count=expected,
        token_hash="h",
        created_at="2026-11-28T12:00:00Z",
        updated_at="2026-11-28T12:00:00Z",
        stall_deadline="2026-11-28T12:10:00Z",
        expires_at=2_000_000_000,
    )


def test_start_processing_replaces_uploading_but_never_a_final_row(aws: dict[str, Any]) -> None:
    files: DynamoFileRepository = aws["files"]
    files.add_uploading([_row(FileStatus.UPLOADING, size=10)])
    assert files.start_processing(_row(FileStatus.PROCESSING, size=10))
    assert files.get_file("j1", "f1").status is FileStatus.PROCESSING  # type: ignore[union-attr]
    assert files.finalize(_row(FileStatus.VALID), stall_deadline="2026-11-28T12:10:00Z")
    assert not files.start_processing(_row(FileStatus.PROCESSING))
    assert files.get_file("j1", "f1").status is FileStatus.VALID  # type: ignore[union-attr]


def test_a_cancelled_job_counts_nothing_and_keeps_the_row_unfinished(aws: dict[str, Any]) -> None:
    files: DynamoFileRepository = aws["files"]
    jobs: DynamoJobRepository = aws["jobs"]
    jobs.create_job(_job(expected=2))
    assert files.start_processing(_row(FileStatus.PROCESSING, size=10))
    assert jobs.set_status("s1", "j1", JobStatus.CANCELLED, "cancelled")
    with pytest.raises(JobCancelled):
        files.finalize(_row(FileStatus.VALID), stall_deadline="2026-11-28T12:10:00Z")
    # One transaction: neither the final row nor the count was written.
    assert files.get_file("j1", "f1").status is FileStatus.PROCESSING  # type: ignore[union-attr]
    assert jobs.get_job("s1", "j1").processed_count == 0  # type: ignore[union-attr]


def test_fingerprint_claims_have_one_owner_under_contention(aws: dict[str, Any]) -> None:
    files: DynamoFileRepository = aws["files"]
    barrier = threading.Barrier(8)

    def claim(i: int) -> str:
        barrier.wait()
        return files.claim_fingerprint("j1", "sha256:abc", f"f{i}", 2_000_000_000)

    with ThreadPoolExecutor(8) as pool:
        owners = set(pool.map(claim, range(8)))
    assert len(owners) == 1
    owner = owners.pop()
    assert files.claim_fingerprint("j1", "sha256:abc", owner, 1) == owner  # a retry keeps it
    assert files.claim_fingerprint("j2", "sha256:abc", "other", 1) == "other"  # per job
    # The claim items never show up as files.
    assert files.list_files("j1") == []


def test_the_core_on_real_adapters_counts_once_and_marks_duplicates(aws: dict[str, Any]) -> None:
    store: S3ObjectStore = aws["store"]
    files: DynamoFileRepository = aws["files"]
    jobs: DynamoJobRepository = aws["jobs"]
    media = MediaToolkit(PillowPhotoTool(), FfmpegVideoTool())
    data = BY_NAME["jpeg_exif"].data()
    uploads = [keys.UploadKey("s1", "j1", f"f{i}", f"IMG {i}.jpg") for i in range(2)]
    for up in uploads:
        aws["s3"].put_object(Bucket=BUCKET, Key=up.key, Body=data)

    def run(up: keys.UploadKey) -> core.Outcome:
        return core.process_upload(
            up,
            store=store,
            files=files,
            jobs=jobs,
            media=media,
            limits=core.Limits(ttl_hours=24, stall_timeout_seconds=600),
            now=NOW,
            deadline=core.Deadline.after(60),
        )

    first = run(uploads[0])  # before the job row exists: the count waits on a stub
    jobs.create_job(_job(expected=2))
    second = run(uploads[1])
    again = run(uploads[0])  # S3 delivered the first event again

    assert (first.counted, second.counted, again.counted) == (True, True, False)
    assert first.row.status is FileStatus.VALID
    assert second.row.status is FileStatus.DUPLICATE
    assert second.row.duplicate_of == "f0"
    job = jobs.get_job("s1", "j1")
    assert job is not None
    assert job.processed_count == 2
    thumb = aws["s3"].get_object(Bucket=BUCKET, Key=first.row.thumbnail_key)["Body"].read()
    assert thumb[:3] == b"\xff\xd8\xff"
    original = aws["s3"].get_object(Bucket=BUCKET, Key=uploads[0].key)["Body"].read()
    assert original == data
    assert {r.file_id: r.status for r in files.list_files("j1")} == {
        "f0": FileStatus.VALID,
        "f1": FileStatus.DUPLICATE,
    }
