"""Pydantic models at every boundary: AWS envelopes, Step Functions I/O and DynamoDB rows.

AWS envelopes ignore unknown fields; our own contracts forbid them and are frozen. Rows map to
DynamoDB items only through ``to_item`` / ``from_item`` here. No model accepts a non-finite
number (NaN, inf): DynamoDB cannot store one, JSON has none, and a row that cannot be written
is a file that is never counted (issue 13).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from media_triage_shared import keys
from media_triage_shared.vocabulary import (
    CLOSED_JOB_STATUSES,
    FINAL_FILE_STATUSES,
    LIVE_JOB_STATUSES,
    NOT_EVALUATED,
    OPEN_JOB_STATUSES,
    TERMINAL_JOB_STATUSES,
    UNFINISHED_JOB_STATUSES,
    FileStatus,
    Issue,
    JobPhase,
    JobStatus,
    MediaType,
    VerdictKind,
)

# The vocabulary is re-exported: callers import every model and word from here.
__all__ = [
    "CLOSED_JOB_STATUSES",
    "FINAL_FILE_STATUSES",
    "LIVE_JOB_STATUSES",
    "NOT_EVALUATED",
    "OPEN_JOB_STATUSES",
    "TERMINAL_JOB_STATUSES",
    "UNFINISHED_JOB_STATUSES",
    "FileStatus",
    "Issue",
    "JobPhase",
    "JobStatus",
    "MediaType",
    "VerdictKind",
]

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


# boto3.dynamodb costs ~250 ms of import: loaded on the first row read or written, not by every
# handler's import (devtools/bench_cold_start.py).
@cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` and second precision: sortable as a string (Step Functions
    compares ``stallDeadline`` with ``$$.State.EnteredTime``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ttl_epoch(now: datetime, hours: float) -> int:
    return int((now + timedelta(hours=hours)).timestamp())


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    """Python values -> DynamoDB AttributeValues (None dropped, floats as Decimal)."""
    return {k: _serializer().serialize(_to_dynamo(v)) for k, v in values.items() if v is not None}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer().deserialize(v)) for k, v in item.items()}


class Contract(BaseModel):
    """Our own contracts: camelCase on the wire, unknown fields rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        allow_inf_nan=False,
    )


# ---------------------------------------------------------------------------- Step Functions


