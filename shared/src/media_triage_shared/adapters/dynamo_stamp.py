"""File-row writes stamped with the job version they create (ADR 0022).

Every file-row write the results show runs in one transaction with an update of the job row
that sets ``version = :stamp`` only where ``version < :stamp``. So a write committed after a
client read the job at version V carries a stamp above V, and ``?since=V`` finds it by its
stamp. The stamp is a hybrid clock, ``max(last version seen + 1, now in ms)``: writers that
commit in the order of their clocks never collide; one that lost the race (the version moved
to its stamp or beyond) is told the version the job row holds (``ALL_OLD`` on the failed
condition) and tries again above it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from media_triage_shared.adapters.dynamo_base import cancellation_codes

# The job row's half of the condition (a counter stub or a job row older than stamps may have
# no version at all).
STAMP_GUARD = "(attribute_not_exists(version) OR version < :stamp)"
ATTEMPTS = 10


def next_stamp(seen: int) -> int:
    """The stamp of a write after version ``seen``: above it, and near the wall clock (ms), so
    writers that never read the job row rarely collide."""
    return max(seen + 1, time.time_ns() // 1_000_000)


def stamp_item(item: dict[str, Any], stamp: int) -> dict[str, Any]:
    """A serialized row (``Put``) with its stamp."""
    return {**item, "stamp": {"N": str(stamp)}}


def job_action(
    table: str,
    key: dict[str, Any],
    *,
    sets: str = "",
    adds: str = "",
    condition: str = "",
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Callable[[int], dict[str, Any]]:
    """The job-row update of a stamped transaction, for a given stamp: ``SET version =
    :stamp`` plus ``sets``/``adds``, guarded by ``STAMP_GUARD`` and ``condition``; a failed
    condition returns the row (``ALL_OLD``) so the version it holds is known."""
    expression = "SET version = :stamp" + (f", {sets}" if sets else "")
    expression += f" ADD {adds}" if adds else ""
    guard = f"{STAMP_GUARD} AND ({condition})" if condition else STAMP_GUARD

    def build(stamp: int) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": table,
            "Key": key,
            "UpdateExpression": expression,
            "ConditionExpression": guard,
            "ExpressionAttributeValues": {**(values or {}), ":stamp": {"N": str(stamp)}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}

    return build


def together(
    actions: list[Callable[[int], dict[str, Any]]],
) -> Callable[[int], list[dict[str, Any]]]:
    """The actions of one transaction, each built for the same stamp."""
    return lambda stamp: [action(stamp) for action in actions]


def _version_overtaken(exc: ClientError, stamp: int, job_index: int) -> int | None:
    """The job row's version when the job row's condition was the only one that failed and the
    version had reached ``stamp`` (a later stamp may pass); None for any other refusal."""
    reasons = exc.response.get("CancellationReasons", [])
    failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
    if failed != [job_index]:
        return None
    item = reasons[job_index].get("Item") or {}
    version = int(item["version"]["N"]) if "version" in item else None
    return version if version is not None and version >= stamp else None


def stamped_transaction(
    ddb: Any, build: Callable[[int], list[dict[str, Any]]], job_index: int = -1
) -> int:
    """TransactWriteItems of ``build(stamp)``, whose action at ``job_index`` is a
    ``job_action``; returns the stamp it committed with. Tried again (up to ``ATTEMPTS``) with a
    stamp above the job's version when only the version guard failed, and with jitter when the
    transaction collided with another on one of its items (``TransactionConflict``). Any other
    refusal is raised, with the job row's reason as DynamoDB gave it."""
    stamp = next_stamp(0)
    for attempt in range(1, ATTEMPTS + 1):
        items = build(stamp)
        index = job_index % len(items)
        try:
            ddb.transact_write_items(TransactItems=items)
            return stamp
        except ClientError as exc:
            if attempt == ATTEMPTS:
                raise
            reasons = cancellation_codes(exc)
            if "TransactionConflict" in reasons and "ConditionalCheckFailed" not in reasons:
                time.sleep(random.uniform(0.01, 0.05 * 2 ** min(attempt, 5)))
                stamp = next_stamp(stamp - 1)
                continue
            version = _version_overtaken(exc, stamp, index)
            if version is None:
                raise
            stamp = next_stamp(version)
    raise AssertionError("unreachable")  # pragma: no cover
