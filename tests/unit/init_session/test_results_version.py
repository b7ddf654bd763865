"""ADR 0019: the results ETag comes from the job row alone, so every write the results document
shows must move the job's ``version``. Walks every writer of both repositories (the DynamoDB
adapters on moto, and the in-memory fakes the cores' tests trust) and checks the version moved;
writers declared silent must leave the rendered document as it was. A property test then runs
random sequences of writers and checks the invariant the page relies on: whenever the document
changed, the ETag changed."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.api import Api, spec
from support.fakes import FakeFileRepository, FakeJobRepository, FakeObjectStore
from support.tables import FILES, SESSIONS, moto_app

from init_session import results
from init_session.api import views
from media_triage_shared.adapters import dynamo_stamp
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.dynamo_base import is_conditional_failure
from media_triage_shared.errors import JobCancelled, JobStateChanged
from media_triage_shared.models import (
    FileError,
    FileRow,
    FileStatus,
    JobPhase,
    JobRow,
    JobStatus,
    MediaType,
    VerdictKind,
    VerdictSummary,
)
from media_triage_shared.ports import FileRepository, JobRepository

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
S, J = "s1", "j1"
READERS = {"get_job", "get_file", "list_files"}
# Writes the results document does not show: the execution's name and count, the upload
# target count, the fingerprint claims (their own items, never listed as files).
SILENT = {"set_execution", "reserve_uploads", "begin_successor", "claim_fingerprint"}


@dataclass
class Repos:
    jobs: JobRepository
    files: FileRepository

    def version(self) -> int:
        job = self.jobs.get_job(S, J)
        return -1 if job is None else job.version

    def document(self) -> tuple[str, str]:
        """The rendered results body and its ETag, as the API answers them."""
        job = self.jobs.get_job(S, J)
        assert job is not None
        body = views.results_view(results.snapshot(job, self), FakeObjectStore(), 900)
        return body.model_dump_json(), views.results_etag(job, 900, NOW)


@contextmanager
def _backend(name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repos]:
    if name == "fake":
        jobs = FakeJobRepository()
        yield Repos(jobs, FakeFileRepository(jobs))  # type: ignore[arg-type]
        return
    with moto_app(monkeypatch, bucket=False) as app:
        yield Repos(
            DynamoJobRepository(app.ddb, SESSIONS),
            DynamoFileRepository(app.ddb, FILES, SESSIONS, 24),
        )


def _job(job_id: str = J) -> JobRow:
    return JobRow(
        session_id=S,
        job_id=job_id,
        expected_file_count=3,
        token_hash="h",
        created_at="2026-11-28T12:00:00Z",
        updated_at="2026-11-28T12:00:00Z",
        stall_deadline="2026-11-28T12:10:00Z",
        expires_at=2_000_000_000,
    )


def _row(i: int, status: FileStatus = FileStatus.UPLOADING, **kw: Any) -> FileRow:
    return FileRow(
        job_id=J,
        file_id=f"f{i}",
        session_id=S,
        filename=f"IMG_{i}.jpg",
        original_key=f"uploads/{S}/{J}/f{i}/IMG_{i}.jpg",
        status=status,
        created_at="t",
        updated_at="t",
        expires_at=2_000_000_000,
        **kw,
    )


def _valid(i: int, **kw: Any) -> FileRow:
    return _row(
        i,
        FileStatus.VALID,
        media_type=MediaType.PHOTO,
        width=10,
        height=10,
        thumbnail_key=f"derived/{S}/{J}/f{i}/thumb.jpg",
        **kw,
    )


def _setup(r: Repos) -> None:
    """A pending job with f0 uploading, f1 a duplicate of f2, f2 invalid."""
    r.jobs.create_job(_job())
    r.files.add_uploading([_row(0)])
    r.files.start_processing(_row(1, FileStatus.DUPLICATE, duplicate_of="f2"))
    r.files.start_processing(_row(2, FileStatus.INVALID, error=FileError(code="x", message="y")))


def _verdict(i: int) -> FileRow:
    return _valid(i, verdict=VerdictKind.DISCARD, reason="blurry", score=10, issues=["blurry"])


def _failed(r: Repos) -> None:
    r.jobs.set_status(S, J, JobStatus.FAILED, JobPhase.FAILED, error="boom")


# Each writer: (prepare, call). ``call`` returns what the writer returned (None for procedures);
# a writer that reports "nothing written" (False / None) fails the walk.
Step = Callable[[Repos], Any]
WRITERS: dict[str, tuple[Step, Step]] = {
    "create_job": (lambda r: None, lambda r: r.jobs.create_job(_job())),
    "mark_processing": (_setup, lambda r: r.jobs.mark_processing(S, J, "d") or True),
    "set_status": (
        _setup,
        lambda r: r.jobs.set_status(S, J, JobStatus.ANALYZING, JobPhase.ANALYZING),
    ),
    "set_expected_count": (_setup, lambda r: r.jobs.set_expected_count(S, J, 7, "d")),
    "begin_retry": (
        lambda r: (_setup(r), _failed(r)),
        lambda r: r.jobs.begin_retry(S, J, JobStatus.PROCESSING, JobPhase.PROCESSING_FILES, "d"),
    ),
    "cancel": (_setup, lambda r: r.jobs.cancel(S, J)),
    "start_processing": (
        _setup,
        lambda r: r.files.start_processing(_row(0, FileStatus.PROCESSING)),
    ),
    "finalize": (_setup, lambda r: r.files.finalize(_valid(0), stall_deadline="d")),
    "write_verdicts": (_setup, lambda r: r.files.write_verdicts([_verdict(1)]) or True),
    "reassign_duplicate": (
        _setup,
        lambda r: r.files.reassign_duplicate(_valid(1), was_duplicate_of="f2"),
    ),
    "begin": (_setup, lambda r: r.files.begin(_row(5, FileStatus.PROCESSING))),
    "add_uploading": (_setup, lambda r: r.files.add_uploading([_row(6), _row(7)]) or True),
    "add_uploading_if_absent": (_setup, lambda r: r.files.add_uploading_if_absent([_row(8)])),
    "delete_uploading": (_setup, lambda r: r.files.delete_uploading(_row(0))),
}
SILENT_CALLS: dict[str, Step] = {
    "set_execution": lambda r: r.jobs.set_execution(S, J, "arn:x") or True,
    "reserve_uploads": lambda r: r.jobs.reserve_uploads(S, J, 3, "2026-11-28T12:20:00Z", 100),
    "begin_successor": lambda r: r.jobs.begin_successor(S, J, 1),
    "claim_fingerprint": lambda r: r.files.claim_fingerprint(J, "sha256:ab", "f0", 2_000_000_000),
}


def _public(protocol: type) -> set[str]:
    return {n for n, v in inspect.getmembers(protocol) if callable(v) and not n.startswith("_")}


def test_the_walk_covers_every_method_of_both_repositories() -> None:
    """A writer added to a port without a place in this walk fails here first."""
    methods = _public(JobRepository) | _public(FileRepository)
    assert methods == READERS | SILENT | set(WRITERS)
    assert set(SILENT_CALLS) == SILENT


@pytest.mark.parametrize("backend", ["fake", "moto"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_moves_the_version(
    backend: str, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare, call = WRITERS[writer]
    with _backend(backend, monkeypatch) as r:
        prepare(r)
        before = r.version()
        assert call(r), f"{writer} wrote nothing: the walk's scenario is wrong"
        assert r.version() > before, f"{writer} left the version at {before}: a stale 304"


@pytest.mark.parametrize("backend", ["fake", "moto"])
@pytest.mark.parametrize("writer", sorted(SILENT))
def test_silent_writers_change_nothing_the_document_shows(
    backend: str, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _backend(backend, monkeypatch) as r:
        _setup(r)
        before = r.document()
        assert SILENT_CALLS[writer](r)
        assert r.document() == before


@pytest.mark.parametrize("backend", ["fake", "moto"])
def test_a_counter_stub_keeps_its_bumps_when_the_job_row_is_created(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file counted before init wrote the job row (ADR 0003) bumps a stub; create_job keeps
    the stub's version and bumps it once more, like the counter it keeps."""
    with _backend(backend, monkeypatch) as r:
        assert r.files.finalize(_valid(0), stall_deadline="d")
        created = r.jobs.create_job(_job())
        assert created.processed_count == 1
        assert created.version >= 2


