"""Exactly-once accounting and duplicates, whatever S3 and Lambda do: repeated deliveries,
concurrent invocations, identical files racing, uploads landing before the job row."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

from conftest import JOB, SESSION, Env
from support.corpus import BY_NAME

from media_triage_shared.media import MediaFailure, PhotoResult
from media_triage_shared.models import FileStatus, JobStatus


def test_a_repeated_delivery_is_a_no_op(env: Env) -> None:
    env.create_job()
    upload = env.put("clip.mp4", BY_NAME["mp4"].data())
    first = env.process(upload)
    reads_after_first = len(env.store.reads)

    again = env.process(upload)
    third = env.process(upload)

    assert first.counted
    assert not again.counted
    assert not third.counted
    assert again.row == third.row == env.files.get_file(JOB, upload.file_id)
    assert again.row.status is FileStatus.VALID
    assert env.processed_count() == 1
    assert len(env.store.reads) == reads_after_first  # no media work redone


def test_concurrent_deliveries_of_one_file_count_once(env: Env) -> None:
    env.create_job()
    upload = env.put("IMG.jpg", BY_NAME["jpeg_large"].data())
    barrier = threading.Barrier(6)

    def deliver() -> bool:
        barrier.wait()
        return env.process(upload).counted

    with ThreadPoolExecutor(6) as pool:
        counted = list(pool.map(lambda _: deliver(), range(6)))

    assert counted.count(True) == 1
    assert env.processed_count() == 1
    row = env.files.get_file(JOB, upload.file_id)
    assert row is not None
    assert row.status is FileStatus.VALID


def test_identical_files_racing_yield_one_valid_and_duplicates(env: Env) -> None:
    env.create_job(expected=5)
    data = BY_NAME["jpeg_exif"].data()
    uploads = [env.put(f"copy {i}.jpg", data) for i in range(5)]
    barrier = threading.Barrier(len(uploads))

    def deliver(i: int) -> FileStatus:
        barrier.wait()
        return env.process(uploads[i]).row.status

    with ThreadPoolExecutor(len(uploads)) as pool:
        statuses = list(pool.map(deliver, range(len(uploads))))

    assert statuses.count(FileStatus.VALID) == 1
    assert statuses.count(FileStatus.DUPLICATE) == 4
    owner = uploads[statuses.index(FileStatus.VALID)].file_id
    rows = [env.files.get_file(JOB, u.file_id) for u in uploads]
    assert {r.duplicate_of for r in rows if r and r.status is FileStatus.DUPLICATE} == {owner}
    assert env.processed_count() == 5  # duplicates count as processed
    # Only the owner gets the expensive derived objects; each duplicate still has a thumbnail.
    assert all(env.derived(u.file_id) == {"thumb.jpg"} for u in uploads)


def test_video_duplicates_skip_the_proxy(env: Env) -> None:
    env.create_job(expected=2)
    data = BY_NAME["mp4"].data()
    first = env.process(env.put("clip.mp4", data)).row
    second = env.process(env.put("clip (1).mp4", data)).row
    assert first.status is FileStatus.VALID
    assert second.status is FileStatus.DUPLICATE
    assert second.duplicate_of == first.file_id
    assert env.derived(second.file_id) == {"thumb.jpg"}
    assert second.duration_seconds == first.duration_seconds


def test_a_retry_of_the_first_claimant_stays_valid(env: Env) -> None:
    env.create_job(expected=2)
    data = BY_NAME["webp"].data()
    upload = env.put("a.webp", data)
    # A first attempt claimed the fingerprint and died before its final write.
    fingerprint = "sha256:" + hashlib.sha256(data).hexdigest()
    env.files.claim_fingerprint(JOB, fingerprint, upload.file_id, 1)
    row = env.process(upload).row
    assert row.status is FileStatus.VALID
    assert row.duplicate_of is None


def test_identical_invalid_files_are_each_invalid_not_duplicates(env: Env) -> None:
    env.create_job(expected=2)
    data = BY_NAME["jpeg_truncated"].data()
    a = env.process(env.put("a.jpg", data)).row
    b = env.process(env.put("b.jpg", data)).row
    assert a.status is b.status is FileStatus.INVALID
    assert a.error == b.error
    assert b.duplicate_of is None


def test_empty_files_are_never_duplicates_of_each_other(env: Env) -> None:
    env.create_job(expected=2)
    assert env.process(env.put("a.jpg", b"")).row.error.code == "empty"  # type: ignore[union-attr]
    assert env.process(env.put("b.jpg", b"")).row.error.code == "empty"  # type: ignore[union-attr]


def test_an_upload_before_its_job_row_is_counted_once_the_job_exists(env: Env) -> None:
    upload = env.put("early.jpg", BY_NAME["unicode_name"].data())
    outcome = env.process(upload)  # no job row yet: the counter lands on a stub
    assert outcome.counted
    assert env.jobs.get_job(SESSION, JOB) is None

    env.create_job(expected=2)
    env.process(upload)  # and S3 delivered it once more
    second = env.process(env.put("later.jpg", BY_NAME["long_name"].data()))

    assert second.counted
    job = env.jobs.get_job(SESSION, JOB)
    assert job is not None
    assert job.processed_count == 2


def test_processing_is_visible_before_the_heavy_work(env: Env) -> None:
    env.create_job()
    upload = env.put("IMG.jpg", BY_NAME["jpeg_exif"].data())
    env.uploading_row(upload, "IMG.jpg", len(BY_NAME["jpeg_exif"].data()))
    seen: list[tuple[FileStatus | None, JobStatus | None]] = []

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(env.media, name)

        def process_photo(
            self, data: bytes, mime_type: str, *, max_pixels: int
        ) -> PhotoResult | MediaFailure:
            row = env.files.get_file(JOB, upload.file_id)
            job = env.jobs.get_job(SESSION, JOB)
            seen.append((row.status if row else None, job.status if job else None))
            return env.media.process_photo(data, mime_type, max_pixels=max_pixels)

    env.process(upload, media=Spy())  # type: ignore[arg-type]
    assert seen == [(FileStatus.PROCESSING, JobStatus.PROCESSING)]


def test_the_processing_row_keeps_what_init_wrote(env: Env) -> None:
    env.create_job()
    name = "Ünïcode name with spaces.jpg"
    upload = env.put(name, BY_NAME["jpeg_rotated"].data())
    init_row = env.uploading_row(upload, name, len(BY_NAME["jpeg_rotated"].data()))
    row = env.process(upload).row
    assert row.filename == name
    assert row.content_type == init_row.content_type
    assert row.created_at == init_row.created_at
    assert row.original_key == upload.key


def test_a_missing_object_is_final_and_counted(env: Env) -> None:
    env.create_job()
    upload = env.put("gone.jpg", b"x")
    del env.store.objects[upload.key]  # the job was cancelled and its objects deleted
    outcome = env.process(upload)
    assert outcome.counted
    assert outcome.row.error is not None
    assert outcome.row.error.code == "missing"


def test_a_late_upload_to_a_cancelled_job_does_no_work_and_counts_nothing(env: Env) -> None:
    env.create_job(expected=2)
    assert env.jobs.set_status(SESSION, JOB, JobStatus.CANCELLED, "cancelled")
    upload = env.put("late.jpg", BY_NAME["jpeg_exif"].data())  # its presigned URL still worked

    outcome = env.process(upload)

    assert outcome.job_cancelled
    assert not outcome.counted
    assert env.processed_count() == 0
    assert env.derived(upload.file_id) == set()  # no thumbnail or display copy comes back
    assert env.files.get_file(JOB, upload.file_id) is None
    assert env.store.reads == []  # not even the original was read


def test_a_job_cancelled_during_processing_counts_nothing(env: Env) -> None:
    env.create_job(expected=2)
    upload = env.put("IMG.jpg", BY_NAME["jpeg_exif"].data())

    class CancelMidway:
        def __getattr__(self, name: str) -> object:
            return getattr(env.media, name)

        def process_photo(
            self, data: bytes, mime_type: str, *, max_pixels: int
        ) -> PhotoResult | MediaFailure:
            assert env.jobs.set_status(SESSION, JOB, JobStatus.CANCELLED, "cancelled")
            return env.media.process_photo(data, mime_type, max_pixels=max_pixels)

    outcome = env.process(upload, media=CancelMidway())  # type: ignore[arg-type]

    assert outcome.job_cancelled
    assert not outcome.counted
    assert env.processed_count() == 0
    row = env.files.get_file(JOB, upload.file_id)
    assert row is not None
    assert row.status is FileStatus.PROCESSING  # never finalised: the job is gone
