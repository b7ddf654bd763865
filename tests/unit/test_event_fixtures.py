"""Every event shape a handler receives has a canonical fixture in ``tests/fixtures/events``
(the payloads AWS sends, as powertools keeps them), and each parses into the handler's own
envelope: the S3 notification into ``S3Event`` and an upload key, an API Gateway HTTP API
(payload 2.0) request into the API's request, route, token and body model, the state machine's
TriageRun payload into ``TriageInput``. Parsing only: no handler runs, nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from init_session import tokens
from init_session.api import http
from init_session.api.models import InitRequest, PatchJobRequest
from media_triage_shared import keys
from media_triage_shared.events import S3Event
from media_triage_shared.models import TriageInput

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
SESSION = "5e1f0c1d2b3a4f5e6d7c8b9a0f1e2d3c"
JOB = "9a2b7c6d5e4f30211203948576a5b4c3"


def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def _upload_key(name: str) -> keys.UploadKey:
    (record,) = S3Event.model_validate(_load(name)).records
    assert record.event_name.startswith("ObjectCreated:")
    return keys.parse_upload_key(record.s3.object.key)


def test_s3_object_created_names_the_upload_with_plus_as_space() -> None:
    key = _upload_key("s3_object_created.json")
    assert (key.session_id, key.job_id, key.file_id) == ("5e1f", "9a2b", "c3d4")
    assert key.filename == "my holiday photo.jpg"


def test_s3_object_created_by_a_multipart_upload_decodes_percent_escapes() -> None:
    key = _upload_key("s3_object_created_encoded_key.json")
    assert key.filename == "100% sure + café (1).mp4"
    assert key.key == "uploads/5e1f/9a2b/c3d5/100% sure + café (1).mp4"


def _request(name: str) -> tuple[http.HttpRequest, Any, bytes]:
    req = http.parse_event(_load(name))
    route, params = http.match(req.method, req.path)
    if "jobId" in params:
        assert params["jobId"] == JOB
    return req, route, http.body_bytes(req)


def test_http_init_parses_into_the_init_request_with_its_idempotency_key() -> None:
    req, route, body = _request("http_init.json")
    assert route.operation_id == "initSession"
    assert not route.auth
    assert req.client == "ip:203.0.113.10"
    assert tokens.idempotency_key(req.headers.get("idempotency-key")) is not None
    init = InitRequest.model_validate_json(body, by_name=False)
    assert init.expected_file_count == 2
    assert [f.filename for f in init.files] == ["IMG_0001.HEIC", "my holiday clip.mp4"]


def test_http_results_carries_the_bearer_token_and_if_none_match() -> None:
    req, route, body = _request("http_results_if_none_match.json")
    assert route.operation_id == "getResults"
    assert route.request is None
    assert body == b""
    assert tokens.session_of(tokens.bearer(req.headers.get("authorization"))) == SESSION
    assert req.headers["if-none-match"] == 'W/"3f2a1b0c9d8e7f60"'


def test_http_patch_with_a_base64_body_parses_into_the_patch_request() -> None:
    req, route, body = _request("http_patch_job.json")
    assert route.operation_id == "updateJob"
    assert req.base64_body
    assert tokens.session_of(tokens.bearer(req.headers.get("authorization"))) == SESSION
    assert route.request is PatchJobRequest
    assert PatchJobRequest.model_validate_json(body, by_name=False).expected_file_count == 1


def test_the_state_machine_triage_run_payload_parses_into_triage_input() -> None:
    payload = TriageInput.model_validate(_load("triage_run_payload.json"))
    assert (payload.session_id, payload.job_id, payload.partial) == (SESSION, JOB, False)
