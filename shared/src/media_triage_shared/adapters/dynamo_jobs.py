"""DynamoDB adapter of the job rows (sessions table, ``SESSION#<id>`` / ``JOB#<id>``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from media_triage_shared import keys
from media_triage_shared.adapters.dynamo_base import is_conditional_failure, status_in
from media_triage_shared.models import (
    LIVE_JOB_STATUSES,
    JobPhase,
    JobRow,
    JobStatus,
    VerdictSummary,
    deserialize,
    iso,
    serialize,
    utcnow,
)

# Every write the results document shows bumps the job's version (ADR 0019): the ETag of the
# results poll is derived from it, so a write that forgot it would leave the page a stale 304.
# Executions (executionArn, executionCount) and upload targets are not shown: they do not bump.
BUMP = "ADD version :one"

# The job still takes files (pending/processing): the guard of every change the uploads make.
_LIVE, _LIVE_VALUES = status_in(LIVE_JOB_STATUSES)


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
        for attr in ("pk", "sk", "processedCount", "version"):
            values.pop(attr)
        names = {f"#a{i}": name for i, name in enumerate(values)}
        sets = [f"#a{i} = :v{i}" for i in range(len(values))]
        attr_values = serialize({f":v{i}": v for i, v in enumerate(values.values())})
        attr_values[":zero"], attr_values[":one"] = {"N": "0"}, {"N": "1"}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(job.session_id, job.job_id),
                UpdateExpression="SET "
                + ", ".join(
                    [
                        *sets,
                        "processedCount = if_not_exists(processedCount, :zero)",
                        "version = if_not_exists(version, :zero) + :one",  # a stub's bumps stay
                    ]
                ),
                ConditionExpression="attribute_not_exists(tokenHash)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
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
                f"stallDeadline = :deadline {BUMP}",
                ConditionExpression=_LIVE,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":processing": JobStatus.PROCESSING.value,
                        **_LIVE_VALUES,
                        ":phase": JobPhase.PROCESSING_FILES.value,
                        ":now": iso(utcnow()),
                        ":deadline": stall_deadline,
                        ":one": 1,
                    }
                ),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise  # a job past processing (or not created yet) keeps its status

    def set_status(
        self,
        session_id: str,
        job_id: str,
        status: JobStatus,
        phase: JobPhase,
        *,
        error: str | None = None,
        summary: VerdictSummary | None = None,
        partial: bool | None = None,
        expect: JobStatus | None = None,
    ) -> bool:
        values: dict[str, Any] = {
            ":status": status.value,
            ":phase": str(phase),
            ":now": iso(utcnow()),
            ":one": 1,
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
                UpdateExpression="SET " + ", ".join(sets) + f" {BUMP}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
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
            if is_conditional_failure(exc):
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
                ConditionExpression=f"attribute_exists(tokenHash) AND {_LIVE}"
                " AND (attribute_not_exists(uploadTargetCount) OR uploadTargetCount <= :room)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":deadline": stall_deadline,
                        ":now": iso(utcnow()),
                        ":n": count,
                        ":room": max_targets - count,
                        **_LIVE_VALUES,
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
            f"updatedAt = :now {BUMP}",
            ConditionExpression=f"attribute_exists(tokenHash) AND {_LIVE}",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize(
                {
                    ":n": expected,
                    ":deadline": stall_deadline,
                    ":now": iso(utcnow()),
                    ":one": 1,
                    **_LIVE_VALUES,
                }
            ),
            ReturnValues="ALL_NEW",
        )
        return None if resp is None else JobRow.from_item(resp["Attributes"])

    def begin_retry(
        self, session_id: str, job_id: str, status: JobStatus, phase: JobPhase, stall_deadline: str
    ) -> int | None:
        resp = self._guarded_update(
            session_id,
            job_id,
            UpdateExpression="SET #s = :status, phase = :phase, stallDeadline = :deadline, "
            "updatedAt = :now, executionCount = if_not_exists(executionCount, :one) + :one "
            f"REMOVE #e {BUMP}",
            ConditionExpression="#s = :failed",
            ExpressionAttributeNames={"#s": "status", "#e": "error"},
            ExpressionAttributeValues=serialize(
                {
                    ":status": status.value,
                    ":phase": str(phase),
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
            ConditionExpression=f"attribute_exists(tokenHash) AND {_LIVE} AND ({seen})",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=serialize(
                {
                    ":now": iso(utcnow()),
                    ":one": 1,
                    ":seen": seen_count,
                    **_LIVE_VALUES,
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
                UpdateExpression=f"SET #s = :cancelled, phase = :phase, updatedAt = :now {BUMP}",
                ConditionExpression="attribute_exists(tokenHash) AND #s <> :cancelled",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":cancelled": JobStatus.CANCELLED.value,
                        ":phase": JobPhase.CANCELLED.value,
                        ":now": iso(utcnow()),
                        ":one": 1,
                    }
                ),
            )
            is not None
        )
