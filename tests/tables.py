"""The application's DynamoDB key schema (``pk``/``sk`` strings, on-demand), for tests that
create its tables on moto themselves instead of through Terraform."""

from __future__ import annotations

from typing import Any


def create_app_tables(dynamodb: Any, *names: str) -> None:
    for name in names:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
