"""Request and response bodies of the HTTP API (SPEC section 3)."""

from __future__ import annotations

from pydantic import Field

from media_triage_shared.models import Contract, FileError, FileStatus, JobStatus, MediaType


class FileSpec(Contract):
    filename: str = Field(min_length=1, max_length=1024)
    content_type: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0)


class InitRequest(Contract):
    expected_file_count: int = Field(ge=1, le=1000)
    files: list[FileSpec] = Field(default_factory=list, max_length=1000)
    model: str | None = Field(default=None, max_length=100)


class UploadTarget(Contract):
    file_id: str
    filename: str
    key: str
    method: str
    url: str
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    expires_at: str


class InitResponse(Contract):
    session_id: str
    job_id: str
    session_token: str
    expires_at: str
    uploads: list[UploadTarget]


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


class ResultsResponse(Contract):
    job_id: str
    session_id: str
    status: JobStatus
    phase: str
    expected_file_count: int
    processed_count: int
    files: list[FileStatusView]
    partial: bool | None = None
    error: str | None = None
