"""TriageRun core with in-memory fakes: manifest, one verdict per valid file, writes, re-runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from triage_harness import JOB, SESSION, ScriptedAnalyzer, World, derived, row, verdict

from media_triage_shared import job_cost
from media_triage_shared.errors import AnalyzerUnavailable, NotFound
from media_triage_shared.job_cost import CostBasis, TokenTally
from media_triage_shared.models import (
    NOT_EVALUATED,
    FileStatus,
    JobStatus,
    MediaItem,
    MediaType,
    TriageInput,
    Verdict,
    VerdictKind,
)
from media_triage_shared.pricing import load_prices
from triage_run import core

REQ = TriageInput(session_id=SESSION, job_id=JOB)


def run(world: World, analyzer: ScriptedAnalyzer, req: TriageInput = REQ) -> core.TriageOutput:
    return core.triage(
        req,
        files=world.files,
        jobs=world.jobs,
        store=world.store,
        analyzer=analyzer,
        budget_seconds=60,
        clock=lambda: 1000.0,
    ).output


@pytest.fixture
def world() -> World:
    w = World()
    w.job(expected=8)
    w.add(
        row("photo-thumb"),
        row("photo-display", display_key=derived("photo-display", "display.jpg")),
        row(
            "video-proxy",
            media_type=MediaType.VIDEO,
            filename="clip.mov",
            proxy_key=derived("video-proxy", "proxy.mp4"),
            duration_seconds=12.5,
        ),
        row("video-thumb-only", media_type=MediaType.VIDEO, filename="old.avi"),
        row("broken", FileStatus.INVALID),
        row("still-uploading", FileStatus.UPLOADING),
        row("copy", FileStatus.DUPLICATE, filename="IMG_1 copy.jpg", duplicate_of="photo-thumb"),
        row("copy-of-unknown", FileStatus.DUPLICATE, duplicate_of=None),
    )
    return w


def test_only_valid_files_are_sent_with_the_right_object_and_presigned_url(world: World) -> None:
    analyzer = ScriptedAnalyzer(url_ttl_seconds=777)
    run(world, analyzer)

    (sent,) = analyzer.calls
    media = {i.file_id: i.media for i in sent}
    assert set(media) == {"photo-thumb", "photo-display", "video-proxy", "video-thumb-only"}
    assert media["photo-thumb"].key == derived("photo-thumb", "thumb.jpg")
    assert media["photo-display"].key == derived("photo-display", "display.jpg")  # not thumb
    assert (media["video-proxy"].key, media["video-proxy"].mime_type) == (
        derived("video-proxy", "proxy.mp4"),
        "video/mp4",
    )
    assert media["video-thumb-only"].mime_type == "image/jpeg"  # no proxy: its thumbnail
    for ref in media.values():
        assert ref.url == f"https://fake-s3.invalid/{ref.key}?expires=777"
    video = next(i for i in sent if i.file_id == "video-proxy")
    assert video.duration_seconds == 12.5
    assert video.media_type is MediaType.VIDEO
    assert video.thumbnail is not None
    assert video.thumbnail.key.endswith("thumb.jpg")
    assert analyzer.deadlines == [1060.0]


def test_an_analyzer_that_reads_objects_itself_gets_no_urls(world: World) -> None:
    analyzer = ScriptedAnalyzer(url_ttl_seconds=0)
    run(world, analyzer)
    assert all(i.media.url is None for i in analyzer.calls[0])


def test_every_valid_file_gets_exactly_one_verdict_and_duplicates_name_their_original(
    world: World,
) -> None:
    out = run(world, ScriptedAnalyzer())

    rows = world.stored()
    with_verdict = {fid for fid, r in rows.items() if r.verdict is not None}
    assert with_verdict == {
        "photo-thumb",
        "photo-display",
        "video-proxy",
        "video-thumb-only",
        "copy",
        "copy-of-unknown",
    }
    assert rows["broken"].verdict is None
    assert rows["still-uploading"].verdict is None
    copy = rows["copy"]
    assert copy.verdict is VerdictKind.DISCARD
    assert copy.issues == ["duplicate"]
    assert copy.reason == 'duplicate of "photo-thumb.jpg"'
    assert rows["copy-of-unknown"].reason == "duplicate of another file in this batch"
    assert (out.keep, out.discard, out.status) == (4, 2, JobStatus.COMPLETE)


def test_the_model_cannot_drop_invent_or_double_files(world: World) -> None:
    def answer(items: Sequence[MediaItem]) -> list[Verdict]:
        return [
            verdict("photo-thumb", "discard", issues=["blurry"], reason="blurred"),
            verdict("photo-thumb", "keep", reason="second answer ignored"),
            verdict("ghost", "discard"),  # an id the job does not have
            verdict("broken", "discard"),  # an invalid file is never judged
            verdict("video-proxy", "keep", score=91),
        ]

    run(world, ScriptedAnalyzer(answer=answer))

    rows = world.stored()
    assert rows["photo-thumb"].verdict is VerdictKind.DISCARD
    assert rows["photo-thumb"].reason == "blurred"
    assert rows["photo-thumb"].issues == ["blurry"]
    assert rows["photo-thumb"].filename == "photo-thumb.jpg"  # ours, not the model's
    assert rows["video-proxy"].score == 91
    for omitted in ("photo-display", "video-thumb-only"):
        assert rows[omitted].verdict is VerdictKind.KEEP
        assert rows[omitted].reason == NOT_EVALUATED
        assert rows[omitted].score == 50
    assert "ghost" not in rows
    assert rows["broken"].verdict is None
    summary = world.job_row().summary
    assert summary is not None
    assert summary.not_evaluated == 2


def test_summary_lands_on_the_job_row_without_touching_counters(world: World) -> None:
    before = world.job_row()
    run(world, ScriptedAnalyzer(), TriageInput(session_id=SESSION, job_id=JOB, partial=True))

    job = world.job_row()
    assert job.status is JobStatus.COMPLETE
    assert job.phase == "done"
    assert job.partial is True
    assert job.summary is not None
    assert job.summary.model_dump() == {
        "keep": 4,
        "discard": 2,
        "analyzer": "scripted",
        "model": "gemini-test",  # the job's override (init body `model`)
        "duration_ms": 0,
        "partial": True,
        "not_evaluated": 0,
        "input_tokens": None,  # the scripted analyzer reports no usage
        "output_tokens": None,
        "cost_usd": None,
    }
    for name in ("processed_count", "expected_file_count", "token_hash", "execution_arn", "model"):
        assert getattr(job, name) == getattr(before, name), name


@pytest.mark.parametrize(
    ("job_model", "asked"), [("gemini-3-pro", "gemini-3-pro"), (None, "scripted-1")]
)
def test_the_jobs_model_override_is_the_one_asked(job_model: str | None, asked: str) -> None:
    w = World()
    w.job(expected=1, model=job_model)
    w.add(row("photo-thumb"))
    analyzer = ScriptedAnalyzer()

    run(w, analyzer)

    assert analyzer.model == asked
    summary = w.job_row().summary
    assert summary is not None
    assert summary.model == asked


def test_a_rerun_replaces_every_verdict_consistently(world: World) -> None:
    run(world, ScriptedAnalyzer())
    first = world.stored()
    assert first["photo-display"].verdict is VerdictKind.KEEP

    def second(items: Sequence[MediaItem]) -> list[Verdict]:
        return [verdict(i.file_id, "discard", issues=["dark"], reason="too dark") for i in items]

    out = run(world, ScriptedAnalyzer(answer=second, name="again"))

    rows = world.stored()
    judged = [r for r in rows.values() if r.verdict is not None]
    assert len(judged) == 6
    valid = [r for r in judged if r.status is FileStatus.VALID]
    assert all(r.verdict is VerdictKind.DISCARD and r.issues == ["dark"] for r in valid)
    assert (out.keep, out.discard) == (0, 6)
    job = world.job_row()
    assert job.summary is not None
    assert (job.summary.keep, job.summary.discard) == (0, 6)
    assert job.summary.analyzer == "again"
    assert job.processed_count == 7


def test_analyzer_down_raises_and_leaves_the_job_for_the_catch(world: World) -> None:
    def down(items: Sequence[MediaItem]) -> list[Verdict]:
        raise AnalyzerUnavailable("gemini failed for 1 of 1 batches: 503 UNAVAILABLE")

    with pytest.raises(AnalyzerUnavailable, match="503 UNAVAILABLE"):
        run(world, ScriptedAnalyzer(answer=down))
    assert world.job_row().status is JobStatus.ANALYZING
    assert all(r.verdict is None for r in world.stored().values())


def test_a_cancelled_job_is_left_alone() -> None:
    world = World()
    world.job(expected=1, status=JobStatus.CANCELLED)
    world.add(row("a"))
    analyzer = ScriptedAnalyzer()
    out = run(world, analyzer)
    assert out.status is JobStatus.CANCELLED
    assert analyzer.calls == []
    assert world.job_row().status is JobStatus.CANCELLED


def test_a_job_cancelled_while_the_analyzer_runs_stays_cancelled() -> None:
    world = World()
    world.job(expected=1)
    world.add(row("a"))

    def cancel_meanwhile(items: Sequence[MediaItem]) -> list[Verdict]:
        assert world.jobs.cancel(SESSION, JOB)
        return [verdict(i.file_id) for i in items]

    out = run(world, ScriptedAnalyzer(answer=cancel_meanwhile))
    assert out.status is JobStatus.CANCELLED
    assert world.job_row().status is JobStatus.CANCELLED
    assert world.job_row().summary is None


def test_a_cancel_racing_the_final_write_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cancel lands after TriageRun's last read of the job and before its write: the
    write is conditional, so the job stays cancelled."""
    world = World()
    world.job(expected=1)
    world.add(row("a"))
    reads = 0
    get_job = world.jobs.get_job

    def get_then_cancel(session_id: str, job_id: str) -> Any:
        nonlocal reads
        reads += 1
        job = get_job(session_id, job_id)
        if reads == 2:  # the re-read after the verdicts: stale as soon as it returns
            world.jobs.cancel(session_id, job_id)
        return job

    monkeypatch.setattr(world.jobs, "get_job", get_then_cancel)
    out = run(world, ScriptedAnalyzer())
    assert reads == 2
    assert out.status is JobStatus.CANCELLED
    assert world.job_row().status is JobStatus.CANCELLED


