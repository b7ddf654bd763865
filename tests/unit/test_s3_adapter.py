"""S3ObjectStore.head: without s3:ListBucket, S3 answers a missing key's HEAD with 403, not 404.
Both mean "not there" to MediaProcess (the file becomes ``invalid``/``missing`` and is counted);
other errors (throttling, 5xx) still raise so Lambda retries."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from media_triage_shared.adapters.s3 import S3ObjectStore


def _store(status: int, code: str) -> tuple[S3ObjectStore, Stubber]:
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    stub.add_client_error(
        "head_object", service_error_code=code, http_status_code=status, service_message=""
    )
    stub.activate()
    return S3ObjectStore(client, "bucket"), stub


@pytest.mark.parametrize(
    ("status", "code"), [(404, "404"), (404, "NotFound"), (403, "403"), (403, "AccessDenied")]
)
def test_a_missing_or_forbidden_head_is_missing(status: int, code: str) -> None:
    store, stub = _store(status, code)
    assert store.head("uploads/s/j/f/gone.jpg") is None
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "500"), (400, "400")])
def test_other_head_errors_raise(status: int, code: str) -> None:
    store, _ = _store(status, code)
    with pytest.raises(ClientError):
        store.head("uploads/s/j/f/x.jpg")
