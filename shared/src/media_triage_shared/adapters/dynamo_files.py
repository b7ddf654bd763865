"""DynamoDB adapter of the file rows (media-file-processing table, ``JOB#<id>`` / ``FILE#<id>``),
and of the job counter they move (``finalize``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from media_triage_shared import keys
from media_triage_shared.adapters.dynamo_base import (
    TRANSACTION_ITEMS,
    cancellation_codes,
    is_conditional_failure,
    status_in,
)
from media_triage_shared.adapters.dynamo_jobs import BUMP
from media_triage_shared.adapters.dynamo_stamp import (
    job_action,
    stamp_item,
    stamped_transaction,
    together,
)
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

    # -- the job's version (ADR 0019, 0022): every row change the results show is stamped with
    # the version it gives the job, in one transaction (``dynamo_stamp``)

    def _job_key(self, row: FileRow) -> dict[str, Any]:
        return serialize({"pk": keys.job_pk(row.session_id), "sk": keys.job_sk(row.job_id)})

    def _job(
        self,
        row: FileRow,
        *,
        sets: str = "",
        values: dict[str, Any] | None = None,
        **guard: Any,
    ) -> Callable[[int], dict[str, Any]]:
        """The job row's half of a stamped write. Like ``finalize``'s counter, it may meet a
        counter stub (the job row not written yet): the stub gets the row's TTL."""
        ttl = "expiresAt = if_not_exists(expiresAt, :ttl)"
        return job_action(
            self._sessions,
            self._job_key(row),
            sets=f"{ttl}, {sets}" if sets else ttl,
            values={**serialize({":ttl": row.expires_at}), **(values or {})},
            **guard,
        )

    def _bump_job(self, row: FileRow) -> None:
        """A plain bump (``write_verdicts``: verdicts show only in full answers)."""
        self._ddb.update_item(
            TableName=self._sessions,
            Key=self._job_key(row),
            UpdateExpression=f"{BUMP} SET expiresAt = if_not_exists(expiresAt, :ttl)",
            ExpressionAttributeValues=serialize({":one": 1, ":ttl": row.expires_at}),
        )

    def _stamped(self, action: Callable[[int], dict[str, Any]], row: FileRow, **job: Any) -> bool:
        """One conditional action on a file row, stamped, and the job's version set to the
        stamp, all or nothing; False when the action's condition failed."""
        update = self._job(row, **job)
        try:
            stamped_transaction(self._ddb, together([action, update]))
        except ClientError as exc:
            if cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def _put(self, row: FileRow, condition: str | None = None) -> Callable[[int], dict[str, Any]]:
        """A Put of the whole row, for a given stamp."""
        item = row.to_item()
        guard = {"ConditionExpression": condition} if condition else {}
        return lambda stamp: {
            "Put": {"TableName": self._table, "Item": stamp_item(item, stamp), **guard}
        }

    def _put_if(self, row: FileRow, condition: str) -> bool:
        """Put the whole row if ``condition`` holds (stamped); False when it does not."""
        return self._stamped(self._put(row, condition), row)

    def begin(self, row: FileRow) -> bool:
        return self._put_if(row, "attribute_not_exists(pk)")

    def finalize(self, row: FileRow, *, stall_deadline: str, job_closed: bool = False) -> bool:
        final = row.model_copy(update={"counted": True})
        accepted, statuses = status_in(
            CLOSED_JOB_STATUSES if job_closed else OPEN_JOB_STATUSES, prefix=":s"
        )
        # The row was built for the job's status: a cancelled job counts nothing, a job whose
        # triage started gets `late` rows (ADR 0003). An open job's row may also meet a job row
        # not written yet (a counter stub): ADD creates it, and init keeps the counter.
        job = self._job(
            row,
            sets="updatedAt = :now, stallDeadline = :deadline",
            adds="processedCount :one",
            condition=("" if job_closed else "attribute_not_exists(#s) OR ") + accepted,
            names={"#s": "status"},
            values=serialize(
                {":one": 1, ":now": iso(utcnow()), ":deadline": stall_deadline, **statuses}
            ),
        )
        put = self._put(final, "attribute_not_exists(counted)")
        try:
            stamped_transaction(self._ddb, together([put, job]))
        except ClientError as exc:
            return self._count_refused(exc, row)
        return True

    def _count_refused(self, exc: ClientError, row: FileRow) -> bool:
        """Why ``finalize``'s transaction was refused: False for a file counted already; the
        job's status as an exception when its guard failed; anything else raised again."""
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise exc
        failed = [code == "ConditionalCheckFailed" for code in cancellation_codes(exc)]
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

    def list_files(self, job_id: str, since: int | None = None) -> list[FileRow]:
        rows: list[FileRow] = []
        values: dict[str, Any] = {":pk": keys.file_pk(job_id), ":file": "FILE#"}
        query: dict[str, Any] = {}
        if since is not None:  # rows written before stamps existed count as changed
            query["FilterExpression"] = "attribute_not_exists(stamp) OR stamp > :since"
            values[":since"] = since
        paginator = self._ddb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :file)",
            ExpressionAttributeValues=serialize(values),
            ConsistentRead=True,
            **query,
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
            "UpdateExpression": update.replace("SET ", "SET stamp = :stamp, ", 1),
            "ConditionExpression": "#s = :dup AND duplicateOf = :was",
            "ExpressionAttributeNames": {"#s": "status"},
        }
        return self._stamped(
            lambda stamp: {
                "Update": {
                    **action,
                    "ExpressionAttributeValues": serialize({**values, ":stamp": stamp}),
                }
            },
            row,
        )

    # -- the HTTP API's rows (init_session)

    def add_uploading(self, rows: list[FileRow]) -> None:
        # Ids the call just drew: no condition, 99 rows per transaction with the job's stamp.
        self._add_rows(rows, None)

    def add_uploading_if_absent(self, rows: list[FileRow]) -> list[FileRow]:
        return self._add_rows(rows, "attribute_not_exists(pk)")

    def _add_rows(self, rows: list[FileRow], condition: str | None) -> list[FileRow]:
        stored: list[FileRow] = []
        per_call = TRANSACTION_ITEMS - 1  # and the job's version
        for start in range(0, len(rows), per_call):
            chunk = rows[start : start + per_call]
            puts = [self._put(row, condition) for row in chunk]
            try:  # all or nothing: the usual case (no concurrent writer) is one call per 99
                stamped_transaction(self._ddb, together([*puts, self._job(chunk[0])]))
            except ClientError as exc:
                if condition is None or not _some_row_exists(exc):
                    raise
                # Some row exists: row by row, each put guarded, the existing row read back.
                for row in chunk:
                    existing = None if self.begin(row) else self.get_file(row.job_id, row.file_id)
                    stored.append(existing or row)
                continue
            stored.extend(chunk)
        return stored

    def delete_uploading(self, row: FileRow) -> bool:
        """A deleted row carries no stamp: the job's ``removedVersion`` takes it, and a delta
        from before it answers in full (ADR 0022)."""
        action = {
            "TableName": self._table,
            "Key": serialize(row.primary_key()),
            "ConditionExpression": "#s = :uploading",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": serialize({":uploading": FileStatus.UPLOADING.value}),
        }
        return self._stamped(lambda _: {"Delete": action}, row, sets="removedVersion = :stamp")


def _some_row_exists(exc: ClientError) -> bool:
    """A refused ``_add_rows`` transaction where a row's ``attribute_not_exists`` failed."""
    return "ConditionalCheckFailed" in cancellation_codes(exc)[:-1]
