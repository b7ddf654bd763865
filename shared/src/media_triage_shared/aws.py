"""boto3 clients, built once per container. ``AWS_ENDPOINT_URL`` (read by boto3) points them
at the local emulator; nothing here knows which environment it runs in."""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
    signature_version="s3v4",
)


_LOCK = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _client(service: str) -> Any:
    return _session().client(service, config=_CONFIG)


def client(service: str) -> Any:
    """The container's client of a service. All come from one Session: a new Session per
    client loaded the endpoint and service data again (~50 ms of CPU each at cold start, ADR
    0020). Clients are thread-safe, a Session is not: creation is serialised."""
    with _LOCK:
        return _client(service)


def reset_clients() -> None:
    """Forget the Session and its clients (tests that change the environment between cases)."""
    with _LOCK:
        _client.cache_clear()
        _session.cache_clear()


# Error codes that say "try again later" (DynamoDB, S3 and the generic AWS ones).
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionInProgressException",
    }
)
# TransactWriteItems cancelled for a reason a retry can clear (not a failed condition).
_TRANSIENT_CANCELLATIONS = frozenset(
    {"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"}
)


def is_transient(exc: BaseException) -> bool:
    """An AWS error a retry may clear: throttling, a 5xx, a dropped or timed-out connection,
    a transaction cancelled by a conflict or throttling. Everything else (a refused request,
    a bug) would fail the same way again."""
    if isinstance(exc, HTTPClientError | BotoConnectionError):
        return True
    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code == "TransactionCanceledException":
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
        return bool(reasons & _TRANSIENT_CANCELLATIONS)
    return code in _TRANSIENT_CODES or status >= 500
