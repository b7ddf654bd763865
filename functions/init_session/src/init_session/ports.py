"""Ports only the HTTP API needs (the shared ones live in ``media_triage_shared.ports``).

Adapters: ``init_session.adapters``; in-memory fakes: tests/support/api.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from media_triage_shared.models import Row

__all__ = [
    "CLIENT_PK",
    "IDEMPOTENCY_PK",
    "ClientLimits",
    "IdempotencyRecord",
    "IdempotencyStore",
    "UploadSigner",
]

IDEMPOTENCY_PK = "IDEMPOTENCY#"
CLIENT_PK = "CLIENT#"


class IdempotencyRecord(Row):
    """An init that carried an ``Idempotency-Key`` (sessions table, ``IDEMPOTENCY#<hash>``).

    Written before anything else, it makes the init a replayable plan: the ids are fixed here,
    the session token is re-derived from the key (ADR 0002), so a retry finishes or repeats the
    same init. It holds a hash of the key, never the key or the token."""

    key_hash: str
    request_hash: str
    session_id: str
    job_id: str
    file_ids: list[str]
    created_at: str
    expires_at: int

    def primary_key(self) -> dict[str, str]:
        return {"pk": f"{IDEMPOTENCY_PK}{self.key_hash}", "sk": "IDEMPOTENCY"}


class IdempotencyStore(Protocol):
    def claim(self, record: IdempotencyRecord, now_epoch: int) -> IdempotencyRecord:
        """Store ``record`` unless a live record has the same key hash; return the stored one
        (``record`` itself when this call claimed the key)."""
        ...

    def find(self, key_hash: str, now_epoch: int) -> IdempotencyRecord | None:
        """The live record of ``key_hash`` (consistent read), if any."""
        ...


class ClientLimits(Protocol):
    """Per-client state in the sessions table (``CLIENT#<hash>`` items, ADR 0014): the init
    rate limit's token bucket and the client's open jobs. ``client`` is already a hash."""

    def take(self, client: str, now_ms: int, interval_ms: int, burst: int, expires_at: int) -> int:
        """Take one token of the client's bucket (``burst`` tokens, one more every
        ``interval_ms``): 0 when taken, else the milliseconds until one is available."""
        ...

    def open_jobs(self, client: str) -> set[str]:
        """``<sessionId>/<jobId>`` of the jobs admitted and not released yet."""
        ...

    def admit_job(self, client: str, member: str, cap: int, expires_at: int) -> bool:
        """Add ``member`` unless the client already holds ``cap`` others (a member already
        held is admitted again: idempotent replays)."""
        ...

    def release_jobs(self, client: str, members: set[str]) -> None: ...


class UploadSigner(Protocol):
    """Presigned uploads straight to S3 and the multipart-upload calls around them."""

    def presign_post(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        """A presigned POST whose policy pins the key, the content type and the exact size."""
        ...

    def create_multipart(self, key: str, content_type: str) -> str: ...

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str: ...

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Raises ``NotFound`` (no such upload) or ``InvalidRequest`` (S3 refused the parts)."""
        ...

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        """Size in bytes of every part S3 holds for the upload, by part number. Raises
        ``NotFound`` when there is no such upload (completed or aborted)."""
        ...

    def abort_multipart(self, key: str, upload_id: str) -> bool: ...

    def list_multipart(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, uploadId) of every in-flight multipart upload under ``prefix``."""
        ...
