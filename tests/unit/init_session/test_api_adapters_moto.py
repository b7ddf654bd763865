"""The API's adapters (and the shared repository methods it added) against moto in-process:
the DynamoDB conditions, the presigned POST policy, a real multipart upload through presigned
part URLs, Step Functions naming; then the whole API wired to them."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from support.api import CONFIG, MIB, SECRETS, event, spec
from support.tables import BUCKET, FILES, REGION, SESSIONS, moto_app, waiting_state_machine

from init_session import results, services
from init_session.adapters import (
    DynamoClientLimits,
    DynamoIdempotencyStore,
    S3UploadSigner,
    StepFunctionsExecutions,
)
from init_session.api import http
from init_session.ports import IdempotencyRecord
from init_session.tokens import TokenSecrets
from media_triage_shared.adapters.dynamo import DynamoFileRepository, DynamoJobRepository
from media_triage_shared.adapters.s3 import S3ObjectStore
from media_triage_shared.errors import InvalidRequest, NotFound
from media_triage_shared.models import FileRow, FileStatus, JobRow, JobStatus, TriageInput

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with moto_app(monkeypatch) as app:
        sfn, sm = waiting_state_machine()
        yield {"ddb": app.ddb, "s3": app.s3, "sfn": sfn, "sm": sm}


def _job(session_id: str = "s1", job_id: str = "j1", **kw: Any) -> JobRow:
    return JobRow(
        session_id=session_id,
        job_id=job_id,
        expected_file_count=kw.pop("expected", 2),
        token_hash="h",
        created_at="2026-11-28T12:00:00Z",
        updated_at="2026-11-28T12:00:00Z",
        stall_deadline="2026-11-28T12:10:00Z",
        expires_at=2_000_000_000,
        **kw,
    )


def test_job_repository_guards(aws: dict[str, Any]) -> None:
    jobs = DynamoJobRepository(aws["ddb"], SESSIONS)
    jobs.create_job(_job(upload_target_count=1))
    assert jobs.reserve_uploads("s1", "j1", 2, "2026-11-28T12:20:00Z", 3)
    assert not jobs.reserve_uploads("s1", "j1", 1, "2026-11-28T12:20:00Z", 3)  # 4 > 3
    assert not jobs.reserve_uploads("s1", "j1", 5, "x", 4)
    job = jobs.get_job("s1", "j1")
    assert job is not None
    assert job.upload_target_count == 3
    assert job.stall_deadline == "2026-11-28T12:20:00Z"

    updated = jobs.set_expected_count("s1", "j1", 7, "2026-11-28T12:30:00Z")
    assert updated is not None
    assert updated.expected_file_count == 7
    jobs.set_execution("s1", "j1", "arn:x")
    assert jobs.begin_retry("s1", "j1", JobStatus.PROCESSING, "p", "d") is None  # not failed

    # `expect`: only from the status read (a job that moved on is left alone)
    assert not jobs.set_status("s1", "j1", JobStatus.FAILED, "failed", expect=JobStatus.ANALYZING)
    assert jobs.set_status("s1", "j1", JobStatus.ANALYZING, "analyzing", expect=JobStatus.PENDING)
    assert jobs.set_expected_count("s1", "j1", 1, "d") is None
    assert not jobs.reserve_uploads("s1", "j1", 1, "d", 100)

    jobs.set_status("s1", "j1", JobStatus.FAILED, "failed", error="boom")
    assert jobs.begin_retry("s1", "j1", JobStatus.PROCESSING, "processing_files", "d") == 2
    job = jobs.get_job("s1", "j1")
    assert job is not None
    assert job.error is None
    assert job.status is JobStatus.PROCESSING
    assert job.execution_arn == "arn:x"
    assert job.execution_count == 2
    assert jobs.begin_retry("s1", "j1", JobStatus.PROCESSING, "p", "d") is None

    assert jobs.cancel("s1", "j1")
    assert not jobs.cancel("s1", "j1")
    assert not jobs.cancel("s1", "missing")
    # a cancelled job stays cancelled, whatever finishes after the cancel
    assert not jobs.set_status("s1", "j1", JobStatus.COMPLETE, "done")
    cancelled = jobs.get_job("s1", "j1")
    assert cancelled is not None
    assert cancelled.status is JobStatus.CANCELLED
    assert not jobs.set_status("s1", "missing", JobStatus.FAILED, "failed")
    # nothing here rewrote the counter an upload keeps on the row
    assert aws["ddb"].get_item(
        TableName=SESSIONS, Key={"pk": {"S": "SESSION#s1"}, "sk": {"S": "JOB#j1"}}
    )["Item"]["processedCount"] == {"N": "0"}


def test_file_repository_uploading_rows(aws: dict[str, Any]) -> None:
    files = DynamoFileRepository(aws["ddb"], FILES, SESSIONS, 24)
    rows = [
        FileRow(
            job_id="j1",
            file_id=f"f{i:03}",
            session_id="s1",
            filename=f"IMG {i}.jpg",
            original_key=f"uploads/s1/j1/f{i:03}/IMG {i}.jpg",
            status=FileStatus.UPLOADING,
            size=10,
            upload_id="mpu" if i == 0 else None,
            created_at="t",
            updated_at="t",
            expires_at=2_000_000_000,
        )
        for i in range(60)
    ]
    files.add_uploading(rows)
    listed = files.list_files("j1")
    assert len(listed) == 60
    assert listed[0].upload_id == "mpu"
    assert files.delete_uploading(rows[0])
    assert not files.delete_uploading(rows[0])
    files.finalize(rows[1].model_copy(update={"status": FileStatus.VALID}), stall_deadline="d")
    assert not files.delete_uploading(rows[1])  # landed: stays


def _uploading(i: int, upload_id: str | None = None, job_id: str = "j1") -> FileRow:
    return FileRow(
        job_id=job_id,
        file_id=f"f{i:03}",
        session_id="s1",
        filename=f"IMG {i}.jpg",
        original_key=f"uploads/s1/{job_id}/f{i:03}/IMG {i}.jpg",
        status=FileStatus.UPLOADING,
        size=10,
        upload_id=upload_id,
        created_at="t",
        updated_at="t",
        expires_at=2_000_000_000,
    )


def test_conditional_uploading_rows_never_overwrite_a_row(aws: dict[str, Any]) -> None:
    """Issue 13 item 5: the rows of an idempotent init are written only where absent; the
    writer that comes second gets the stored rows back (and the stored rows stay as they are)."""
    files = DynamoFileRepository(aws["ddb"], FILES, SESSIONS, 24)
    # 150 rows: two transactions, the first 100 and the last 50.
    written = files.add_uploading_if_absent([_uploading(i, "mpu-replay") for i in range(150)])
    assert [r.upload_id for r in written] == ["mpu-replay"] * 150
    # The replay's client uploaded f001; MediaProcess finalized and counted it.
    files.finalize(
        _uploading(1, "mpu-replay").model_copy(update={"status": FileStatus.VALID}),
        stall_deadline="d",
    )
    # The first call arrives late with its own uploadIds, and one row nobody wrote yet.
    late = [_uploading(i, "mpu-first") for i in (0, 1, 150)]
    stored = files.add_uploading_if_absent(late)
    assert [r.upload_id for r in stored] == ["mpu-replay", "mpu-replay", "mpu-first"]
    assert stored[1].status is FileStatus.VALID
    f001 = files.get_file("j1", "f001")
    assert f001 is not None
    assert f001.status is FileStatus.VALID  # not put back to uploading
    assert f001.counted
    f000 = files.get_file("j1", "f000")
    assert f000 is not None
    assert f000.upload_id == "mpu-replay"
    assert len(files.list_files("j1")) == 151
    # The unconditional batch write (fresh ids only) is what the guard replaces here:
    files.add_uploading([_uploading(1, "mpu-first")])
    clobbered = files.get_file("j1", "f001")
    assert clobbered is not None
    assert clobbered.status is FileStatus.UPLOADING


def test_idempotency_store_claims_once(aws: dict[str, Any]) -> None:
    store = DynamoIdempotencyStore(aws["ddb"], SESSIONS)
    first = IdempotencyRecord(
        key_hash="k",
        request_hash="r",
        session_id="s1",
        job_id="j1",
        file_ids=["a"],
        created_at="t",
        expires_at=1000,
    )
    assert store.claim(first, 500) == first
    second = first.model_copy(update={"session_id": "s2"})
    assert store.claim(second, 999) == first
    assert store.claim(second, 1001) == second  # expired (TTL deletes lazily)
    # find: what a rotation's grace period looks up under the previous secret's hash
    assert store.find("k", 1000) == second.model_copy(update={"expires_at": 1000})
    assert store.find("k", 1001) is None
    assert store.find("other", 0) is None


def test_presigned_post_pins_key_type_and_exact_size(aws: dict[str, Any]) -> None:
    signer = S3UploadSigner(aws["s3"], BUCKET)
    url, fields = signer.presign_post("uploads/s/j/f/a b.jpg", "image/jpeg", 5, 600)
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"key": "uploads/s/j/f/a b.jpg"} in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert ["content-length-range", 5, 5] in policy["conditions"]
    resp = requests.post(url, data=fields, files={"file": ("x", b"12345")}, timeout=10)
    assert resp.status_code == 204
    head = aws["s3"].head_object(Bucket=BUCKET, Key="uploads/s/j/f/a b.jpg")
    assert head["ContentType"] == "image/jpeg"


def test_presigned_get_serves_the_overridden_type_and_disposition(aws: dict[str, Any]) -> None:
    store = S3ObjectStore(aws["s3"], BUCKET)
    key = "uploads/s/j/f/a b.heic"
    store.put_bytes(key, b"original bytes", "application/octet-stream")
    disposition = results.content_disposition("inline", "Été.heic")
    url = store.presign_get(key, 600, content_type="image/heic", content_disposition=disposition)
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200
    assert resp.content == b"original bytes"
    assert resp.headers["Content-Type"] == "image/heic"
    assert resp.headers["Content-Disposition"] == disposition
    plain = requests.get(store.presign_get(key, 600), timeout=10)
    assert plain.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Disposition" not in plain.headers


def test_multipart_through_presigned_parts(aws: dict[str, Any]) -> None:
    signer = S3UploadSigner(aws["s3"], BUCKET)
    key = "uploads/s/j/f/big.mp4"
    upload_id = signer.create_multipart(key, "video/mp4")
    assert list(signer.list_multipart("uploads/s/j/")) == [(key, upload_id)]
    etags = []
    for n, chunk in enumerate([b"a" * 5 * MIB, b"b" * 1000], start=1):
        resp = requests.put(signer.presign_part(key, upload_id, n, 600), data=chunk, timeout=10)
        assert resp.status_code == 200
        etags.append((n, resp.headers["ETag"]))
    with pytest.raises(InvalidRequest):
        signer.complete_multipart(key, upload_id, [(1, "bogus"), (2, etags[1][1])])
    signer.complete_multipart(key, upload_id, etags)
    assert aws["s3"].head_object(Bucket=BUCKET, Key=key)["ContentLength"] == 5 * MIB + 1000
    other = signer.create_multipart(key, "video/mp4")
    assert signer.abort_multipart(key, other)
    assert not signer.abort_multipart(key, other)


def test_executions_never_start_twice_and_stop(aws: dict[str, Any]) -> None:
    executions = StepFunctionsExecutions(aws["sfn"], aws["sm"])
    payload = TriageInput(session_id="s1", job_id="j1")
    arn = executions.start("j1", payload)
    assert executions.start("j1", payload) == arn == executions.execution_arn("j1")
    described = aws["sfn"].describe_execution(executionArn=arn)
    assert json.loads(described["input"]) == {"sessionId": "s1", "jobId": "j1", "partial": False}
    assert executions.status("j1") == "RUNNING"
    assert executions.stop("j1", "cancelled")
    assert not executions.stop("nope", "cancelled")
    assert executions.status("j1") == "ABORTED"
    assert executions.status("nope") is None


@pytest.mark.parametrize(
    ("code", "error"), [("NoSuchUpload", NotFound), ("InvalidPartOrder", InvalidRequest)]
)
def test_multipart_errors_map_to_domain_errors(code: str, error: type[Exception]) -> None:
    class Refusing:
        def complete_multipart_upload(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": code, "Message": "m"}}, "Complete")

    with pytest.raises(error):
        S3UploadSigner(Refusing(), BUCKET).complete_multipart("k", "u", [(1, "e")])


def test_execution_already_exists_returns_the_existing_arn() -> None:
    class Closed:
        def start_execution(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists"}}, "StartExecution")

    sm = "arn:aws:states:us-east-1:1:stateMachine:m"
    arn = StepFunctionsExecutions(Closed(), sm).start(
        "j1", TriageInput(session_id="s", job_id="j1")
    )
    assert arn == "arn:aws:states:us-east-1:1:execution:m:j1"


def test_the_api_wired_to_real_adapters(aws: dict[str, Any]) -> None:
    ddb, s3 = aws["ddb"], aws["s3"]
    svc = services.Services(
        jobs=DynamoJobRepository(ddb, SESSIONS),
        files=DynamoFileRepository(ddb, FILES, SESSIONS, 24),
        store=S3ObjectStore(s3, BUCKET),
        uploads=S3UploadSigner(s3, BUCKET),
        executions=StepFunctionsExecutions(aws["sfn"], aws["sm"]),
        idempotency=DynamoIdempotencyStore(ddb, SESSIONS),
        limits=DynamoClientLimits(ddb, SESSIONS),
        secrets=SECRETS,
        cfg=CONFIG,
    )

    def call(method: str, path: str, body: Any = None, **headers: str) -> dict[str, Any]:
        raw = None if body is None else json.dumps(body)
        return http.dispatch(event(method, path, raw=raw, headers=headers), svc, "r", now=NOW)

    key = "0f8b7a4e-5a4c-4b7e-9d7e-1a2b3c4d5e6f"
    req = {"expectedFileCount": 2, "files": [spec("a.jpg", 5), spec("b.jpg", 3)]}
    first = call("POST", "/api/triage/init", req, **{"idempotency-key": key})
    again = call("POST", "/api/triage/init", req, **{"idempotency-key": key})
    assert first["statusCode"] == again["statusCode"] == 202, first["body"]
    body, body2 = json.loads(first["body"]), json.loads(again["body"])
    assert (body["jobId"], body["sessionToken"]) == (body2["jobId"], body2["sessionToken"])
    executions = aws["sfn"].list_executions(stateMachineArn=aws["sm"])["executions"]
    assert [e["name"] for e in executions] == [body["jobId"]]

    auth = {"authorization": f"Bearer {body['sessionToken']}"}
    target = body["uploads"][0]
    up = requests.post(
        target["url"], data=target["fields"], files={"file": ("x", b"12345")}, timeout=10
    )
    assert up.status_code == 204
    results = call("GET", f"/api/triage/{body['jobId']}/results", **auth)
    assert results["statusCode"] == 200
    assert [f["status"] for f in json.loads(results["body"])["files"]] == ["uploading"] * 2
    assert (
        call(
            "GET",
            f"/api/triage/{body['jobId']}/results",
            **auth,
            **{"if-none-match": results["headers"]["etag"]},
        )["statusCode"]
        == 304
    )

    patched = call("PATCH", f"/api/triage/{body['jobId']}", {"expectedFileCount": 1}, **auth)
    assert json.loads(patched["body"])["expectedFileCount"] == 1
    cancelled = call("DELETE", f"/api/triage/{body['jobId']}", **auth)
    assert json.loads(cancelled["body"])["deletedObjects"] == 1
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/")
    status = aws["sfn"].describe_execution(executionArn=executions[0]["executionArn"])["status"]
    assert status == "ABORTED"


class AtomicRequests:
    """DynamoDB runs each request atomically (a conditional update is checked and applied as
    one step); moto in-process does not under threads. This wrapper makes each *request*
    atomic, as DynamoDB does, while threads still interleave between requests: what the
    adapter's read-then-conditional-write sequences must survive."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


