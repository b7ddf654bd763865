"""Domain errors carry a stable code; the API maps them to HTTP in one place."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ApiErrorCode(StrEnum):
    """Every ``error.code`` the HTTP API answers with. Stable: the OpenAPI document lists them
    (``ErrorBody.code``) and the page has a sentence for each (web/src/messages.ts)."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    SESSION_EXPIRED = "session_expired"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    ROUTE_NOT_FOUND = "route_not_found"
    CONFLICT = "conflict"
    JOB_NOT_ACTIVE = "job_not_active"
    JOB_NOT_FAILED = "job_not_failed"
    TOO_MANY_UPLOADS = "too_many_uploads"
    UPLOAD_ID_MISMATCH = "upload_id_mismatch"
    SIZE_MISMATCH = "size_mismatch"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    TOO_MANY_OPEN_JOBS = "too_many_open_jobs"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    THROTTLED = "throttled"
    INTERNAL_ERROR = "internal_error"


class DomainError(Exception):
    """An error with a stable code. The API's errors (below, up to ``RateLimited``) carry an
    ``ApiErrorCode``; the workflow's (``JobCancelled`` and after) never reach an API answer."""

    code: str = "error"

    def __init__(
        self, message: str, *, code: ApiErrorCode | None = None, details: list[Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or []


class NotFound(DomainError):
    code = ApiErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ApiErrorCode.CONFLICT


class Unauthorized(DomainError):
    code = ApiErrorCode.UNAUTHORIZED


class Forbidden(DomainError):
    code = ApiErrorCode.FORBIDDEN


class InvalidRequest(DomainError):
    code = ApiErrorCode.INVALID_REQUEST


class PayloadTooLarge(DomainError):
    code = ApiErrorCode.PAYLOAD_TOO_LARGE


class RateLimited(DomainError):
    """Too many requests from one client: retry after ``retry_after`` seconds (429)."""

    code = ApiErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int, details: list[Any] | None = None):
        super().__init__(message, details=details)
        self.retry_after = max(1, retry_after)


class JobCancelled(DomainError):
    """The job was cancelled: what would have been written for it was not."""

    code = "job_cancelled"


class JobStateChanged(DomainError):
    """The job's status is not one the row being finalised was built for (an open job's row
    met a closed job, or the other way round); ``status`` is the job's status now."""

    code = "job_state_changed"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status


class AnalyzerUnavailable(DomainError):
    """The analyzer service failed for good (after its retries): the job fails, retry works."""

    code = "analyzer_unavailable"
