"""In-process checks of local_aws pieces (no emulator subprocess, no moto server)."""

from __future__ import annotations

import base64
import datetime
import io
import json
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local_aws.apigw import match_route
from local_aws.lambda_executor import FunctionSpec, LambdaExecutor
from local_aws.patches import post_policy_violation
from local_aws.s3cors import Rule, bucket_and_key, match_rule
from local_aws.sites import _key_of
from local_aws.stepfunctions import aws_timestamp, parse_timestamp, validate_definition


def _api(*keys: str) -> Any:
    return SimpleNamespace(
        routes={str(i): SimpleNamespace(route_key=key) for i, key in enumerate(keys)}
    )


@pytest.mark.parametrize(
    ("method", "path", "expected", "params"),
    [
        ("GET", "/pets/dog", "GET /pets/dog", {}),
        ("GET", "/pets/cat", "GET /pets/{name}", {"name": "cat"}),
        ("POST", "/pets/cat", "ANY /pets/{name}", {"name": "cat"}),
        ("GET", "/pets/cat/toys/ball", "GET /pets/{proxy+}", {"proxy": "cat/toys/ball"}),
        ("GET", "/other", "$default", {}),
    ],
)
def test_route_precedence(method: str, path: str, expected: str, params: dict[str, str]) -> None:
    api = _api(
        "GET /pets/{proxy+}", "ANY /pets/{name}", "GET /pets/{name}", "GET /pets/dog", "$default"
    )
    match = match_route(api, method, path)
    assert match is not None
    assert match.route_key == expected
    assert match.path_parameters == params


def test_no_route_without_default() -> None:
    assert match_route(_api("GET /a"), "GET", "/b") is None
    assert match_route(_api("GET /a/{id}"), "GET", "/a") is None


