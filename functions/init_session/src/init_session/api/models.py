"""Request and response bodies of the HTTP API (SPEC section 3). The OpenAPI document is built
from these models (``init_session.api.openapi``), so a field added here is documented there.

Requests are strict (no ``true`` for an int, no ``"5"`` for a number), accept only the camelCase
names of the contract and reject unknown fields. An integer may be written ``5.0``: JSON has one
number type and the document's ``"type": "integer"`` (JSON Schema) admits it. Responses omit
fields that are ``None``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from media_triage_shared.errors import ApiErrorCode
from media_triage_shared.keys import MAX_FILENAME_BYTES
from media_triage_shared.models import (
    Contract,
    FileError,
    FileStatus,
    JobPhase,
    JobStatus,
    MediaType,
    VerdictKind,
)

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_FILES = 1000
MAX_PARTS = 10_000
# Part URLs presigned by one /multipart/parts call: ~1.8 KB each on AWS (the role's session
# token is in every URL), so a full answer stays near 200 KB.
MAX_PART_URLS_PER_CALL = 100
S3_MAX_OBJECT_BYTES = 5 * 1024**4

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def _empty_as_none(value: object) -> object:
    return None if value == "" else value


def _integral_float_as_int(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Strict int that also takes 5.0 (not 5.5, not "5", not true), as JSON Schema's integer does.
JsonInt = Annotated[int, BeforeValidator(_integral_float_as_int)]

ContentType = Annotated[
    Annotated[
        str,
        StringConstraints(
            max_length=255,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$",
        ),
    ]
    | None,
    BeforeValidator(_empty_as_none),
    Field(
        description="MIME type as the browser reports it (`type/subtype`); empty or missing "
        "means `application/octet-stream`. The real type is detected from the content.",
    ),
]


class Request(Contract):
    """A request body: strict types, camelCase names only, unknown fields rejected."""

    model_config = ConfigDict(strict=True)


# ---------------------------------------------------------------------------- requests


class FileSpec(Request):
    filename: str = Field(
        min_length=1,
        max_length=255,
        description="The file's original name, kept verbatim in the file row; the S3 key uses "
        f"a sanitised copy (no path parts or control characters, <= {MAX_FILENAME_BYTES} bytes).",
    )
    content_type: ContentType = None
    size: JsonInt = Field(ge=0, le=S3_MAX_OBJECT_BYTES, description="Exact size in bytes.")


class InitRequest(Request):
    expected_file_count: JsonInt = Field(ge=1, le=MAX_FILES)
    files: list[FileSpec] = Field(default_factory=list, max_length=MAX_FILES)
    model: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$",
        description="Analyzer model override (Gemini model name): one of the deployment's "
        "allowed models (ALLOWED_MODELS), else 400 `invalid_request` listing them.",
    )

    @field_validator("files")
    @classmethod
    def _files_within_expected(cls, files: list[FileSpec], info: ValidationInfo) -> list[FileSpec]:
        expected = info.data.get("expected_file_count")
        if expected is not None and len(files) > expected:
            raise ValueError("lists more files than expectedFileCount")
        return files


class UploadsRequest(Request):
    files: list[FileSpec] = Field(min_length=1, max_length=MAX_FILES)


class PatchJobRequest(Request):
    expected_file_count: JsonInt = Field(
        ge=1,
        le=MAX_FILES,
        description="May go below processedCount: the job then moves on to triage at once. "
        "To drop every file, cancel the job (DELETE) instead.",
    )


class CompletedPart(Request):
    part_number: JsonInt = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(
        min_length=1, max_length=256, description="The ETag header S3 returned for the part."
    )


class MultipartCompleteRequest(Request):
    file_id: Id
    upload_id: str = Field(min_length=1, max_length=1024)
    parts: list[CompletedPart] = Field(min_length=1, max_length=MAX_PARTS)

    @field_validator("parts")
    @classmethod
    def _unique_parts(cls, parts: list[CompletedPart]) -> list[CompletedPart]:
        numbers = [p.part_number for p in parts]
        if len(set(numbers)) != len(numbers):
            raise ValueError("lists a partNumber more than once")
        return parts


class MultipartPartsRequest(Request):
    file_id: Id
    upload_id: str = Field(min_length=1, max_length=1024)
    part_numbers: list[Annotated[JsonInt, Field(ge=1, le=MAX_PARTS)]] = Field(
        min_length=1,
        max_length=MAX_PART_URLS_PER_CALL,
        description="Parts to presign, each in 1..partCount of the file's plan, each once. "
        "Ask shortly before sending them (a few ahead of the parts in flight) and again once "
        "their URLs expire.",
    )

    @field_validator("part_numbers")
    @classmethod
    def _unique_numbers(cls, numbers: list[int]) -> list[int]:
        if len(set(numbers)) != len(numbers):
            raise ValueError("lists a part number more than once")
        return numbers


class MultipartAbortRequest(Request):
    file_id: Id
    upload_id: str = Field(min_length=1, max_length=1024)


# ---------------------------------------------------------------------------- responses


class MultipartPart(Contract):
    part_number: int
    url: str = Field(description="Presigned PUT for this part; keep the ETag response header.")
    size: int = Field(description="Bytes of the file this part carries.")


class MultipartPlan(Contract):
    """The plan of one multipart upload, without URLs: presign its parts with
    ``POST /api/triage/{jobId}/multipart/parts`` shortly before sending them."""

    upload_id: str
    part_size: int = Field(description="Every part but the last has exactly this many bytes.")
    part_count: int = Field(description="Parts 1..partCount; the last one carries the rest.")


class UploadTarget(Contract):
    file_id: str
    filename: str = Field(description="The original filename, as sent.")
    key: str = Field(description="uploads/{sessionId}/{jobId}/{fileId}/{sanitised filename}")
    method: Literal["POST", "PUT"] = Field(
        description="POST: a multipart/form-data upload to `url` with `fields` first and the "
        "file last. PUT: a multipart plan (no URL here); get the parts' URLs from "
        "`/multipart/parts` in batches, PUT each part, then call `/multipart/complete` with "
        "the ETags."
    )
    url: str | None = Field(default=None, description="The presigned POST's URL (POST only).")
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    expires_at: str = Field(
        description="POST: when `url` and `fields` stop working (a replayed init gives fresh "
        "ones). PUT: when the file's row expires; each batch of part URLs has its own expiry."
    )
    multipart: MultipartPlan | None = None


class InitResponse(Contract):
    session_id: str
    job_id: str
    session_token: str = Field(
        description="Send as `Authorization: Bearer <sessionToken>` on every later call. "
        "Only its hash is stored: keep it."
    )
    expires_at: str
    uploads: list[UploadTarget]


class UploadsResponse(Contract):
    job_id: str
    uploads: list[UploadTarget]


class JobView(Contract):
    job_id: str
    session_id: str
    status: JobStatus
    phase: JobPhase
    expected_file_count: int
    processed_count: int


class RetryResponse(JobView):
    execution_name: str


class CancelResponse(JobView):
    deleted_objects: int
    aborted_uploads: int


class MultipartPartsResponse(Contract):
    file_id: str
    upload_id: str
    expires_at: str = Field(description="When these URLs stop working; ask again after.")
    parts: list[MultipartPart] = Field(description="In the order asked.")


class MultipartCompleteResponse(Contract):
    file_id: str
    key: str


class MultipartAbortResponse(Contract):
    file_id: str
    aborted: bool = Field(description="False when S3 had no such upload any more.")


class FileStatusView(Contract):
    file_id: str
    filename: str
    status: FileStatus
    media_type: MediaType | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    thumbnail_url: str | None = None
    converted: bool | None = None
    error: FileError | None = None
    duplicate_of: str | None = None


class Verdict(Contract):
    file_id: str
    filename: str
    verdict: VerdictKind
    reason: str | None = None
    score: int | None = Field(default=None, ge=0, le=100)
    issues: list[str] = Field(default_factory=list)


class Verdicts(Contract):
    keep: list[Verdict]
    discard: list[Verdict]


class ResultsResponse(Contract):
    job_id: str
    session_id: str
    status: JobStatus
    phase: JobPhase
    expected_file_count: int
    processed_count: int
    files: list[FileStatusView]
    verdicts: Verdicts | None = Field(default=None, description="Present once complete.")
    partial: bool | None = Field(
        default=None, description="True when triage ran on fewer files than expected."
    )
    error: str | None = None
    analyzer: str | None = Field(
        default=None, description="Who judged the files, once complete: `gemini` or `local`."
    )
    model: str | None = Field(default=None, description="The Gemini model, when it judged.")
    delta: bool = Field(
        default=False,
        description="False: `files` is the whole list. True (an answer to `?since=`): `files` "
        "holds only the rows new or changed since the copy the cursor named; every other field "
        "is complete. The client replaces its copy's rows by `fileId`, adds the new ones and "
        "orders them by `fileId`.",
    )
    cursor: str | None = Field(
        default=None,
        description="While the job is pending or processing: opaque, sent back as `?since=` on "
        "the next poll to get only what changed. Absent otherwise (then send no `since`).",
    )


class MediaResponse(Contract):
    """Presigned GET URLs of one file's objects, for viewing it in full. Unlike the other
    bodies, every field is always present: a URL is ``null`` when that object does not exist
    for the file (yet)."""

    file_id: str
    filename: str = Field(description="The original filename, as sent.")
    media_type: MediaType | None = Field(
        description="`photo` or `video` as detected from the content; null until processed."
    )
    thumbnail_url: str | None = Field(description="thumb.jpg (400 px long edge).")
    display_url: str | None = Field(
        description="Photos: display.jpg when MediaProcess made one (downscaled or converted), "
        "else the original when it is JPEG, PNG, WebP or GIF; null for videos, for a HEIC/HEIF "
        "photo without display.jpg and for files that are not valid or duplicate."
    )
    proxy_url: str | None = Field(
        description="Videos: the small H.264 proxy.mp4 when MediaProcess made one."
    )
    original_url: str | None = Field(
        description="The original upload, full resolution, served with the detected type and "
        "`Content-Disposition: inline` with the original filename (`attachment` and "
        "`application/octet-stream` when the content is not a supported photo or video)."
    )
    expires_at: str = Field(description="When the URLs stop working; fetch again after.")


class ErrorDetail(Contract):
    field: str | None = Field(
        default=None, description="Where: `body.files.0.size`, `path.jobId`, `header.…`."
    )
    message: str


class ErrorBody(Contract):
    code: ApiErrorCode = Field(description="Stable machine-readable code, e.g. `invalid_request`.")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(Contract):
    error: ErrorBody
