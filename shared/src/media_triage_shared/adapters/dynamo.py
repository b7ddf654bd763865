"""DynamoDB adapters for the sessions table and the media-file-processing table: one module per
table (``dynamo_jobs``, ``dynamo_files``); this module keeps the names callers import."""

from media_triage_shared.adapters.dynamo_base import TRANSACTION_ITEMS
from media_triage_shared.adapters.dynamo_files import DynamoFileRepository
from media_triage_shared.adapters.dynamo_jobs import DynamoJobRepository

__all__ = ["TRANSACTION_ITEMS", "DynamoFileRepository", "DynamoJobRepository"]
