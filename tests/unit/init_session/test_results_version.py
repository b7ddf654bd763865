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
def test_whenever_the_document_changes_the_etag_changes(
    backend: str, ops: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with _backend(backend, monkeypatch) as r:
        _setup(r)
        body, etag = r.document()
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
        api.files, "list_files", lambda job_id: queries.append(job_id) or listed(job_id)
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
    writer: str, reasons: list[str | None], times: int, result: bool, calls: int
) -> None:
    client = _Conflicting(reasons, times)
    files = DynamoFileRepository(client, FILES, SESSIONS, 24)
    if writer == "start_processing":
        got = files.start_processing(_row(0, FileStatus.PROCESSING))
    else:
        got = files.finalize(_valid(0), stall_deadline="d")
    assert (got, client.calls) == (result, calls)


def test_a_job_row_that_stays_contended_raises_for_the_invocation_to_be_retried() -> None:
    client = _Conflicting([None, "TransactionConflict"], 99)
    files = DynamoFileRepository(client, FILES, SESSIONS, 24)
    with pytest.raises(ClientError):
        files.start_processing(_row(0, FileStatus.PROCESSING))
    assert client.calls == 5