def test_the_token_bucket_never_gives_more_than_it_holds_under_concurrency(
    aws: dict[str, Any],
) -> None:
    """12 inits of one client at the same instant against a bucket of 5: every conditional
    update is atomic, so exactly 5 get a token and the others learn how long to wait."""
    limits = DynamoClientLimits(AtomicRequests(aws["ddb"]), SESSIONS)
    now_ms, interval = 1_800_000_000_000, 6000
    barrier = threading.Barrier(12)

    def take(_: int) -> int:
        barrier.wait()
        return limits.take("c1", now_ms, interval, 5, 2_000_000_000)

    with ThreadPoolExecutor(12) as pool:
        waits = list(pool.map(take, range(12)))
    assert waits.count(0) == 5
    assert all(w > 0 for w in waits if w)
    assert limits.take("c1", now_ms, interval, 5, 2_000_000_000) == interval  # one interval
    assert limits.take("c1", now_ms + interval, interval, 5, 2_000_000_000) == 0  # refilled one
    assert limits.take("c1", now_ms + interval, interval, 5, 2_000_000_000) > 0
    assert limits.take("c2", now_ms, interval, 5, 2_000_000_000) == 0  # another client
    # an idle client's bucket is full again, not fuller: burst, then refused
    later = now_ms + 3_600_000
    assert [limits.take("c1", later, interval, 5, 2_000_000_000) for _ in range(6)][-2:] == [
        0,
        interval,
    ]
    item = aws["ddb"].get_item(
        TableName=SESSIONS, Key={"pk": {"S": "CLIENT#c1"}, "sk": {"S": "RATE"}}
    )
    assert item["Item"]["expiresAt"] == {"N": "2000000000"}


