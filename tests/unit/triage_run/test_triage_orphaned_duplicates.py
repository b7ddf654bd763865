"""Issue 13 item 7e: a copy marked ``duplicate`` of a file that then failed (or never finished)
is promoted and judged in its place; the job's count does not move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from support.corpus import BY_NAME
from support.fakes import FakeFileRepository, FakeJobRepository, FakeObjectStore
from support.tables import FILES, SESSIONS, moto_app
from triage_harness import JOB, SESSION, ScriptedAnalyzer, World, derived, row

from media_process import core as media_core
from media_process.adapters.photo import PillowPhotoTool
from media_process.adapters.toolkit import MediaToolkit
from media_process.adapters.video import FfmpegVideoTool
from media_triage_shared import keys
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.models import FileStatus, JobRow, JobStatus, TriageInput, VerdictKind
from triage_run import core

REQ = TriageInput(session_id=SESSION, job_id=JOB)


def run(world: World, analyzer: ScriptedAnalyzer | None = None) -> core.TriageOutput:
    return core.triage(
        REQ,
        files=world.files,
        jobs=world.jobs,
        store=world.store,
        analyzer=analyzer or ScriptedAnalyzer(),
        budget_seconds=60,
        clock=lambda: 1000.0,
    ).output


def _copy(file_id: str, of: str, created: str) -> Any:
    """A copy as MediaProcess stores it: its thumbnail written, nothing more expensive."""
    thumb = derived(file_id, "thumb.jpg")
    return row(
        file_id, FileStatus.DUPLICATE, duplicate_of=of, created_at=created, thumbnail_key=thumb
    )


def test_the_first_copy_of_a_failed_original_is_judged_in_its_place() -> None:
    world = World()
    world.job(expected=4)
    world.add(
        row("owner", FileStatus.INVALID),  # failed after the copies claimed its content
        _copy("copy-b", "owner", "2026-11-28T12:00:02Z"),
        _copy("copy-a", "owner", "2026-11-28T12:00:01Z"),
        _copy("copy-c", "owner", "2026-11-28T12:00:01Z"),
    )
    analyzer = ScriptedAnalyzer()
    out = run(world, analyzer)

    rows = world.stored()
    assert [i.file_id for call in analyzer.calls for i in call] == ["copy-a"]
    assert rows["copy-a"].status is FileStatus.VALID
    assert rows["copy-a"].duplicate_of is None
    assert rows["copy-a"].verdict is VerdictKind.KEEP
    for other in ("copy-b", "copy-c"):
        assert rows[other].status is FileStatus.DUPLICATE
        assert rows[other].duplicate_of == "copy-a"
        assert rows[other].reason == 'duplicate of "copy-a.jpg"'
    assert rows["owner"].verdict is None
    assert (out.keep, out.discard) == (1, 2)
    assert world.job_row().processed_count == 4  # counted once each, untouched


def test_a_copy_of_an_unfinished_original_is_promoted_and_a_rerun_changes_nothing() -> None:
    world = World()
    world.job(expected=3)
    world.add(
        row("owner", FileStatus.PROCESSING),  # a partial (stalled) triage: owner not final
        _copy("copy", "owner", "2026-11-28T12:00:01Z"),
        row("other"),
        _copy("copy-of-valid", "other", "2026-11-28T12:00:01Z"),
    )
    run(world)
    first = world.stored()
    assert first["copy"].status is FileStatus.VALID
    assert first["copy-of-valid"].status is FileStatus.DUPLICATE  # its original is valid
    assert first["copy-of-valid"].duplicate_of == "other"

    world.jobs.set_status(SESSION, JOB, JobStatus.ANALYZING, "analyzing")
    run(world)  # a retry of the triage: same rows, same verdicts
    again = world.stored()
    assert {k: (r.status, r.duplicate_of, r.verdict) for k, r in again.items()} == {
        k: (r.status, r.duplicate_of, r.verdict) for k, r in first.items()
    }


def test_reassignment_is_guarded_by_the_row_still_being_that_duplicate() -> None:
    files = FakeFileRepository(FakeJobRepository())
    copy = _copy("copy", "owner", "t")
    files.rows[(JOB, "copy")] = copy
    promoted = copy.model_copy(update={"status": FileStatus.VALID, "duplicate_of": None})
    assert not files.reassign_duplicate(promoted, was_duplicate_of="someone-else")
    assert files.reassign_duplicate(promoted, was_duplicate_of="owner")
    assert not files.reassign_duplicate(promoted, was_duplicate_of="owner")  # done already


# ---------------------------------------------------------------------------- end to end


NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_app(monkeypatch, bucket=False) as app:
        yield app.ddb


def test_media_process_then_triage_on_dynamodb_promote_the_copy(ddb: Any) -> None:
    """The real sequence: the owner claims the fingerprint, its copy is finalised as its
    duplicate meanwhile, then the owner fails (S3 refuses its display copy: ``internal``);
    TriageRun judges the copy instead. Counted exactly once each throughout."""
    files = DynamoFileRepository(ddb, FILES, SESSIONS, 24)
    jobs = DynamoJobRepository(ddb, SESSIONS)
    jobs.create_job(
        JobRow(
            session_id=SESSION,
            job_id=JOB,
            expected_file_count=2,
            token_hash="h",
            created_at="2026-11-28T12:00:00Z",
            updated_at="2026-11-28T12:00:00Z",
            stall_deadline="2099-01-01T00:00:00Z",
            expires_at=2_000_000_000,
        )
    )
    owner = keys.UploadKey(SESSION, JOB, "owner", "a.jpg")
    copy = keys.UploadKey(SESSION, JOB, "copy", "a copy.jpg")
    media = MediaToolkit(PillowPhotoTool(), FfmpegVideoTool())
    limits = media_core.Limits(ttl_hours=24, stall_timeout_seconds=600, finalize_reserve_seconds=0)

    def process(up: keys.UploadKey) -> media_core.Outcome:
        return media_core.process_upload(
            up,
            store=store,
            files=files,
            jobs=jobs,
            media=media,
            limits=limits,
            now=NOW,
            deadline=media_core.Deadline.after(60),
        )

    class OwnerFailsAfterItsClaim(FakeObjectStore):
        armed = True

        def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
            if self.armed and key == keys.derived_key(SESSION, JOB, "owner", "display.jpg"):
                self.armed = False
                assert process(copy).row.status is FileStatus.DUPLICATE  # claimed: the owner's
                raise RuntimeError("S3 refused the display copy")  # not transient: internal
            super().put_bytes(key, data, content_type)

    store = OwnerFailsAfterItsClaim()
    data = BY_NAME["jpeg_large"].data()  # large: the owner has a display copy to write
    for up in (owner, copy):
        store.put_bytes(up.key, data, "image/jpeg")
    failed = process(owner).row
    assert failed.error is not None
    assert failed.error.code == "internal"
    job = jobs.get_job(SESSION, JOB)
    assert job is not None
    assert job.processed_count == 2

    jobs.set_status(SESSION, JOB, JobStatus.ANALYZING, "analyzing")
    analyzer = ScriptedAnalyzer()
    core.triage(
        REQ,
        files=files,
        jobs=jobs,
        store=store,
        analyzer=analyzer,
        budget_seconds=60,
        clock=lambda: 1000.0,
    )
    assert [i.file_id for call in analyzer.calls for i in call] == ["copy"]
    stored = {r.file_id: r for r in files.list_files(JOB)}
    assert stored["copy"].status is FileStatus.VALID
    assert stored["copy"].duplicate_of is None
    assert stored["copy"].verdict is VerdictKind.KEEP
    assert stored["owner"].status is FileStatus.INVALID
    assert stored["owner"].verdict is None
    job = jobs.get_job(SESSION, JOB)
    assert job is not None
    assert (job.status, job.processed_count) == (JobStatus.COMPLETE, 2)
