"""Results deltas (``?since=<cursor>``): the client sends the last answer's cursor, merges a
delta into its copy and hands on whole documents only, equal to what a full answer would be."""

from __future__ import annotations

from typing import Any

import pytest
from support.cli import fake_api
from support.cli.fake_api import FakeJob, State, serve

from media_triage_cli.api import ApiClient, ApiError, FileSpec, ResultsCopy, merge_results

SPECS = [FileSpec(filename=f"{n}.jpg", content_type="image/jpeg", size=10) for n in "abcde"]


def row(file_id: str, status: str = "processing") -> dict[str, Any]:
    return {"fileId": file_id, "filename": f"{file_id}.jpg", "status": status}


def doc(files: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    body = {
        "jobId": "J",
        "sessionId": "S",
        "status": "processing",
        "phase": "processing_files",
        "expectedFileCount": 5,
        "processedCount": 0,
        "files": files,
        "delta": False,
        "cursor": "100.000001",
    }
    return body | over


def full(state: State, job: FakeJob) -> dict[str, Any]:
    """What a full answer would be now (without moving the fake's pipeline on)."""
    body = fake_api._results_body(state, job) | {"delta": False}
    if job.last_cursor:
        body["cursor"] = job.last_cursor
    return body


def uploaded(job: FakeJob, *names: str) -> None:
    """The fake's S3 received these files: processing, final one poll later."""
    for f in job.files.values():
        if f.filename in names:
            f.status = "processing"


@pytest.fixture
def api() -> State:
    with serve() as state:
        yield state


@pytest.fixture
def copy(api: State) -> ResultsCopy:
    client = ApiClient(api.base)
    init = client.init(SPECS)
    return ResultsCopy(client, init.job_id)


# ------------------------------------------------------------------ the merge rule


def test_a_delta_replaces_rows_by_file_id_adds_new_ones_in_order_and_takes_the_rest() -> None:
    copy = doc([row("a", "valid"), row("c"), row("e")], processedCount=1)
    answer = doc(
        [row("d"), row("c", "invalid"), row("b")], delta=True, processedCount=2, cursor="200.2"
    )

    merged = merge_results(copy, answer)

    assert merged == doc(
        [row("a", "valid"), row("b"), row("c", "invalid"), row("d"), row("e")],
        processedCount=2,
        cursor="200.2",
    )
    assert [f["fileId"] for f in copy["files"]] == ["a", "c", "e"]  # the copy is untouched


def test_rows_are_ordered_by_plain_string_order_like_the_servers_sort_key() -> None:
    merged = merge_results(doc([row("b")]), doc([row("B"), row("_"), row("0")], delta=True))

    assert merged is not None
    assert [f["fileId"] for f in merged["files"]] == ["0", "B", "_", "b"]


def test_a_full_answer_replaces_the_copy_and_a_delta_without_a_copy_is_refused() -> None:
    answer = doc([row("z", "valid")], status="complete", phase="done", cursor=None)

    assert merge_results(doc([row("a"), row("b")]), answer) is answer
    assert merge_results(None, answer) is answer
    assert merge_results(None, doc([row("a")], delta=True)) is None


# ------------------------------------------------------------------ ResultsCopy on the wire


def test_polls_send_the_last_cursor_and_merge_deltas_into_the_whole_document(
    api: State, copy: ResultsCopy
) -> None:
    job = api.only_job()

    first = copy.poll()
    assert first == full(api, job)
    uploaded(job, "b.jpg", "d.jpg")
    second = copy.poll()  # b and d valid
    after_second = job.last_cursor
    uploaded(job, "a.jpg")
    third = copy.poll()  # a valid

    assert first is not None
    assert api.since == [None, first["cursor"], after_second]
    assert api.results_deltas == 2
    assert second is not None
    assert len(second["files"]) == len(SPECS)
    assert sorted(f["filename"] for f in second["files"] if f["status"] == "valid") == [
        "b.jpg",
        "d.jpg",
    ]
    assert third == full(api, job)
    assert third is not None
    assert sorted(f["filename"] for f in third["files"] if f["status"] == "valid") == [
        "a.jpg",
        "b.jpg",
        "d.jpg",
    ]
    assert copy.body == third


def test_a_delta_carries_only_the_changed_rows(api: State, copy: ResultsCopy) -> None:
    job = api.only_job()
    copy.poll()
    uploaded(job, "c.jpg")
    answers: list[dict[str, Any]] = []
    real = copy.client.results

    def spy(job_id: str, etag: str | None = None, since: str | None = None) -> Any:
        poll = real(job_id, etag, since)
        answers.append(poll.body or {})
        return poll

    copy.client.results = spy  # type: ignore[method-assign]
    copy.poll()

    (answer,) = answers
    assert answer["delta"] is True
    assert [f["filename"] for f in answer["files"]] == ["c.jpg"]
    assert len(copy.body["files"] if copy.body else []) == len(SPECS)


def test_a_304_keeps_the_etag_and_the_cursor(api: State, copy: ResultsCopy) -> None:
    api.faults.never_complete = True
    job = api.only_job()
    copy.poll()
    cursor = job.last_cursor

    assert copy.poll() is None
    assert copy.poll() is None

    assert api.results_304 == 2
    assert api.since == [None, cursor, cursor]
    assert api.if_none_match[1] == api.if_none_match[2] is not None
    assert copy.body == full(api, job)


def test_after_an_answer_without_a_cursor_no_since_is_sent(api: State, copy: ResultsCopy) -> None:
    job = api.only_job()
    first = copy.poll()  # pending: live, with a cursor
    uploaded(job, *(s.filename for s in SPECS))
    bodies = [copy.poll() for _ in range(3)]  # analyzing, complete, 304

    assert first is not None
    assert [b["status"] if b else None for b in bodies] == ["analyzing", "complete", None]
    assert "cursor" not in (bodies[0] or {"cursor": "?"})
    assert api.since == [None, first["cursor"], None, None]
    assert api.results_deltas == 0  # the job was no longer live: full answers
    assert copy.body == full(api, job)


def test_a_full_answer_to_a_since_replaces_the_copy(api: State, copy: ResultsCopy) -> None:
    api.faults.full_answers = True
    job = api.only_job()
    copy.poll()
    uploaded(job, "a.jpg")

    body = copy.poll()

    assert api.since[1] is not None
    assert api.results_deltas == 0
    assert body == full(api, job)


def test_a_delta_with_no_copy_drops_the_cursor_and_etag_and_polls_in_full(
    api: State, copy: ResultsCopy
) -> None:
    api.faults.stray_deltas = 1  # the first answer is a delta though the copy asked for all
    job = api.only_job()

    body = copy.poll()

    assert api.since == [None, None]
    assert api.if_none_match == [None, None]
    assert body == full(api, job)
    assert copy.body == body


def test_a_delta_answering_a_full_poll_twice_is_a_bad_response(
    api: State, copy: ResultsCopy
) -> None:
    api.faults.stray_deltas = 2

    with pytest.raises(ApiError) as caught:
        copy.poll()

    assert caught.value.code == "bad_response"
    assert (copy.body, copy.etag, copy.cursor) == (None, None, None)


def test_reset_forgets_the_etag_and_the_cursor(api: State, copy: ResultsCopy) -> None:
    job = api.only_job()
    copy.poll()
    copy.reset()

    body = copy.poll()

    assert api.since == [None, None]
    assert api.if_none_match == [None, None]
    assert api.results_deltas == 0
    assert body == full(api, job)
