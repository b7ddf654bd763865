"""Domain errors carry a stable code; the API maps them to HTTP in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or []


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class InvalidRequest(DomainError):
    code = "invalid_request"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class RateLimited(DomainError):
    """Too many requests from one client: retry after ``retry_after`` seconds (429)."""

    code = "rate_limited"

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
