"""DynamoDB adapter of the file rows (media-file-processing table, ``JOB#<id>`` / ``FILE#<id>``),
and of the job counter they move (``finalize``)."""

from __future__ import annotations

import random
import time
from typing import Any

from botocore.exceptions import ClientError

from media_triage_shared import keys
from media_triage_shared.adapters.dynamo_base import (
    TRANSACTION_ITEMS,
    is_conditional_failure,
    status_in,
)
from media_triage_shared.adapters.dynamo_jobs import BUMP
from media_triage_shared.errors import JobCancelled, JobStateChanged
from media_triage_shared.models import (
    CLOSED_JOB_STATUSES,
    OPEN_JOB_STATUSES,
    FileRow,
    FileStatus,
    JobStatus,
    deserialize,
    iso,
    serialize,
    utcnow,
)


class DynamoFileRepository:
    def __init__(self, client: Any, files_table: str, sessions_table: str, ttl_hours: float):
        self._ddb = client
        self._table = files_table
        self._sessions = sessions_table
        self._ttl_hours = ttl_hours

    def get_file(self, job_id: str, file_id: str) -> FileRow | None:
        item = self._ddb.get_item(
            TableName=self._table,
            Key=serialize({"pk": keys.file_pk(job_id), "sk": keys.file_sk(file_id)}),
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else FileRow.from_item(item)

    # -- the job's version (ADR 0019): every row change the results show bumps it atomically

    def _job_key(self, row: FileRow) -> dict[str, Any]:
        return serialize({"pk": keys.job_pk(row.session_id), "sk": keys.job_sk(row.job_id)})

    def _bump(self, row: FileRow) -> dict[str, Any]:
        """The job row's version bump, as a transaction action. Like ``finalize``'s counter, it
        may meet a counter stub (the job row not written yet): the stub gets the row's TTL."""
        return {
            "Update": {
                "TableName": self._sessions,
                "Key": self._job_key(row),
                "UpdateExpression": f"{BUMP} SET expiresAt = if_not_exists(expiresAt, :ttl)",
                "ExpressionAttributeValues": serialize({":one": 1, ":ttl": row.expires_at}),
            }
        }

    def _bump_job(self, row: FileRow) -> None:
        """The bump on its own, after writes that cannot share a transaction with it."""
        self._ddb.update_item(**self._bump(row)["Update"])

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """TransactWriteItems, again (up to 5 times, with jitter) when it collided with a
        concurrent transaction on one of its items (``TransactionConflict``: the job row is
        shared by every file of the job); any other refusal is raised."""
        for attempt in range(1, 6):
            try:
                self._ddb.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "TransactionConflict" not in reasons or "ConditionalCheckFailed" in reasons:
                    raise
                if attempt == 5:
                    raise
                time.sleep(random.uniform(0.01, 0.05 * 2**attempt))

    def _with_bump(self, action: dict[str, Any], row: FileRow) -> bool:
        """One conditional action on a file row and the job's version bump, all or nothing;
        False when the action's condition failed."""
        try:
            self._transact([action, self._bump(row)])
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def _put_if(self, row: FileRow, condition: str) -> bool:
        """Put the whole row if ``condition`` holds (bumping the job's version); False when it
        does not."""
        put = {"TableName": self._table, "Item": row.to_item(), "ConditionExpression": condition}
        return self._with_bump({"Put": put}, row)

    def begin(self, row: FileRow) -> bool:
        return self._put_if(row, "attribute_not_exists(pk)")

    def finalize(self, row: FileRow, *, stall_deadline: str, job_closed: bool = False) -> bool:
        final = row.model_copy(update={"counted": True})
        now = iso(utcnow())
        accepted, statuses = status_in(
            CLOSED_JOB_STATUSES if job_closed else OPEN_JOB_STATUSES, prefix=":s"
        )
        # An open job's row may also meet a job row not written yet (a counter stub).
        guard = ("" if job_closed else "attribute_not_exists(#s) OR ") + (accepted)
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": final.to_item(),
                            "ConditionExpression": "attribute_not_exists(counted)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._sessions,
                            "Key": serialize(
                                {"pk": keys.job_pk(row.session_id), "sk": keys.job_sk(row.job_id)}
                            ),
                            # ADD creates the row if init has not written it yet; init keeps
                            # the counter (UpdateItem with if_not_exists), so order is free.
                            "UpdateExpression": "ADD processedCount :one, version :one "
                            "SET updatedAt = :now, "
                            "stallDeadline = :deadline, expiresAt = if_not_exists(expiresAt, :ttl)",
                            # The row was built for the job's status: a cancelled job counts
                            # nothing, a job whose triage started gets `late` rows (ADR 0003).
                            "ConditionExpression": guard,
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": serialize(
                                {
                                    ":one": 1,
                                    ":now": now,
                                    ":deadline": stall_deadline,
                                    ":ttl": row.expires_at,
                                    **statuses,
                                }
                            ),
                        }
                    },
                ]
            )
        except ClientError as exc:
            return self._count_refused(exc, row)
        return True

    def _count_refused(self, exc: ClientError, row: FileRow) -> bool:
        """Why ``finalize``'s transaction was refused: False for a file counted already; the
        job's status as an exception when its guard failed; anything else raised again."""
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise exc
        reasons = exc.response.get("CancellationReasons", [])  # one per item, in order
        failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
        if failed[:1] == [True]:
            return False  # this fileId was already counted: a duplicate delivery
        if failed[1:2] == [True]:
            status = self._job_status(row.session_id, row.job_id)
            if status == JobStatus.CANCELLED.value:
                raise JobCancelled(f"job {row.job_id} was cancelled") from exc
            raise JobStateChanged(f"job {row.job_id} is {status}", status=str(status)) from exc
        raise exc

    def _job_status(self, session_id: str, job_id: str) -> str | None:
        item = self._ddb.get_item(
            TableName=self._sessions,
            Key=serialize({"pk": keys.job_pk(session_id), "sk": keys.job_sk(job_id)}),
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
        ).get("Item", {})
        return item["status"]["S"] if "status" in item else None

    def start_processing(self, row: FileRow) -> bool:
        # A whole-row Put is safe here: the row carries what init wrote (filename, size,
        # uploadId, ...), and the guard keeps it off a row that is already final.
        return self._put_if(row, "attribute_not_exists(counted)")

    def claim_fingerprint(
        self, job_id: str, fingerprint: str, file_id: str, expires_at: int
    ) -> str:
        key = serialize({"pk": keys.file_pk(job_id), "sk": keys.fingerprint_sk(fingerprint)})
        item = {**key, **serialize({"fileId": file_id, "expiresAt": expires_at})}
        for _ in range(3):  # a claim can only vanish by TTL between the put and the read
            try:
                self._ddb.put_item(
                    TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
                )
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
                held = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True)
                if "Item" in held:
                    return str(deserialize(held["Item"])["fileId"])
                continue
            return file_id
        raise RuntimeError(f"fingerprint claim for {file_id} kept disappearing")

    def list_files(self, job_id: str) -> list[FileRow]:
        rows: list[FileRow] = []
        paginator = self._ddb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :file)",
            ExpressionAttributeValues=serialize({":pk": keys.file_pk(job_id), ":file": "FILE#"}),
            ConsistentRead=True,
        ):
            rows.extend(FileRow.from_item(item) for item in page.get("Items", []))
        return rows

    def write_verdicts(self, rows: list[FileRow]) -> None:
        """Verdicts show once the job is complete (a status change, which bumps); the bump
        after them covers a verdict changed later, and a crash before it leaves nothing shown
        stale: the job is not complete yet."""
        for row in rows:
            self._ddb.update_item(
                TableName=self._table,
                Key=serialize(row.primary_key()),
                UpdateExpression="SET verdict = :verdict, reason = :reason, score = :score, "
                "issues = :issues, updatedAt = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=serialize(
                    {
                        ":verdict": row.verdict.value if row.verdict else None,
                        ":reason": row.reason,
                        ":score": row.score,
                        ":issues": row.issues or [],
                        ":now": iso(utcnow()),
                    }
                ),
            )
        for job_row in {(r.session_id, r.job_id): r for r in rows}.values():
            self._bump_job(job_row)

    def reassign_duplicate(self, row: FileRow, *, was_duplicate_of: str) -> bool:
        values: dict[str, Any] = {
            ":status": row.status.value,
            ":dup": FileStatus.DUPLICATE.value,
            ":was": was_duplicate_of,
            ":now": iso(utcnow()),
        }
        update = "SET #s = :status, updatedAt = :now"
        if row.duplicate_of is None:
            update += " REMOVE duplicateOf"
        else:
            update += ", duplicateOf = :new"
            values[":new"] = row.duplicate_of
        action = {
            "TableName": self._table,
            "Key": serialize(row.primary_key()),
            "UpdateExpression": update,
            "ConditionExpression": "#s = :dup AND duplicateOf = :was",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": serialize(values),
        }
        return self._with_bump({"Update": action}, row)

    # -- the HTTP API's rows (init_session)

    def add_uploading(self, rows: list[FileRow]) -> None:
        for start in range(0, len(rows), 25):  # BatchWriteItem takes at most 25 items
            pending: dict[str, Any] = {
                self._table: [
                    {"PutRequest": {"Item": r.to_item()}} for r in rows[start : start + 25]
                ]
            }
            for attempt in range(8):
                unprocessed = self._ddb.batch_write_item(RequestItems=pending).get(
                    "UnprocessedItems", {}
                )
                if not unprocessed:
                    break
                pending = unprocessed
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError(f"DynamoDB left {len(pending[self._table])} file rows unwritten")
        # After the rows (a batch write takes no transaction): only the caller knows of them
        # until its answer, so a crash in between hides nothing anyone was shown (ADR 0019).
        if rows:
            self._bump_job(rows[0])

    def add_uploading_if_absent(self, rows: list[FileRow]) -> list[FileRow]:
        stored: list[FileRow] = []
        per_call = TRANSACTION_ITEMS - 1  # and the job's version bump
        for start in range(0, len(rows), per_call):
            chunk = rows[start : start + per_call]
            try:  # all or nothing: the usual case (no concurrent writer) is one call per 100
                self._ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": row.to_item(),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        }
                        for row in chunk
                    ]
                    + [self._bump(chunk[0])]
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                # Some row exists (or a concurrent transaction touched one): row by row, each
                # put guarded, the existing row read back where the guard holds.
                for row in chunk:
                    existing = None if self.begin(row) else self.get_file(row.job_id, row.file_id)
                    stored.append(existing or row)
                continue
            stored.extend(chunk)
        return stored

    def delete_uploading(self, row: FileRow) -> bool:
        action = {
            "TableName": self._table,
            "Key": serialize(row.primary_key()),
            "ConditionExpression": "#s = :uploading",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": serialize({":uploading": FileStatus.UPLOADING.value}),
        }
        return self._with_bump({"Delete": action}, row)