# ---------------------------------------------------------------------------- the property

OPS: dict[str, Step] = {
    **{name: call for name, (_, call) in WRITERS.items() if name != "create_job"},
    **SILENT_CALLS,
    "fail": _failed,
    "complete": lambda r: r.jobs.set_status(
        S,
        J,
        JobStatus.COMPLETE,
        JobPhase.DONE,
        summary=VerdictSummary(keep=1, discard=1, analyzer="local", duration_ms=5),
    ),
    "finalize_f3": lambda r: r.files.finalize(_valid(3), stall_deadline="d"),
    "flip_f0": lambda r: r.files.write_verdicts([_verdict(0)]),
}


@pytest.mark.parametrize("backend", ["fake", "moto"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=12))
def test_whenever_the_document_changes_the_etag_changes_and_the_deltas_carry_it(
    backend: str, ops: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through any sequence of writers: the ETag changes whenever the document does (ADR
    0019), and the clients' copy, kept with ``?since=`` and the merge rule, is always the
    document a whole answer gives (ADR 0022)."""
    with _backend(backend, monkeypatch) as r:
        _setup(r)
        body, etag = r.document()
        copy = _answer(r, None)
        for op in ops:
            try:
                OPS[op](r)
            except (JobCancelled, JobStateChanged, KeyError, ClientError) as exc:
                # a writer refusing in this state (a cancelled job, a verdict for a row that
                # was deleted: the fake's KeyError is DynamoDB's failed condition)
                if isinstance(exc, ClientError) and not is_conditional_failure(exc):
                    raise
            new_body, new_etag = r.document()
            assert new_body == body or new_etag != etag, f"{op} changed the document only"
            body, etag = new_body, new_etag
            copy = _merge(copy, _answer(r, copy.get("cursor")))
            assert _whole(copy) == _whole(_answer(r, None)), f"the deltas missed {op}"


# ---------------------------------------------------------------------------- the poll's cost


def test_a_304_reads_the_job_row_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The auth's read of the job row is all a matching poll costs: no Query of the files."""
    api = Api()
    body = api.init(3, [spec(), spec(), spec()])
    sid, jid, token = body["sessionId"], body["jobId"], body["sessionToken"]
    path = f"/api/triage/{jid}/results"
    api.land(sid, jid, body["uploads"][0]["fileId"])
    queries: list[str] = []
    listed = api.files.list_files
    monkeypatch.setattr(
        api.files,
        "list_files",
        lambda job_id, since=None: queries.append(job_id) or listed(job_id, since),
    )

    first = api.call("GET", path, token=token)
    assert (first.status_code, queries) == (200, [jid])
    etag = first.headers["etag"]
    for _ in range(3):
        assert (
            api.call("GET", path, token=token, headers={"If-None-Match": etag}).status_code == 304
        )
    assert queries == [jid]

    api.land(sid, jid, body["uploads"][1]["fileId"])  # the counting transaction bumps
    changed = api.call("GET", path, token=token, headers={"If-None-Match": etag})
    assert (changed.status_code, queries) == (200, [jid, jid])
    assert [f["status"] for f in changed.json()["files"]].count("valid") == 2


# ---------------------------------------------------------------------------- hot job row


class _Conflicting:
    """A DynamoDB client whose transactions are cancelled with ``reasons`` ``times`` times:
    DynamoDB's answer when a concurrent transaction held the shared job row (moto never
    produces it)."""

    def __init__(self, reasons: list[str | None], times: int) -> None:
        self.reasons, self.times, self.calls = reasons, times, 0

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": c} if c else {} for c in self.reasons],
                },
                "TransactWriteItems",
            )