def test_a_missing_job_is_an_error() -> None:
    with pytest.raises(NotFound):
        run(World(), ScriptedAnalyzer())


def test_files_without_a_preview_are_kept_and_small_originals_stand_in() -> None:
    world = World()
    world.job(expected=3)
    world.add(
        row("jpeg-original", thumbnail_key=None, size=2_000_000),
        row("huge-original", thumbnail_key=None, size=90_000_000),
        row("heic-original", thumbnail_key=None, size=3_000_000, mime_type="image/heic"),
    )
    analyzer = ScriptedAnalyzer()
    run(world, analyzer)

    (sent,) = analyzer.calls
    assert [(i.file_id, i.media.key) for i in sent] == [
        ("jpeg-original", world.stored()["jpeg-original"].original_key)
    ]
    rows = world.stored()
    for fid in ("huge-original", "heic-original"):
        assert rows[fid].verdict is VerdictKind.KEEP
        assert rows[fid].reason is not None
        assert rows[fid].reason.startswith(NOT_EVALUATED)


def test_no_valid_file_means_no_analyzer_call() -> None:
    world = World()
    world.job(expected=1)
    world.add(row("bad", FileStatus.INVALID))
    analyzer = ScriptedAnalyzer()
    out = run(world, analyzer)
    assert analyzer.calls == []
    assert (out.keep, out.discard) == (0, 0)
    assert world.job_row().status is JobStatus.COMPLETE


