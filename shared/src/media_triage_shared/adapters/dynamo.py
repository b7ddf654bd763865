"""DynamoDB adapters for the sessions table and the media-file-processing table."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from media_triage_shared import keys
from media_triage_shared.errors import JobCancelled, JobStateChanged
from media_triage_shared.models import (
    CLOSED_JOB_STATUSES,
    OPEN_JOB_STATUSES,
    FileRow,
    FileStatus,
    JobRow,
    JobStatus,
    VerdictSummary,
    deserialize,
    iso,
    serialize,
    utcnow,
)

TRANSACTION_ITEMS = 100  # TransactWriteItems takes at most 100 actions


def _is_conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DynamoJobRepository:
    def __init__(self, client: Any, sessions_table: str) -> None:
        self._ddb = client
        self._table = sessions_table

    def _key(self, session_id: str, job_id: str) -> dict[str, Any]:
        return serialize({"pk": keys.job_pk(session_id), "sk": keys.job_sk(job_id)})

    def get_job(self, session_id: str, job_id: str) -> JobRow | None:
        item = self._ddb.get_item(
            TableName=self._table, Key=self._key(session_id, job_id), ConsistentRead=True
        ).get("Item")
        if item is None or "tokenHash" not in item:
            return None  # absent, or only a counter stub written by an early upload
        return JobRow.from_item(item)

    def create_job(self, job: JobRow) -> JobRow:
        # UpdateItem, not PutItem: an upload that landed first may already have counted itself
        # on this row (ADD processedCount); its counter must survive.
        values = deserialize(job.to_item())
        for attr in ("pk", "sk", "processedCount"):
            values.pop(attr)
        names = {f"#a{i}": name for i, name in enumerate(values)}
        sets = [f"#a{i} = :v{i}" for i in range(len(values))]
        attr_values = serialize({f":v{i}": v for i, v in enumerate(values.values())})
        attr_values[":zero"] = {"N": "0"}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(job.session_id, job.job_id),
                UpdateExpression="SET "
                + ", ".join([*sets, "processedCount = if_not_exists(processedCount, :zero)"]),
                ConditionExpression="attribute_not_exists(tokenHash)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
        stored = self.get_job(job.session_id, job.job_id)
        assert stored is not None
        return stored

    def mark_processing(self, session_id: str, job_id: str, stall_deadline: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(session_id, job_id),
                UpdateExpression="SET #s = :processing, phase = :phase, updatedAt = :now, "
                "stallDeadline = :deadline",
                ConditionExpression="#s = :pending OR #s = :processing",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":processing": JobStatus.PROCESSING.value,
                        ":pending": JobStatus.PENDING.value,
                        ":phase": "processing_files",
                        ":now": iso(utcnow()),
                        ":deadline": stall_deadline,
                    }
                ),
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise  # a job past processing (or not created yet) keeps its status

    def set_status(
        self,
        session_id: str,
        job_id: str,
        status: JobStatus,
        phase: str,
        *,
        error: str | None = None,
        summary: VerdictSummary | None = None,
        partial: bool | None = None,
        expect: JobStatus | None = None,
    ) -> bool:
        values: dict[str, Any] = {
            ":status": status.value,
            ":phase": phase,
            ":now": iso(utcnow()),
        }
        sets = ["#s = :status", "phase = :phase", "updatedAt = :now"]
        names = {"#s": "status"}
        for attr, value in (
            ("error", error),  # ERROR is a DynamoDB reserved word: always use #names
            ("summary", summary.model_dump(by_alias=True, mode="json") if summary else None),
            ("partial", partial),
        ):
            if value is not None:
                sets.append(f"#{attr} = :{attr}")
                names[f"#{attr}"] = attr
                values[f":{attr}"] = value
        if expect is None:
            values[":cancelled"] = JobStatus.CANCELLED.value
            condition = "attribute_exists(tokenHash) AND #s <> :cancelled"
        else:
            values[":expect"] = expect.value
            condition = "attribute_exists(tokenHash) AND #s = :expect"
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(session_id, job_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            return False
        return True

    # -- the HTTP API's changes to a job (init_session)

    def _guarded_update(self, session_id: str, job_id: str, **kwargs: Any) -> dict[str, Any] | None:
        """UpdateItem on the job row; None when its condition fails."""
        try:
            return dict(
                self._ddb.update_item(
                    TableName=self._table, Key=self._key(session_id, job_id), **kwargs
                )
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return None
            raise

    def set_execution(self, session_id: str, job_id: str, execution_arn: str) -> None:
        self._guarded_update(
            session_id,
            job_id,
            UpdateExpression="SET executionArn = :arn, updatedAt = :now",
            ConditionExpression="attribute_exists(tokenHash)",
            ExpressionAttributeValues=serialize({":arn": execution_arn, ":now": iso(utcnow())}),
        )

    def reserve_uploads(
        self, session_id: str, job_id: str, count: int, stall_deadline: str, max_targets: int
    ) -> bool:
        if count > max_targets:
            return False
        return (
            self._guarded_update(
                session_id,
                job_id,
                UpdateExpression="SET stallDeadline = :deadline, updatedAt = :now "
                "ADD uploadTargetCount :n",
                ConditionExpression="attribute_exists(tokenHash) AND #s IN (:pending, :processing)"
                " AND (attribute_not_exists(uploadTargetCount) OR uploadTargetCount <= :room)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":deadline": stall_deadline,
                        ":now": iso(utcnow()),
                        ":n": count,
                        ":room": max_targets - count,
                        ":pending": JobStatus.PENDING.value,
                        ":processing": JobStatus.PROCESSING.value,
                    }
                ),
            )
            is not None
        )

    def set_expected_count(
        self, session_id: str, job_id: str, expected: int, stall_deadline: str
    ) -> JobRow | None:
        resp = self._guarded_update(
            session_id,
            job_id,
            UpdateExpression="SET expectedFileCount = :n, stallDeadline = :deadline, "
            "updatedAt = :now",
            ConditionExpression="attribute_exists(tokenHash) AND #s IN (:pending, :processing)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize(
                {
                    ":n": expected,
                    ":deadline": stall_deadline,
                    ":now": iso(utcnow()),
                    ":pending": JobStatus.PENDING.value,
                    ":processing": JobStatus.PROCESSING.value,
                }
            ),
            ReturnValues="ALL_NEW",
        )
        return None if resp is None else JobRow.from_item(resp["Attributes"])

    def begin_retry(
        self, session_id: str, job_id: str, status: JobStatus, phase: str, stall_deadline: str
    ) -> int | None:
        resp = self._guarded_update(
            session_id,
            job_id,
            UpdateExpression="SET #s = :status, phase = :phase, stallDeadline = :deadline, "
            "updatedAt = :now, executionCount = if_not_exists(executionCount, :one) + :one "
            "REMOVE #e",
            ConditionExpression="#s = :failed",
            ExpressionAttributeNames={"#s": "status", "#e": "error"},
            ExpressionAttributeValues=serialize(
                {
                    ":status": status.value,
                    ":phase": phase,
                    ":deadline": stall_deadline,
                    ":now": iso(utcnow()),
                    ":one": 1,
                    ":failed": JobStatus.FAILED.value,
                }
            ),
            ReturnValues="UPDATED_NEW",
        )
        return None if resp is None else int(resp["Attributes"]["executionCount"]["N"])

    def begin_successor(self, session_id: str, job_id: str, seen_count: int) -> int | None:
        # executionCount is absent on rows older than retries: it counts as 1.
        seen = "executionCount = :seen" + (
            " OR attribute_not_exists(executionCount)" if seen_count <= 1 else ""
        )
        resp = self._guarded_update(
            session_id,
            job_id,
            UpdateExpression="SET updatedAt = :now, "
            "executionCount = if_not_exists(executionCount, :one) + :one",
            ConditionExpression=f"attribute_exists(tokenHash) AND #s IN (:pending, :processing)"
            f" AND ({seen})",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize(
                {
                    ":now": iso(utcnow()),
                    ":one": 1,
                    ":seen": seen_count,
                    ":pending": JobStatus.PENDING.value,
                    ":processing": JobStatus.PROCESSING.value,
                }
            ),
            ReturnValues="UPDATED_NEW",
        )
        return None if resp is None else int(resp["Attributes"]["executionCount"]["N"])

    def cancel(self, session_id: str, job_id: str) -> bool:
        return (
            self._guarded_update(
                session_id,
                job_id,
                UpdateExpression="SET #s = :cancelled, phase = :cancelled, updatedAt = :now",
                ConditionExpression="attribute_exists(tokenHash) AND #s <> :cancelled",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {":cancelled": JobStatus.CANCELLED.value, ":now": iso(utcnow())}
                ),
            )
            is not None
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

    def begin(self, row: FileRow) -> bool:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=row.to_item(),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def finalize(self, row: FileRow, *, stall_deadline: str, job_closed: bool = False) -> bool:
        final = row.model_copy(update={"counted": True})
        now = iso(utcnow())
        accepted = sorted(CLOSED_JOB_STATUSES if job_closed else OPEN_JOB_STATUSES)
        statuses = {f":s{i}": status.value for i, status in enumerate(accepted)}
        # An open job's row may also meet a job row not written yet (a counter stub).
        guard = ("" if job_closed else "attribute_not_exists(#s) OR ") + (
            f"#s IN ({', '.join(statuses)})"
        )
        try:
            self._ddb.transact_write_items(
                TransactItems=[
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
                            "UpdateExpression": "ADD processedCount :one SET updatedAt = :now, "
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
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons", [])  # one per item, in order
            failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
            if failed[:1] == [True]:
                return False  # this fileId was already counted: a duplicate delivery
            if failed[1:2] == [True]:
                status = self._job_status(row.session_id, row.job_id)
                if status == JobStatus.CANCELLED.value:
                    raise JobCancelled(f"job {row.job_id} was cancelled") from exc
                raise JobStateChanged(f"job {row.job_id} is {status}", status=str(status)) from exc
            raise
        return True

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
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=row.to_item(),
                ConditionExpression="attribute_not_exists(counted)",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

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
                if not _is_conditional_failure(exc):
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
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=serialize(row.primary_key()),
                UpdateExpression=update,
                ConditionExpression="#s = :dup AND duplicateOf = :was",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

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

    def add_uploading_if_absent(self, rows: list[FileRow]) -> list[FileRow]:
        stored: list[FileRow] = []
        for start in range(0, len(rows), TRANSACTION_ITEMS):
            chunk = rows[start : start + TRANSACTION_ITEMS]
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

    def delete_uploading(self, job_id: str, file_id: str) -> bool:
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=serialize({"pk": keys.file_pk(job_id), "sk": keys.file_sk(file_id)}),
                ConditionExpression="#s = :uploading",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize({":uploading": FileStatus.UPLOADING.value}),
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True
