"""Which AWS errors MediaProcess lets Lambda retry (ADR 0012): the ones a retry may clear."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from media_triage_shared.aws import is_transient


def _client_error(code: str, status: int, **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return ClientError(response, "Op")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("ThrottlingException", 400),
        _client_error("ProvisionedThroughputExceededException", 400),
        _client_error("SlowDown", 503),
        _client_error("InternalError", 500),
        _client_error("Anything", 502),
        _client_error(
            "TransactionCanceledException",
            400,
            CancellationReasons=[{"Code": "None"}, {"Code": "ThrottlingError"}],
        ),
        EndpointConnectionError(endpoint_url="http://x"),
        ReadTimeoutError(endpoint_url="http://x"),
    ],
)
def test_transient(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("ValidationException", 400),
        _client_error("AccessDenied", 403),
        _client_error("NoSuchKey", 404),
        _client_error(
            "TransactionCanceledException",
            400,
            CancellationReasons=[{"Code": "ConditionalCheckFailed"}, {"Code": "None"}],
        ),
        TypeError("Infinity and NaN not supported"),
        ValueError("bug"),
        KeyError("x"),
    ],
)
def test_not_transient(exc: Exception) -> None:
    assert not is_transient(exc)
