"""What the DynamoDB adapters share: the conditional-failure test and the transaction size."""

from __future__ import annotations

from botocore.exceptions import ClientError

TRANSACTION_ITEMS = 100  # TransactWriteItems takes at most 100 actions


def is_conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")