class TriageInput(Contract):
    """Input of the state machine and payload of the TriageRun task."""

    session_id: str
    job_id: str
    partial: bool = False

    @field_validator("session_id", "job_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not keys.is_valid_id(value):
            raise ValueError("must be 1-64 characters of A-Z, a-z, 0-9, _ or -")
        return value


class TriageOutput(Contract):
    job_id: str
    status: JobStatus
    keep: int
    discard: int
    partial: bool


# ---------------------------------------------------------------------------- rows


class FileError(Contract):
    code: str
    message: str


class Gps(Contract):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: float | None = Field(default=None, ge=-20_000, le=100_000, description="Metres.")


class VerdictSummary(Contract):
    keep: int
    discard: int
    analyzer: str
    model: str | None = None
    duration_ms: int
    partial: bool = False
    not_evaluated: int | None = Field(
        default=None, ge=0, description="Files kept with reason 'not evaluated'."
    )
    input_tokens: int | None = Field(
        default=None, ge=0, description="Gemini input tokens of the job (the SDK's usage metadata)."
    )
    output_tokens: int | None = Field(
        default=None, ge=0, description="Gemini output tokens of the job, thinking included."
    )
    cost_usd: float | None = Field(
        default=None, ge=0, description="The job's cost from its own figures (pricing table)."
    )


# ---------------------------------------------------------------------------- triage


class Verdict(Contract):
    """One file's triage answer (SPEC section 7)."""

    file_id: str
    filename: str
    verdict: VerdictKind
    reason: str = Field(min_length=1, max_length=1000)
    score: int = Field(ge=0, le=100, description="How worth keeping the file is, 0-100.")
    issues: list[str] = Field(default_factory=list, description="Issue values (see Issue).")


class MediaRef(Contract):
    """One stored object an analyzer may look at (a thumbnail, display image or proxy)."""

    key: str
    mime_type: str
    size: int | None = None
    url: str | None = Field(
        default=None, repr=False, description="Presigned GET; None when the analyzer reads it."
    )


class MediaItem(Contract):
    """One ``valid`` file as an analyzer sees it: ``media`` is the object to judge (display
    image, else thumbnail, for photos; proxy, else thumbnail, for videos)."""

    file_id: str
    filename: str
    media_type: MediaType
    media: MediaRef
    thumbnail: MediaRef | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


class Row(Contract):
    """A DynamoDB row: ``to_item`` / ``from_item`` are the only mapping to items."""

    _key_attrs: ClassVar[tuple[str, ...]] = ("pk", "sk")

    def primary_key(self) -> dict[str, str]:
        raise NotImplementedError

    def to_item(self) -> dict[str, Any]:
        values = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        # ``model_copy(update=...)`` does not validate: check the row again before it is stored
        # (a NaN would otherwise reach boto3 as Decimal("NaN") and fail as a TypeError).
        type(self).model_validate(values)
        return serialize({**values, **self.primary_key()})

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        values = deserialize(item)
        for attr in cls._key_attrs:
            values.pop(attr, None)
        return cls.model_validate(values)


class JobRow(Row):
    """One triage job of a session (sessions table, ``SESSION#<id>`` / ``JOB#<id>``)."""

    session_id: str
    job_id: str
    status: JobStatus = JobStatus.PENDING
    phase: JobPhase = JobPhase.WAITING_FOR_FILES
    expected_file_count: int = Field(ge=0)
    processed_count: int = Field(default=0, ge=0)
    token_hash: str
    model: str | None = None
    created_at: str
    updated_at: str
    stall_deadline: str
    execution_arn: str | None = None
    execution_count: int = 1
    version: int = Field(
        default=0,
        ge=0,
        description=(
            "Bumped by every write the results document shows (the job's own changes and its "
            "file rows'): the results ETag is derived from it (ADR 0019)."
        ),
    )
    upload_target_count: int | None = Field(
        default=None, ge=0, description="Upload targets handed out (the API caps it per job)."
    )
    removed_version: int | None = Field(
        default=None, ge=0, description="The version a file row's deletion set (ADR 0022)."
    )
    error: str | None = None
    partial: bool | None = None
    summary: VerdictSummary | None = None
    expires_at: int
    progress_token: str | None = Field(
        default=None,
        description=(
            "Task token of the state machine sleeping in WaitForFiles, written by the state "
            "machine itself; read only by the waker (ADR 0007). Never shown to clients."
        ),
    )

    def primary_key(self) -> dict[str, str]:
        return {"pk": keys.job_pk(self.session_id), "sk": keys.job_sk(self.job_id)}


class FileRow(Row):
    """One file of a job (media-file-processing table, ``JOB#<id>`` / ``FILE#<id>``)."""

    job_id: str
    file_id: str
    session_id: str
    filename: str
    original_key: str
    status: FileStatus
    size: int | None = None
    etag: str | None = None
    content_type: str | None = None
    fingerprint: str | None = None
    media_type: MediaType | None = None
    mime_type: str | None = None
    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    duration_seconds: float | None = Field(default=None, ge=0)
    taken_at: str | None = Field(default=None, max_length=64)
    gps: Gps | None = None
    camera: str | None = Field(default=None, max_length=128)
    thumbnail_key: str | None = None
    display_key: str | None = None
    proxy_key: str | None = None
    converted: bool | None = None
    error: FileError | None = None
    warnings: list[str] | None = None
    duplicate_of: str | None = None
    verdict: VerdictKind | None = None
    reason: str | None = None
    score: int | None = Field(default=None, ge=0, le=100)
    issues: list[str] | None = None
    counted: bool | None = None
    stamp: int | None = Field(
        default=None, ge=0, description="The job version its last shown write set (ADR 0022)."
    )
    attempts: int | None = Field(
        default=None,
        ge=0,
        description=(
            "MediaProcess invocations that started work on the file (Lambda's async retries, a "
            "redrive): the last allowed one finalises an unexpected failure as ``internal``."
        ),
    )
    upload_id: str | None = Field(
        default=None, description="S3 multipart upload id (files above the multipart threshold)."
    )
    created_at: str
    updated_at: str
    expires_at: int

    def primary_key(self) -> dict[str, str]:
        return {"pk": keys.file_pk(self.job_id), "sk": keys.file_sk(self.file_id)}

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_FILE_STATUSES