def test_open_jobs_admission_holds_the_cap_under_concurrency(aws: dict[str, Any]) -> None:
    limits = DynamoClientLimits(AtomicRequests(aws["ddb"]), SESSIONS)
    barrier = threading.Barrier(8)

    def admit(i: int) -> bool:
        barrier.wait()
        return limits.admit_job("c1", f"s{i}/j{i}", 3, 2_000_000_000)

    with ThreadPoolExecutor(8) as pool:
        admitted = list(pool.map(admit, range(8)))
    assert admitted.count(True) == 3
    held = limits.open_jobs("c1")
    assert len(held) == 3
    member = sorted(held)[0]
    assert limits.admit_job("c1", member, 3, 2_000_000_000)  # a replay of a held job
    assert not limits.admit_job("c1", "s9/j9", 3, 2_000_000_000)
    limits.release_jobs("c1", {member})
    assert limits.admit_job("c1", "s9/j9", 3, 2_000_000_000)
    assert limits.open_jobs("c1") == (held - {member}) | {"s9/j9"}
    assert limits.open_jobs("nobody") == set()


def test_the_container_reads_the_secrets_from_ssm_by_name(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only parameter names are configured; the values come from SSM SecureStrings."""
    ssm = boto3.client("ssm", region_name=REGION)
    current, previous = "c" * 64, "p" * 64
    ssm.put_parameter(Name="/mt/unit/token-secret/g1", Value=current, Type="SecureString")
    ssm.put_parameter(Name="/mt/unit/token-secret/g0", Value=previous, Type="SecureString")
    for name, value in {
        "MEDIA_BUCKET": BUCKET,
        "SESSIONS_TABLE": SESSIONS,
        "FILES_TABLE": FILES,
        "STATE_MACHINE_ARN": aws["sm"],
        "TOKEN_SECRET_PARAM": "/mt/unit/token-secret/g1",
        "TOKEN_SECRET_PREVIOUS_PARAM": "/mt/unit/token-secret/g0",
        "ALLOWED_MODELS": '["gemini-2.5-flash","gemini-2.5-pro"]',
        "RATE_LIMIT_PER_MINUTE": "30",
        "RATE_LIMIT_BURST": "4",
        "MAX_OPEN_JOBS_PER_CLIENT": "7",
    }.items():
        monkeypatch.setenv(name, value)
    from init_session import deps

    for cached in (deps.settings, deps.token_secrets, deps.services):
        cached.cache_clear()
    try:
        svc = deps.services()
        assert svc.secrets == TokenSecrets(current=current.encode(), previous=previous.encode())
        assert svc.cfg.allowed_models == ("gemini-2.5-flash", "gemini-2.5-pro")
        assert (svc.cfg.start_interval_ms, svc.cfg.start_burst) == (2000, 4)
        assert svc.cfg.max_open_jobs == 7
        monkeypatch.delenv("TOKEN_SECRET_PREVIOUS_PARAM")
        deps.settings.cache_clear()
        deps.token_secrets.cache_clear()
        assert deps.token_secrets() == TokenSecrets(current=current.encode())
    finally:
        for cached in (deps.settings, deps.token_secrets, deps.services):
            cached.cache_clear()