@pytest.mark.parametrize(
    ("writer", "reasons", "times", "result", "calls"),
    [
        ("start_processing", [None, "TransactionConflict"], 2, True, 3),
        ("start_processing", ["ConditionalCheckFailed", None], 1, False, 1),
        ("finalize", [None, "TransactionConflict"], 1, True, 2),
        ("finalize", ["ConditionalCheckFailed", None], 1, False, 1),
    ],
)
def test_a_transaction_that_met_a_concurrent_one_on_the_job_row_is_retried(
    writer: str,
    reasons: list[str | None],
    times: int,
    result: bool,
    calls: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dynamo_stamp.time, "sleep", lambda _: None)  # the jitter, not waited
    client = _Conflicting(reasons, times)
    files = DynamoFileRepository(client, FILES, SESSIONS, 24)
    if writer == "start_processing":
        got = files.start_processing(_row(0, FileStatus.PROCESSING))
    else:
        got = files.finalize(_valid(0), stall_deadline="d")
    assert (got, client.calls) == (result, calls)


def test_a_job_row_that_stays_contended_raises_for_the_invocation_to_be_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(dynamo_stamp.time, "sleep", waits.append)
    client = _Conflicting([None, "TransactionConflict"], 99)
    files = DynamoFileRepository(client, FILES, SESSIONS, 24)
    with pytest.raises(ClientError):
        files.start_processing(_row(0, FileStatus.PROCESSING))
    assert client.calls == dynamo_stamp.ATTEMPTS
    assert len(waits) == dynamo_stamp.ATTEMPTS - 1  # a jittered wait between attempts
    assert all(0 < w <= 1.6 for w in waits)


