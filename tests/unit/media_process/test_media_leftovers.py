"""Issue 13 items 6, 7b and 7c in MediaProcess: a cancelled job's objects never outlive the
work in flight, a file that arrives after triage started is ``late`` (never ``valid`` without
a verdict), and Lambda's retry after a crash between the count and the wake-up wakes the
state machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import JOB, SESSION, Env
from support.corpus import BY_NAME
from support.fakes import RecordingWaker
from support.tables import FILES, SESSIONS, moto_app
from test_media_handler import Context, _event

from media_process import core
from media_triage_shared import keys
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.errors import JobCancelled, JobStateChanged
from media_triage_shared.models import FileRow, FileStatus, JobRow, JobStatus


def _job_objects(env: Env) -> list[str]:
    prefixes = (keys.upload_prefix(SESSION, JOB), keys.derived_prefix(SESSION, JOB))
    return sorted(k for k in env.store.objects if k.startswith(prefixes))


def _sweep(env: Env) -> None:
    """What DELETE does (init_session.core.cancel): status cancelled, then every object under
    the job's prefixes deleted."""
    assert env.jobs.cancel(SESSION, JOB)
    env.store.delete_keys(_job_objects(env))


class _During:
    """The real toolkit, running ``hook`` once the named step has produced its result (the
    invocation is mid-file: decoded, nothing written yet)."""

    def __init__(self, inner: Any, step: str, hook: Any) -> None:
        self.inner, self.step, self.hook = inner, step, hook

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = getattr(self.inner, name)(*args, **kwargs)
            if name == self.step:
                self.hook()
            return result

        return call


# ---------------------------------------------------------------------------- item 6


def test_a_late_upload_to_a_cancelled_job_is_deleted_with_what_an_earlier_attempt_wrote(
    env: Env,
) -> None:
    env.create_job()
    upload = env.put("late.jpg", BY_NAME["jpeg_exif"].data())
    stale = keys.derived_key(SESSION, JOB, upload.file_id, "thumb.jpg")
    env.store.put_bytes(stale, b"jpeg", "image/jpeg")  # an attempt that crashed after a write
    env.jobs.cancel(SESSION, JOB)  # ...and DELETE swept before this upload landed
    outcome = env.process(upload)
    assert outcome.job_cancelled
    assert not outcome.settled
    assert _job_objects(env) == []
    assert env.processed_count() == 0


def test_objects_written_after_the_sweep_are_deleted_by_the_invocation_itself(env: Env) -> None:
    env.create_job(expected=2)
    upload = env.put("big.jpg", BY_NAME["jpeg_large"].data())
    media = _During(env.media, "process_photo", lambda: _sweep(env))
    outcome = env.process(upload, media=media)
    assert outcome.job_cancelled
    assert not outcome.counted
    # it wrote thumb.jpg and display.jpg after the sweep, then its count was refused
    assert _job_objects(env) == []
    assert env.processed_count() == 0


def test_a_video_cancelled_mid_proxy_leaves_nothing(env: Env) -> None:
    env.create_job(expected=2)
    upload = env.put("clip.mp4", BY_NAME["mp4"].data())
    media = _During(env.media, "video_thumbnail", lambda: _sweep(env))
    assert env.process(upload, media=media).job_cancelled
    assert _job_objects(env) == []


def test_a_concurrent_delivery_that_finishes_after_the_sweep_deletes_its_writes(
    env: Env,
) -> None:
    """Delivery B starts; delivery A of the same event counts the file; DELETE sweeps; B then
    writes its derived objects (the same keys) and finds the file counted: B must still clean
    up, since nobody else will."""
    env.create_job(expected=2)
    upload = env.put("twice.jpg", BY_NAME["jpeg_large"].data())

    def first_delivery_then_cancel() -> None:
        assert env.process(upload).counted  # delivery A
        _sweep(env)

    media = _During(env.media, "process_photo", first_delivery_then_cancel)
    outcome = env.process(upload, media=media)  # delivery B
    assert outcome.job_cancelled
    assert _job_objects(env) == []
    assert env.processed_count() == 1  # counted once, by A, before the cancel