def test_hundreds_of_files_are_all_written() -> None:
    world = World()
    world.job(expected=501)
    world.add(*(row(f"f{i:03d}") for i in range(501)))
    out = run(world, ScriptedAnalyzer())
    assert out.keep == 501
    assert all(r.verdict is VerdictKind.KEEP for r in world.stored().values())


# ---------------------------------------------------------------------------- tokens and cost


def test_the_summary_carries_the_jobs_tokens_and_its_cost() -> None:
    world = World()
    world.job(expected=2, model="gemini-2.5-flash")  # a priced model
    world.add(row("a", size=3_000_000), row("b", display_key=derived("b", "display.jpg")))
    analyzer = ScriptedAnalyzer(tokens_per_call=(12_000, 900, 300))
    basis = CostBasis(load_prices(), triage_memory_mb=1024, storage_hours=24)
    core.triage(
        REQ,
        files=world.files,
        jobs=world.jobs,
        store=world.store,
        analyzer=analyzer,
        budget_seconds=60,
        clock=iter([1000.0, 1002.5]).__next__,
        cost=basis,
    )
    summary = world.jobs.get_job(SESSION, JOB).summary  # type: ignore[union-attr]
    assert summary is not None
    assert (summary.input_tokens, summary.output_tokens) == (12_000, 1200)
    rows = world.files.list_files(JOB)
    tally = TokenTally()
    tally.add(12_000, 900, 300)
    expected = job_cost.estimate(
        job_cost.figures_of(
            rows,
            triage_memory_mb=1024,
            triage_seconds=2.5,
            tokens=tally,
            model="gemini-2.5-flash",
            storage_hours=24,
        ),
        basis.prices,
    )
    assert summary.cost_usd == pytest.approx(expected)
    flash = basis.prices.gemini_model("gemini-2.5-flash")
    assert summary.cost_usd > 12_000 * flash.input_token + 1200 * flash.output_token


def test_an_analyzer_without_tokens_leaves_them_unset(world: World) -> None:
    run(world, ScriptedAnalyzer())
    summary = world.jobs.get_job(SESSION, JOB).summary  # type: ignore[union-attr]
    assert summary is not None
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (None, None, None)


def test_a_model_missing_from_the_price_table_leaves_the_cost_unset(world: World) -> None:
    core.triage(
        REQ,
        files=world.files,
        jobs=world.jobs,
        store=world.store,
        analyzer=ScriptedAnalyzer(tokens_per_call=(100, 10, 0)),  # the job asks "gemini-test"
        budget_seconds=60,
        cost=CostBasis(load_prices(), triage_memory_mb=1024),
    )
    summary = world.jobs.get_job(SESSION, JOB).summary  # type: ignore[union-attr]
    assert summary is not None
    assert (summary.model, summary.input_tokens, summary.cost_usd) == ("gemini-test", 100, None)
