"""AWS adapters only the API needs: S3 upload signing and multipart calls, and the idempotency
records (sessions table). Step Functions executions are shared (media_process restarts them
too) and re-exported here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from init_session.ports import CLIENT_PK, IDEMPOTENCY_PK, IdempotencyRecord
from media_triage_shared.adapters.executions import StepFunctionsExecutions
from media_triage_shared.errors import InvalidRequest, NotFound
from media_triage_shared.models import serialize

__all__ = [
    "DynamoClientLimits",
    "DynamoIdempotencyStore",
    "S3UploadSigner",
    "StepFunctionsExecutions",
]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3UploadSigner:
    """Presigning is local (no network call); the multipart calls go to S3."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def presign_post(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", size, size],
            ],
            ExpiresIn=expires_in,
        )
        return str(post["url"]), {str(k): str(v) for k, v in post["fields"].items()}

    def create_multipart(self, key: str, content_type: str) -> str:
        resp = self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=key, ContentType=content_type
        )
        return str(resp["UploadId"])

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "UploadId": upload_id,
                    "PartNumber": part_number,
                },
                ExpiresIn=expires_in,
            )
        )

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        try:
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [
                        {"PartNumber": n, "ETag": f'"{etag.strip().strip(chr(34))}"'}
                        for n, etag in parts
                    ]
                },
            )
        except ClientError as exc:
            code = _code(exc)
            if code == "NoSuchUpload":
                raise NotFound("no such multipart upload (completed or aborted)") from exc
            if code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"}:
                message = str(exc.response.get("Error", {}).get("Message", code))
                raise InvalidRequest(
                    f"body.parts: S3 refused the parts ({code})",
                    details=[{"field": "body.parts", "message": message}],
                ) from exc
            raise

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        sizes: dict[int, int] = {}
        paginator = self._s3.get_paginator("list_parts")
        try:
            for page in paginator.paginate(Bucket=self._bucket, Key=key, UploadId=upload_id):
                for part in page.get("Parts", []):
                    sizes[int(part["PartNumber"])] = int(part["Size"])
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise NotFound("no such multipart upload (completed or aborted)") from exc
            raise
        return sizes

    def abort_multipart(self, key: str, upload_id: str) -> bool:
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                return False
            raise
        return True

    def list_multipart(self, prefix: str) -> Iterator[tuple[str, str]]:
        paginator = self._s3.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                yield str(upload["Key"]), str(upload["UploadId"])


class DynamoIdempotencyStore:
    """``IDEMPOTENCY#<sha256 of the key>`` items in the sessions table (same TTL attribute)."""

    def __init__(self, client: Any, sessions_table: str) -> None:
        self._ddb = client
        self._table = sessions_table

    def claim(self, record: IdempotencyRecord, now_epoch: int) -> IdempotencyRecord:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=record.to_item(),
                # TTL deletes lazily: an expired record counts as absent
                ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                ExpressionAttributeValues=serialize({":now": now_epoch}),
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            item = self._ddb.get_item(
                TableName=self._table,
                Key=serialize(record.primary_key()),
                ConsistentRead=True,
            )["Item"]
            return IdempotencyRecord.from_item(item)
        return record

    def find(self, key_hash: str, now_epoch: int) -> IdempotencyRecord | None:
        item = self._ddb.get_item(
            TableName=self._table,
            Key=serialize({"pk": f"{IDEMPOTENCY_PK}{key_hash}", "sk": "IDEMPOTENCY"}),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        record = IdempotencyRecord.from_item(item)
        return record if record.expires_at >= now_epoch else None


class DynamoClientLimits:
    """``CLIENT#<hash>`` items of the sessions table (ADR 0014).

    ``RATE``: the init rate limit as a GCRA token bucket. ``tat`` (theoretical arrival time,
    epoch ms) is the time at which the bucket is full again; a request is allowed when
    ``tat - now <= (burst - 1) * interval`` and pushes ``tat`` one interval further. Each
    step is one conditional UpdateItem, so concurrent inits (any number of containers) never
    take more than the bucket holds. ``OPEN``: a string set of the client's open jobs."""

    MAX_ATTEMPTS = 4

    def __init__(self, client: Any, sessions_table: str) -> None:
        self._ddb = client
        self._table = sessions_table

    def _key(self, client: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": f"{CLIENT_PK}{client}"}, "sk": {"S": sk}}

    def take(self, client: str, now_ms: int, interval_ms: int, burst: int, expires_at: int) -> int:
        limit = now_ms + (burst - 1) * interval_ms
        for _ in range(self.MAX_ATTEMPTS):
            try:  # the bucket holds tokens: one more interval of debt
                self._ddb.update_item(
                    TableName=self._table,
                    Key=self._key(client, "RATE"),
                    UpdateExpression="SET tat = tat + :t, expiresAt = :exp",
                    ConditionExpression="tat BETWEEN :now AND :limit",
                    ExpressionAttributeValues={
                        ":t": {"N": str(interval_ms)},
                        ":now": {"N": str(now_ms)},
                        ":limit": {"N": str(limit)},
                        ":exp": {"N": str(expires_at)},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return 0
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
                old = exc.response.get("Item")
                if old is None:  # older emulators do not return the item
                    old = self._ddb.get_item(
                        TableName=self._table, Key=self._key(client, "RATE"), ConsistentRead=True
                    ).get("Item")
            tat = int(old["tat"]["N"]) if old and "tat" in old else None
            if tat is not None and tat > limit:
                return tat - limit
            try:  # no item yet, or a full bucket (tat in the past): start from now
                self._ddb.update_item(
                    TableName=self._table,
                    Key=self._key(client, "RATE"),
                    UpdateExpression="SET tat = :next, expiresAt = :exp",
                    ConditionExpression="attribute_not_exists(tat) OR tat < :now",
                    ExpressionAttributeValues={
                        ":next": {"N": str(now_ms + interval_ms)},
                        ":now": {"N": str(now_ms)},
                        ":exp": {"N": str(expires_at)},
                    },
                )
                return 0
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
            # another request moved tat in between: evaluate again
        return interval_ms

    def open_jobs(self, client: str) -> set[str]:
        item = self._ddb.get_item(
            TableName=self._table, Key=self._key(client, "OPEN"), ConsistentRead=True
        ).get("Item")
        return set((item or {}).get("jobs", {}).get("SS", []))

    def admit_job(self, client: str, member: str, cap: int, expires_at: int) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(client, "OPEN"),
                UpdateExpression="ADD jobs :members SET expiresAt = :exp",
                ConditionExpression=(
                    "attribute_not_exists(jobs) OR size(jobs) < :cap OR contains(jobs, :member)"
                ),
                ExpressionAttributeValues={
                    ":members": {"SS": [member]},
                    ":member": {"S": member},
                    ":cap": {"N": str(cap)},
                    ":exp": {"N": str(expires_at)},
                },
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def release_jobs(self, client: str, members: set[str]) -> None:
        if members:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(client, "OPEN"),
                UpdateExpression="DELETE jobs :members",
                ExpressionAttributeValues={":members": {"SS": sorted(members)}},
            )