def test_an_uncancelled_job_keeps_its_objects(env: Env) -> None:
    env.create_job()
    upload = env.put("keep.jpg", BY_NAME["jpeg_large"].data())
    outcome = env.process(upload)
    assert outcome.counted
    names = {"thumb.jpg", "display.jpg"}
    assert env.derived(upload.file_id) == names
    assert upload.key in env.store.objects


# ---------------------------------------------------------------------------- item 7b


@pytest.mark.parametrize("status", [JobStatus.COMPLETE, JobStatus.ANALYZING])
def test_a_file_after_triage_started_is_late_and_counted_once(env: Env, status: JobStatus) -> None:
    env.create_job()
    assert env.jobs.set_status(SESSION, JOB, status, "x")
    upload = env.put("late.jpg", BY_NAME["jpeg_exif"].data())
    outcome = env.process(upload)
    row = env.files.get_file(JOB, upload.file_id)
    assert row is not None
    assert outcome.counted
    assert row.status is FileStatus.INVALID
    assert row.error is not None
    assert row.error.code == "late"
    assert "new job" in row.error.message
    assert row.thumbnail_key is not None  # the page can still show what it was
    assert row.counted
    assert env.processed_count() == 1
    assert not env.process(upload).counted  # a second delivery counts nothing
    assert env.processed_count() == 1


def test_a_file_on_a_failed_job_counts_as_usual_so_retry_triages_it(env: Env) -> None:
    env.create_job()
    assert env.jobs.set_status(SESSION, JOB, JobStatus.FAILED, "failed")
    upload = env.put("a.jpg", BY_NAME["jpeg_exif"].data())
    assert env.process(upload).counted
    row = env.files.get_file(JOB, upload.file_id)
    assert row is not None
    assert row.status is FileStatus.VALID


def test_a_broken_late_file_keeps_its_own_reason(env: Env) -> None:
    env.create_job()
    assert env.jobs.set_status(SESSION, JOB, JobStatus.COMPLETE, "done")
    upload = env.put("broken.jpg", BY_NAME["jpeg_exif"].data()[:300])
    env.process(upload)
    row = env.files.get_file(JOB, upload.file_id)
    assert row is not None
    assert row.error is not None
    assert row.error.code == "corrupt"


def test_triage_starting_while_the_file_is_processed_makes_it_late(env: Env) -> None:
    env.create_job()
    upload = env.put("racing.jpg", BY_NAME["jpeg_exif"].data())

    def triage_starts() -> None:
        assert env.jobs.set_status(SESSION, JOB, JobStatus.ANALYZING, "analyzing")

    outcome = env.process(upload, media=_During(env.media, "process_photo", triage_starts))
    assert outcome.counted
    assert outcome.row.error is not None
    assert outcome.row.error.code == "late"
    assert env.processed_count() == 1


def test_a_duplicate_that_arrives_late_is_late_not_a_duplicate(env: Env) -> None:
    env.create_job(expected=1)
    data = BY_NAME["jpeg_exif"].data()
    assert env.process(env.put("a.jpg", data)).row.status is FileStatus.VALID
    assert env.jobs.set_status(SESSION, JOB, JobStatus.COMPLETE, "done")
    late = env.process(env.put("copy.jpg", data)).row
    assert late.status is FileStatus.INVALID
    assert late.duplicate_of is None


# ---------------------------------------------------------------------------- item 7c


class _CrashOnce(RecordingWaker):
    """The invocation dies right after its count, before the wake-up went out."""

    def __init__(self) -> None:
        super().__init__()
        self.crashed = False

    def wake_if_ready(self, session_id: str, job_id: str) -> bool:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("Lambda timed out")
        return super().wake_if_ready(session_id, job_id)


def test_the_retry_after_a_crash_between_count_and_wake_up_wakes_the_job(
    env: Env, handler: Any
) -> None:
    env.create_job(expected=1)
    env.waker = _CrashOnce()
    upload = env.put("last.jpg", BY_NAME["jpeg_exif"].data())
    event = _event(upload.key)
    with pytest.raises(RuntimeError):
        handler(event, Context())  # counted, then the crash
    assert env.processed_count() == 1
    assert env.waker.calls == []
    assert handler(event, Context()) == {
        "processed": [{"fileId": upload.file_id, "status": "valid"}]
    }
    assert env.processed_count() == 1  # not counted twice
    assert env.waker.calls == [(SESSION, JOB)]  # ...but the state machine is woken