# ---------------------------------------------------------------------------- deltas (ADR 0022)


def _answer(r: Repos, since: str | None) -> dict[str, Any]:
    """The poll's 200 body for a client holding the copy named by ``since``, as the route
    builds it."""
    job = r.jobs.get_job(S, J)
    assert job is not None
    window = views.url_window(job, 900, NOW)
    base = results.delta_from(job, views.parse_cursor(since), window)
    body = views.results_view(
        results.snapshot(job, r, base), FakeObjectStore(), 900, views.cursor(job, window)
    )
    return body.model_dump(mode="json", by_alias=True, exclude_none=True)


def _merge(copy: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The clients' merge rule (docs/CONTRACTS.md): a delta's files replace or join the copy's
    by fileId, ordered by fileId; every other field comes from the new body."""
    if not body["delta"]:
        return body
    files = {f["fileId"]: f for f in copy["files"]} | {f["fileId"]: f for f in body["files"]}
    return {**body, "files": [files[k] for k in sorted(files)]}


def _whole(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "delta": False}


# The writers whose rows the results show while the job is live, and the file each writes.
STAMPED = {
    "start_processing": "f0",
    "finalize": "f0",
    "reassign_duplicate": "f1",
    "begin": "f5",
    "add_uploading": "f6",
    "add_uploading_if_absent": "f8",
}


def test_every_file_writer_is_stamped_or_answers_in_full() -> None:
    """A file-row writer added later must take a place here: stamped (its row is in the next
    delta), forcing a whole answer (a deletion), or shown only in whole answers (verdicts)."""
    file_writers = {w for w in WRITERS if w in _public(FileRepository)}
    assert file_writers == set(STAMPED) | {"delete_uploading", "write_verdicts"}


@pytest.mark.parametrize("backend", ["fake", "moto"])
@pytest.mark.parametrize("writer", sorted(STAMPED))
def test_a_stamped_write_is_in_the_next_delta(
    backend: str, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare, call = WRITERS[writer]
    with _backend(backend, monkeypatch) as r:
        prepare(r)
        copy = _answer(r, None)
        assert copy["cursor"]
        assert not copy["delta"]
        assert call(r)
        delta = _answer(r, copy["cursor"])
        assert delta["delta"], f"{writer}: a whole answer where a delta was possible"
        assert STAMPED[writer] in {f["fileId"] for f in delta["files"]}
        assert len(delta["files"]) < len(_answer(r, None)["files"])
        assert _whole(_merge(copy, delta)) == _whole(_answer(r, None))


@pytest.mark.parametrize("backend", ["fake", "moto"])
def test_a_deleted_row_makes_the_next_answer_whole(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _backend(backend, monkeypatch) as r:
        _setup(r)
        r.files.finalize(_valid(3), stall_deadline="d")
        copy = _answer(r, None)
        assert r.files.delete_uploading(_row(0))
        after = _answer(r, copy["cursor"])
        assert not after["delta"]
        assert "f0" not in {f["fileId"] for f in after["files"]}
        # a cursor taken after the deletion gets deltas again
        r.files.finalize(_valid(4), stall_deadline="d")
        assert _answer(r, after["cursor"])["delta"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (_failed, "the job is no longer live"),
        (lambda r: r.jobs.cancel(S, J), "cancelled: thumbnails go"),
        (lambda r: None, "a cursor of a version the job never had"),
    ],
)
def test_answers_are_whole_when_a_delta_would_be_wrong(change: Step, why: str) -> None:
    jobs = FakeJobRepository()
    r = Repos(jobs, FakeFileRepository(jobs))  # type: ignore[arg-type]
    _setup(r)
    r.files.finalize(_valid(3), stall_deadline="d")
    copy = _answer(r, None)
    cursor = copy["cursor"] if why != "a cursor of a version the job never had" else "99999.0"
    change(r)
    assert not _answer(r, cursor)["delta"], why


def test_re_signed_thumbnail_urls_make_the_answer_whole() -> None:
    jobs = FakeJobRepository()
    r = Repos(jobs, FakeFileRepository(jobs))  # type: ignore[arg-type]
    _setup(r)
    r.files.finalize(_valid(3), stall_deadline="d")
    version, window = views.parse_cursor(_answer(r, None)["cursor"]) or (0, 0)
    assert window > 0  # a processed file: its thumbnail URL has a signing window
    assert _answer(r, f"{version}.{window}")["delta"]
    assert not _answer(r, f"{version}.{window - 1}")["delta"]
    # a copy from before any thumbnail (window 0) had no URL to go stale
    assert _answer(r, f"{version}.0")["delta"]


class _Interleaved:
    """A DynamoDB client that lets another writer commit just before this one's first
    transaction: the stamp this writer drew is then at or below the job's version."""

    def __init__(self, ddb: Any, other: Callable[[], Any]) -> None:
        self._ddb, self._other, self.calls = ddb, other, 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            self._other()
        return self._ddb.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)


