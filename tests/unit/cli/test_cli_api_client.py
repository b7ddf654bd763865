"""ApiClient against the fake API: tokens, errors as values, what is and is not repeated."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli.fake_api import State, serve

from media_triage_cli.api import ApiClient, ApiError, FileSpec
from media_triage_cli.files import FileSlice, FormBody

SPEC = FileSpec(filename="a.jpg", content_type="image/jpeg", size=10)


@pytest.fixture
def api() -> State:
    with serve() as state:
        yield state


def test_init_keeps_the_token_for_every_later_call(api: State) -> None:
    client = ApiClient(api.base)
    init = client.init([SPEC], idempotency_key="k-1")

    assert client.token == init.session_token
    poll = client.results(init.job_id)
    assert poll.body is not None
    assert poll.body["jobId"] == init.job_id
    assert (init.uploads[0].method, init.uploads[0].fields["key"]) == ("POST", init.uploads[0].key)


def test_api_errors_carry_the_stable_code(api: State) -> None:
    client = ApiClient(api.base)
    init = client.init([SPEC])
    client.token = "tok-wrong"

    with pytest.raises(ApiError) as caught:
        client.results(init.job_id)

    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert caught.value.request_id


def test_a_conditional_poll_returns_no_body_when_nothing_changed(api: State) -> None:
    api.faults.never_complete = True
    client = ApiClient(api.base)
    init = client.init([SPEC])
    first = client.results(init.job_id)

    again = client.results(init.job_id, first.etag)

    assert again.body is None
    assert again.etag == first.etag


def test_5xx_is_retried_with_backoff(api: State) -> None:
    waits: list[float] = []
    client = ApiClient(api.base, sleep=waits.append, backoff=0.5)
    init = client.init([SPEC])
    api.faults.results_500 = 3

    assert client.results(init.job_id).body is not None
    assert len(waits) == 3
    assert 0.25 <= waits[0] <= 0.5  # doubling, with jitter
    assert 1.0 <= waits[2] <= 2.0


def test_5xx_gives_up_after_the_retries(api: State) -> None:
    client = ApiClient(api.base, sleep=lambda _: None, retries=2)
    init = client.init([SPEC])
    api.faults.results_500 = 5

    with pytest.raises(ApiError) as caught:
        client.results(init.job_id)
    assert caught.value.status == 500
    assert api.faults.results_500 == 2


def test_init_without_idempotency_key_is_never_repeated() -> None:
    calls: list[float] = []
    client = ApiClient("http://127.0.0.1:9", sleep=calls.append, timeout=1)  # nothing listens
    with pytest.raises(Exception, match="Connection"):
        client.init([SPEC])
    assert calls == []


def test_s3_xml_errors_become_api_errors(api: State, tmp_path: Path) -> None:
    client = ApiClient(api.base)
    init = client.init([SPEC])
    api.faults.post_403.add("a.jpg")
    path = tmp_path / "a.jpg"
    path.write_bytes(b"0123456789")
    target = init.uploads[0]
    form = FormBody(target.fields, "a.jpg", "image/jpeg", FileSlice(path, 0, 10))

    with pytest.raises(ApiError) as caught:
        client.post_object(target, form, form.content_type)
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    assert caught.value.message == "Invalid according to Policy"


def test_form_body_streams_with_a_known_length(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"A" * 100_000)
    seen: list[int] = []
    body = FormBody(
        {"key": "k", "policy": "p"},
        'we"ird.bin',
        "application/octet-stream",
        FileSlice(path, 0, 100_000, on_read=seen.append),
    )

    data = b""
    while chunk := body.read(8192):
        data += chunk

    assert len(data) == len(body)
    assert sum(seen) == 100_000
    assert data.index(b'name="key"') < data.index(b'name="policy"') < data.index(b'name="file"')
    assert b'filename="we\\"ird.bin"' in data
    assert data.endswith(f"--{body.boundary}--\r\n".encode())