def test_a_retry_on_an_unfinished_job_does_not_wake_anything(env: Env, handler: Any) -> None:
    env.create_job(expected=2)
    upload = env.put("one.jpg", BY_NAME["jpeg_exif"].data())
    handler(_event(upload.key), Context())
    handler(_event(upload.key), Context())
    assert env.waker.calls == []  # 1 of 2: not ready, whoever asks


# ---------------------------------------------------------------------------- DynamoDB guards

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DynamoFileRepository, Any]]:
    with moto_app(monkeypatch, bucket=False) as app:
        client = app.ddb
        jobs = DynamoJobRepository(client, SESSIONS)
        jobs.create_job(
            JobRow(
                session_id="s1",
                job_id="j1",
                expected_file_count=1,
                token_hash="h",
                created_at="2026-11-28T12:00:00Z",
                updated_at="2026-11-28T12:00:00Z",
                stall_deadline="2026-11-28T12:10:00Z",
                expires_at=2_000_000_000,
            )
        )
        yield DynamoFileRepository(client, FILES, SESSIONS, 24), jobs


def _row(file_id: str, status: FileStatus = FileStatus.VALID) -> FileRow:
    return FileRow(
        job_id="j1",
        file_id=file_id,
        session_id="s1",
        filename="a.jpg",
        original_key=f"uploads/s1/j1/{file_id}/a.jpg",
        status=status,
        created_at="2026-11-28T12:00:00Z",
        updated_at="2026-11-28T12:00:00Z",
        expires_at=2_000_000_000,
    )


def test_the_counting_transaction_is_guarded_by_the_jobs_side(
    ddb: tuple[DynamoFileRepository, DynamoJobRepository],
) -> None:
    files, jobs = ddb

    def processed() -> int:
        job = jobs.get_job("s1", "j1")
        assert job is not None
        return job.processed_count

    assert jobs.set_status("s1", "j1", JobStatus.COMPLETE, "done")
    with pytest.raises(JobStateChanged) as refused:
        files.finalize(_row("f1"), stall_deadline="d")  # an open job's row
    assert refused.value.status == "complete"
    assert files.get_file("j1", "f1") is None
    assert processed() == 0
    assert files.finalize(_row("f1", FileStatus.INVALID), stall_deadline="d", job_closed=True)
    assert processed() == 1

    assert jobs.set_status("s1", "j1", JobStatus.FAILED, "failed")
    with pytest.raises(JobStateChanged) as reopened:
        files.finalize(_row("f2"), stall_deadline="d", job_closed=True)
    assert reopened.value.status == "failed"
    assert files.finalize(_row("f2"), stall_deadline="d")  # failed is open: retry triages it
    assert processed() == 2

    assert jobs.cancel("s1", "j1")
    for closed in (False, True):
        with pytest.raises(JobCancelled):
            files.finalize(_row("f3"), stall_deadline="d", job_closed=closed)
    assert processed() == 2
    # a counter stub (no job row yet) still counts an open row: init may come second
    assert files.finalize(
        _row("f4").model_copy(update={"job_id": "j2", "original_key": "uploads/s1/j2/f4/a.jpg"}),
        stall_deadline="d",
    )


def test_the_core_on_dynamodb_stores_a_late_row(
    ddb: tuple[DynamoFileRepository, DynamoJobRepository], env: Env
) -> None:
    files, jobs = ddb
    assert jobs.set_status("s1", "j1", JobStatus.ANALYZING, "analyzing")
    upload = keys.UploadKey("s1", "j1", "f9", "a.jpg")
    env.store.put_bytes(upload.key, BY_NAME["jpeg_exif"].data(), "image/jpeg")
    outcome = core.process_upload(
        upload,
        store=env.store,
        files=files,
        jobs=jobs,
        media=env.media,
        limits=env.limits,
        now=NOW,
        deadline=core.Deadline.after(60),
    )
    assert outcome.counted
    stored = files.get_file("j1", "f9")
    assert stored is not None
    assert stored.error is not None
    assert (stored.status, stored.error.code) == (FileStatus.INVALID, "late")