def test_a_writer_overtaken_by_a_later_stamp_stamps_again_above_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slow writer of ADR 0022: another write commits a later stamp between this one's
    stamp and its commit. The version guard refuses it, the refusal carries the version, and
    the retry stamps above it, so a client whose copy saw the other write still gets this one."""
    with moto_app(monkeypatch, bucket=False) as app:
        jobs = DynamoJobRepository(app.ddb, SESSIONS)
        plain = DynamoFileRepository(app.ddb, FILES, SESSIONS, 24)
        r = Repos(jobs, plain)
        _setup(r)
        copies: list[dict[str, Any]] = []
        ahead = 10**13  # a writer whose clock is far ahead of this one's

        def other() -> None:
            monkeypatch.setattr(dynamo_stamp.time, "time_ns", lambda: ahead * 1_000_000)
            plain.finalize(_valid(3), stall_deadline="d")
            monkeypatch.undo()
            copies.append(_answer(r, None))  # a client polls between the two commits

        slow = _Interleaved(app.ddb, other)
        assert DynamoFileRepository(slow, FILES, SESSIONS, 24).finalize(
            _valid(0), stall_deadline="d"
        )
        assert slow.calls == 2  # refused once by the version guard, then committed
        stamps = {f.file_id: f.stamp for f in plain.list_files(J)}
        assert stamps["f0"] is not None
        assert stamps["f3"] == ahead
        job = jobs.get_job(S, J)
        assert job is not None
        assert stamps["f0"] == job.version > ahead
        delta = _answer(r, copies[0]["cursor"])
        assert delta["delta"]
        assert [f["fileId"] for f in delta["files"]] == ["f0"]
        assert _whole(_merge(copies[0], delta)) == _whole(_answer(r, None))
