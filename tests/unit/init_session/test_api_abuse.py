"""Issue 13 items 9 and 10 (ADR 0014): tokens and key hashes bound to a server secret that
rotates with a grace period, Idempotency-Keys of at least 122 bits, the model allowlist, the
per-client rate limit on new executions (a fake clock: burst, 429 with Retry-After, refill) and
the cap on a client's open jobs."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from support.api import OTHER_SECRET, SECRET, Api

from init_session import tokens
from init_session.api import openapi
from init_session.api.routes import ROUTES
from media_triage_shared.models import JobStatus

KEY = "0f6f1d0e-2b9a-4c55-9d2e-5b8f3f7c1a42"
INIT = "/api/triage/init"


def _init(api: Api, key: str | None = None, **context: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return api.call("POST", INIT, {"expectedFileCount": 1}, headers=headers, **context)


def _results(api: Api, body: dict[str, Any]) -> int:
    path = f"/api/triage/{body['jobId']}/results"
    return api.call("GET", path, token=body["sessionToken"]).status_code


# ---------------------------------------------------------------------------- item 9: secret


def test_the_same_key_and_ids_give_different_tokens_under_different_secrets() -> None:
    a = tokens.derived_token(SECRET, KEY, "s1", "j1")
    b = tokens.derived_token(OTHER_SECRET, KEY, "s1", "j1")
    assert a != b
    assert a == tokens.derived_token(SECRET, KEY, "s1", "j1")  # deterministic under one secret
    assert tokens.session_of(a) == tokens.session_of(b) == "s1"


def test_key_and_token_hashes_are_salted_by_the_secret() -> None:
    plain = hashlib.sha256(b"media-triage/idempotency/v1\x00" + KEY.encode()).hexdigest()
    salted = {tokens.key_hash(SECRET, KEY), tokens.key_hash(OTHER_SECRET, KEY), plain}
    assert len(salted) == 3
    token = tokens.new_token("s1")
    assert tokens.hash_token(SECRET, token) != tokens.hash_token(OTHER_SECRET, token)
    assert tokens.hash_token(SECRET, token) != hashlib.sha256(token.encode()).hexdigest()


def test_the_idempotency_record_is_stored_under_the_secret_keyed_hash() -> None:
    api = Api()
    _init(api, KEY)
    (stored,) = api.idempotency.records
    assert stored == tokens.key_hash(SECRET, KEY)
    assert stored != hashlib.sha256(KEY.encode()).hexdigest()


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        tokens.TokenSecrets(current=b"too short")


def test_tokens_of_the_previous_secret_work_during_the_grace_period_and_not_after() -> None:
    api = Api().with_secrets(SECRET)
    first = _init(api, KEY).json()
    plain = _init(api).json()
    assert _results(api, first) == _results(api, plain) == 200

    # Rotation: a new current secret, the old one kept as previous (the grace period).
    api.with_secrets(OTHER_SECRET, previous=SECRET)
    assert _results(api, first) == _results(api, plain) == 200
    replay = _init(api, KEY)
    assert replay.status_code == 202
    assert replay.json()["sessionToken"] == first["sessionToken"]  # re-derived, old secret
    assert replay.json()["jobId"] == first["jobId"]
    fresh = _init(api).json()  # made with the new secret
    assert _results(api, fresh) == 200

    # The previous secret removed: whatever was made with it stops working.
    api.with_secrets(OTHER_SECRET)
    assert _results(api, first) == _results(api, plain) == 403
    assert _results(api, fresh) == 200
    after = _init(api, KEY).json()  # the key is unknown now: a new session
    assert after["jobId"] != first["jobId"]


def test_a_key_first_used_after_the_rotation_is_claimed_under_the_new_secret() -> None:
    api = Api().with_secrets(OTHER_SECRET, previous=SECRET)
    first = _init(api, KEY).json()
    assert set(api.idempotency.records) == {tokens.key_hash(OTHER_SECRET, KEY)}
    again = _init(api, KEY).json()
    assert (again["jobId"], again["sessionToken"]) == (first["jobId"], first["sessionToken"])


@pytest.mark.parametrize(
    "key",
    [
        "0123456789abcdef",  # 16 characters: accepted before, 64 bits at best
        "A" * 21,  # one short of 22 base64url characters
        "abc.def:ghi/jkl+mno=pqr",  # characters outside base64url
        "0f6f1d0e-2b9a-4c55",  # half a UUID
        '"0123456789abcdef"',
    ],
)
def test_low_entropy_idempotency_keys_are_refused(key: str) -> None:
    api = Api()
    resp = _init(api, key)
    assert resp.status_code == 400
    error = resp.error
    assert error["code"] == "invalid_request"
    assert "122 random bits" in error["message"]
    assert error["details"][0]["field"] == "header.idempotency-key"
    assert api.jobs.jobs == {}


@pytest.mark.parametrize(
    "key",
    [KEY, KEY.upper(), f'"{KEY}"', "Zm9vYmFyYmF6cXV4cXV1eDEy", "a" * 255, "b_-" * 8],
)
def test_uuids_and_long_base64url_keys_are_accepted(key: str) -> None:
    assert _init(Api(), key).status_code == 202


# ---------------------------------------------------------------------------- item 10: models


def test_a_model_outside_the_allowlist_is_refused_with_the_list() -> None:
    api = Api()
    resp = api.call("POST", INIT, {"expectedFileCount": 1, "model": "gemini-2.5-pro"})
    assert resp.status_code == 400
    error = resp.error
    assert error["code"] == "invalid_request"
    assert "gemini-2.5-pro" in error["message"]
    listed = [d["message"] for d in error["details"][1:]]
    assert listed == ["gemini-2.5-flash", "gemini-2.5-flash-lite"]
    assert all(d["field"] == "body.model" for d in error["details"])
    assert api.jobs.jobs == {}
    assert api.executions.started == {}


def test_an_allowed_model_or_none_is_accepted() -> None:
    api = Api()
    body = api.init(1, model="gemini-2.5-flash-lite")
    job = api.jobs.get_job(body["sessionId"], body["jobId"])
    assert job is not None
    assert job.model == "gemini-2.5-flash-lite"
    assert api.call("POST", INIT, {"expectedFileCount": 1}).status_code == 202


# ---------------------------------------------------------------------------- rate limit


def _limited(api: Api) -> Api:
    # 10 per minute (one token every 6 s), bursts of 3
    return api.with_config(start_interval_ms=6000, start_burst=3)


def test_a_burst_then_429_with_retry_after_then_refill() -> None:
    api = _limited(Api())
    assert [_init(api).status_code for _ in range(3)] == [202, 202, 202]
    refused = _init(api)
    assert refused.status_code == 429
    assert refused.error["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "6"
    assert len(api.jobs.jobs) == 3  # nothing was created for the refused call

    api.tick(3)
    assert _init(api).headers["retry-after"] == "3"
    api.tick(3)
    assert _init(api).status_code == 202  # one token back after 6 s
    assert _init(api).status_code == 429
    api.tick(60)
    assert [_init(api).status_code for _ in range(4)] == [202, 202, 202, 429]  # full, not more


def test_clients_have_their_own_buckets() -> None:
    api = _limited(Api())
    for _ in range(3):
        _init(api, source_ip="203.0.113.1")
    assert _init(api, source_ip="203.0.113.1").status_code == 429
    assert _init(api, source_ip="203.0.113.2").status_code == 202
    # IPv6: one subscriber's /64 is one client
    for i in range(3):
        assert _init(api, source_ip=f"2001:db8:1:2::{i + 1}").status_code == 202
    assert _init(api, source_ip="2001:db8:1:2:ffff::9").status_code == 429
    assert _init(api, source_ip="2001:db8:1:3::1").status_code == 202
    # Behind the JWT authorizer the identity counts, not the (shared) address.
    alice = {"iss": "https://idp.example", "sub": "alice"}
    for _ in range(3):
        assert _init(api, source_ip="203.0.113.1", claims=alice).status_code == 202
    assert _init(api, source_ip="203.0.113.1", claims=alice).status_code == 429
    bob = {"iss": "https://idp.example", "sub": "bob"}
    assert _init(api, source_ip="203.0.113.1", claims=bob).status_code == 202


def test_the_bucket_holds_no_address_in_clear() -> None:
    api = _limited(Api())
    _init(api, source_ip="203.0.113.77")
    assert api.limits.tat
    assert all("203.0.113.77" not in client for client in api.limits.tat)


def test_a_retry_takes_a_token_too() -> None:
    api = _limited(Api())
    body = _init(api).json()
    api.set_job(body["sessionId"], body["jobId"], JobStatus.FAILED)
    _init(api), _init(api)
    resp = api.call("POST", f"/api/triage/{body['jobId']}/retry", token=body["sessionToken"])
    assert resp.status_code == 429
    assert resp.error["code"] == "rate_limited"
    api.tick(6)
    resp = api.call("POST", f"/api/triage/{body['jobId']}/retry", token=body["sessionToken"])
    assert resp.status_code == 202


# ---------------------------------------------------------------------------- open jobs


def test_a_client_holds_at_most_the_cap_of_open_jobs() -> None:
    api = Api().with_config(max_open_jobs=2)
    first, _second = _init(api).json(), _init(api).json()
    refused = _init(api)
    assert refused.status_code == 409
    assert refused.error["code"] == "too_many_open_jobs"
    assert len(api.jobs.jobs) == 2
    assert len(api.executions.started) == 2
    assert _init(api, source_ip="203.0.113.9").status_code == 202  # someone else

    # A job that ends (cancelled here; complete or failed alike) makes room.
    cancel = api.call("DELETE", f"/api/triage/{first['jobId']}", token=first["sessionToken"])
    assert cancel.status_code == 200
    assert _init(api).status_code == 202
    assert _init(api).status_code == 409


def test_a_replay_of_an_admitted_init_passes_at_the_cap() -> None:
    api = Api().with_config(max_open_jobs=1)
    first = _init(api, KEY).json()
    again = _init(api, KEY)
    assert again.status_code == 202
    assert again.json()["jobId"] == first["jobId"]
    assert _init(api).status_code == 409


def test_a_retry_reopens_a_job_only_within_the_cap() -> None:
    api = Api().with_config(max_open_jobs=1)
    first = _init(api).json()
    api.set_job(first["sessionId"], first["jobId"], JobStatus.FAILED)
    second = _init(api).json()  # the failed job made room
    path = f"/api/triage/{first['jobId']}/retry"
    resp = api.call("POST", path, token=first["sessionToken"])
    assert resp.status_code == 409
    assert resp.error["code"] == "too_many_open_jobs"
    api.set_job(second["sessionId"], second["jobId"], JobStatus.COMPLETE)
    assert api.call("POST", path, token=first["sessionToken"]).status_code == 202


# ---------------------------------------------------------------------------- the document


def _documented(op_path: str, method: str, resp: Any) -> None:
    doc = openapi.document(ROUTES)
    response = doc["paths"][op_path][method]["responses"][str(resp.status_code)]
    for name, header in response.get("headers", {}).items():
        if header.get("required"):
            assert name.lower() in resp.headers, (name, resp.status_code)
            pattern = header["schema"].get("pattern")
            assert pattern is None or re.match(pattern, resp.headers[name.lower()])
    schema = response["content"]["application/json"]["schema"]
    resolvable = {**schema, "components": doc["components"]}
    Draft202012Validator(resolvable).validate(resp.json())


def test_the_limits_answers_are_the_documented_ones() -> None:
    doc = openapi.document(ROUTES)
    init_op = doc["paths"][INIT]["post"]
    assert init_op["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    key = next(p for p in init_op["parameters"] if p["name"] == "Idempotency-Key")
    assert re.match(key["schema"]["pattern"], KEY)
    assert re.match(key["schema"]["pattern"], f'"{KEY}"')
    assert not re.match(key["schema"]["pattern"], "0123456789abcdef")

    api = Api().with_config(start_interval_ms=6000, start_burst=1, max_open_jobs=2)
    first = _init(api).json()
    limited = _init(api)
    assert limited.status_code == 429
    _documented(INIT, "post", limited)
    api.tick(6)
    _init(api)
    api.tick(6)
    capped = _init(api)
    assert capped.status_code == 409
    _documented(INIT, "post", capped)
    api.set_job(first["sessionId"], first["jobId"], JobStatus.FAILED)
    retry = f"/api/triage/{first['jobId']}/retry"
    limited = api.call("POST", retry, token=first["sessionToken"])
    assert limited.status_code == 429
    _documented("/api/triage/{jobId}/retry", "post", limited)
