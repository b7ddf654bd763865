"""What the DynamoDB adapters share: the conditional-failure test and the transaction size."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from botocore.exceptions import ClientError

TRANSACTION_ITEMS = 100  # TransactWriteItems takes at most 100 actions


def is_conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def cancellation_codes(exc: ClientError) -> list[str | None]:
    """A cancelled transaction's reason codes, one per action in order (``None`` passed)."""
    return [r.get("Code") for r in exc.response.get("CancellationReasons", [])]


def status_in(statuses: Iterable[StrEnum], prefix: str = ":st") -> tuple[str, dict[str, str]]:
    """``#s IN (:st0, :st1, ...)`` and its values, for a status set of the vocabulary (the
    caller names ``#s`` ``status``)."""
    values = {f"{prefix}{i}": status.value for i, status in enumerate(sorted(statuses))}
    return f"#s IN ({', '.join(values)})", values