def test_validate_definition() -> None:
    assert (
        validate_definition(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}))
        == []
    )
    assert validate_definition("{")[0]["code"] == "INVALID_JSON_DESCRIPTION"
    missing = validate_definition(
        json.dumps({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}})
    )
    assert missing[0]["code"] == "MISSING_TRANSITION_TARGET"
    bad_state = validate_definition(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Nope"}}}))
    assert bad_state
    assert bad_state[0]["severity"] == "ERROR"


def test_timestamps() -> None:
    utc = datetime.UTC
    assert parse_timestamp("2026-11-28T12:00:00Z") == datetime.datetime(
        2026, 11, 28, 12, tzinfo=utc
    )
    assert parse_timestamp("2026-11-28T14:00:00.250+02:00") == datetime.datetime(
        2026, 11, 28, 12, 0, 0, 250000, tzinfo=utc
    )
    assert parse_timestamp("2026-11-28 12:00:00Z") is None
    assert parse_timestamp("2026-11-28T12:00:00") is None
    assert parse_timestamp(17) is None
    stamp = datetime.datetime(2026, 11, 28, 12, 34, 37, 553191, tzinfo=utc)
    assert aws_timestamp(stamp) == "2026-11-28T12:34:37.553Z"


def _spec(source: str, timeout: int = 5) -> FunctionSpec:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    code = buffer.getvalue()
    return FunctionSpec(
        name="unit",
        arn="arn:aws:lambda:us-east-1:123456789012:function:unit",
        region="us-east-1",
        account_id="123456789012",
        handler="app.handler",
        timeout=timeout,
        memory_size=128,
        code_sha="",
        environment=(("GREETING", "hi"),),
        code_bytes=code,
    )


def test_executor_in_process_warm_reuse_and_idle_reaping(tmp_path: Path) -> None:
    source = (
        "import os\n\ndef handler(event, context):\n"
        "    return [os.getpid(), os.environ['GREETING']]\n"
    )
    executor = LambdaExecutor(tmp_path, "http://127.0.0.1:9", concurrency=2, log_to_files=False)
    try:
        spec = _spec(source)
        first = json.loads(executor.invoke(spec, b"{}").payload)
        second = json.loads(executor.invoke(spec, b"{}").payload)
        assert first == second
        assert first[1] == "hi"
        executor.pool_for(spec).reap(0)
        third = json.loads(executor.invoke(spec, b"{}").payload)
        assert third[0] != first[0]
        stats = executor.stats()["pools"][0]
        assert stats["coldStarts"] == 2
        assert stats["workers"] == 1
    finally:
        executor.shutdown()


def test_executor_runtime_exit_is_reported(tmp_path: Path) -> None:
    source = "import os\n\ndef handler(event, context):\n    os._exit(3)\n"
    executor = LambdaExecutor(tmp_path, "http://127.0.0.1:9", log_to_files=False)
    try:
        started = time.monotonic()
        result = executor.invoke(_spec(source), b"{}")
        assert time.monotonic() - started < 5
        assert result.function_error == "Unhandled"
        assert result.error_type == "Runtime.ExitError"
        assert "exit status 3" in json.loads(result.payload)["errorMessage"]
    finally:
        executor.shutdown()


DENIED = (403, "AccessDenied")


def _policy(*conditions: Any, expiration: str = "2030-01-01T00:00:00Z") -> str:
    doc = {"expiration": expiration, "conditions": list(conditions)}
    return base64.b64encode(json.dumps(doc).encode()).decode()


@pytest.mark.parametrize(
    ("conditions", "fields", "size", "refusal"),
    [
        ([{"key": "uploads/a/b.jpg"}], {"key": "uploads/a/b.jpg"}, 5, None),
        ([{"key": "uploads/a/b.jpg"}], {"key": "uploads/a/c.jpg"}, 5, DENIED),
        ([["eq", "$Content-Type", "image/jpeg"]], {"content-type": "image/jpeg"}, 5, None),
        (
            [["eq", "$Content-Type", "image/jpeg"]],
            {"Content-Type": "text/html"},
            5,
            (403, "AccessDenied"),
        ),
        ([["starts-with", "$key", "uploads/a/"]], {"key": "uploads/a/x"}, 5, None),
        ([["starts-with", "$key", "uploads/a/"]], {"key": "uploads/b/x"}, 5, DENIED),
        ([["content-length-range", 1, 10]], {}, 10, None),
        ([["content-length-range", 1, 10]], {}, 11, (400, "EntityTooLarge")),
        ([["content-length-range", 1, 10]], {}, 0, (400, "EntityTooSmall")),
        ([{"bucket": "media"}], {}, 1, None),
        ([{"bucket": "other"}], {}, 1, DENIED),
        ([["exists", "$key"]], {}, 1, (400, "InvalidPolicyDocument")),
    ],
)
def test_post_policy_conditions(
    conditions: list[Any], fields: dict[str, str], size: int, refusal: tuple[int, str] | None
) -> None:
    got = post_policy_violation(_policy(*conditions), fields, "media", size)
    assert (got[:2] if got else None) == refusal


def test_post_policy_expiry_and_garbage() -> None:
    policy = _policy(expiration="2026-01-01T00:00:00.000Z")
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp()
    assert post_policy_violation(policy, {}, "b", 1, now=at - 1) is None
    refused = post_policy_violation(policy, {}, "b", 1, now=at + 1)
    assert refused is not None
    assert refused[1] == "AccessDenied"
    assert "expired" in refused[2]
    garbage = post_policy_violation("not base64 json", {}, "b", 1)
    assert garbage is not None
    assert garbage[1] == "InvalidPolicyDocument"


RULES = [
    Rule(("http://localhost:4566",), ("PUT", "POST"), ("content-type", "x-amz-*"), ("ETag",), "60"),
    Rule(("https://*.example.org",), ("GET",), ("*",), (), None),
]


@pytest.mark.parametrize(
    ("origin", "method", "headers", "expected"),
    [
        ("http://localhost:4566", "PUT", [], 0),
        ("http://localhost:4566", "PUT", ["Content-Type", "x-amz-meta-a"], 0),
        ("http://localhost:4566", "PUT", ["authorization"], None),
        ("http://localhost:4566", "GET", [], None),
        ("http://localhost:4567", "PUT", [], None),
        ("https://a.example.org", "GET", ["anything"], 1),
        ("https://example.org", "GET", [], None),
        ("http://a.example.org", "GET", [], None),
        ("https://a.example.org.evil", "GET", [], None),
    ],
)
def test_s3_cors_rule_matching(
    origin: str, method: str, headers: list[str], expected: int | None
) -> None:
    rule = match_rule(RULES, origin, method, headers)
    assert rule is (None if expected is None else RULES[expected])


def test_s3_bucket_and_key_path_and_virtual_host() -> None:
    assert bucket_and_key({"PATH_INFO": "/b/k/x.jpg", "HTTP_HOST": "127.0.0.1:4566"}) == (
        "b",
        "k/x.jpg",
    )
    assert bucket_and_key({"PATH_INFO": "/b", "HTTP_HOST": "localhost"}) == ("b", "")
    assert bucket_and_key(
        {"PATH_INFO": "/k/x.jpg", "HTTP_HOST": "b.s3.localhost.localstack.cloud:4566"}
    ) == ("b", "k/x.jpg")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/", "index.html"),
        ("/assets/app.js", "assets/app.js"),
        ("/docs/", "docs/index.html"),
        ("/a/../b", None),
        ("/./index.html", None),
        ("/a//b", None),
        ("/a\\..\\b", None),
    ],
)
def test_site_key_of(path: str, key: str | None) -> None:
    assert _key_of(path) == key


@pytest.mark.parametrize("switch", ["1", None])
def test_missing_key_403_switch(monkeypatch: pytest.MonkeyPatch, switch: str | None) -> None:
    """LOCAL_AWS_S3_MISSING_KEY_403=1: a missing key's HEAD/GET answers 403 AccessDenied, as S3
    does for a caller without s3:ListBucket; unset, 404 as before. Existing keys and missing
    buckets are untouched either way."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from local_aws.patches import MISSING_KEY_403, patch_missing_key_403

    patch_missing_key_403()
    if switch is None:
        monkeypatch.delenv(MISSING_KEY_403, raising=False)
    else:
        monkeypatch.setenv(MISSING_KEY_403, switch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="media-bucket")
        s3.put_object(Bucket="media-bucket", Key="there.jpg", Body=b"abc")

        assert s3.head_object(Bucket="media-bucket", Key="there.jpg")["ContentLength"] == 3
        part = s3.get_object(Bucket="media-bucket", Key="there.jpg", Range="bytes=0-1")
        assert part["Body"].read() == b"ab"
        with pytest.raises(ClientError) as head:
            s3.head_object(Bucket="media-bucket", Key="gone.jpg")
        with pytest.raises(ClientError) as get:
            s3.get_object(Bucket="media-bucket", Key="gone.jpg")
        with pytest.raises(ClientError) as no_bucket:
            s3.head_object(Bucket="no-such-bucket", Key="x")

    status = 403 if switch else 404
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert get.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert get.value.response["Error"]["Code"] == ("AccessDenied" if switch else "NoSuchKey")
    assert no_bucket.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
