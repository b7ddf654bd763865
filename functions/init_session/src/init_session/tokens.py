"""Session tokens and idempotency keys (ADR 0002).

A token is ``<sessionId>.<43 base64url characters = 256 bits>``: the id finds the job row, the
secret proves the caller. Only ``sha256(token)`` is stored and compared in constant time.
A token is random, or, for an init that carried an ``Idempotency-Key``, an HMAC of the key, so a
retry with the same key re-derives the same token without it ever being stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from media_triage_shared import keys
from media_triage_shared.errors import Forbidden, InvalidRequest, Unauthorized

_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9+/=_.:-]{16,255}$")
_DERIVE_CONTEXT = b"media-triage/session-token/v1"


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_token(session_id: str) -> str:
    return f"{session_id}.{_b64(secrets.token_bytes(32))}"


def derived_token(idempotency_key: str, session_id: str, job_id: str) -> str:
    mac = hmac.new(
        idempotency_key.encode(),
        b"\x00".join([_DERIVE_CONTEXT, session_id.encode(), job_id.encode()]),
        hashlib.sha256,
    )
    return f"{session_id}.{_b64(mac.digest())}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_of(token: str) -> str:
    session_id, _, secret = token.partition(".")
    if not keys.is_valid_id(session_id) or not _SECRET.match(secret):
        raise Unauthorized("malformed session token")
    return session_id


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (401 when absent or odd)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing Authorization: Bearer <sessionToken>")
    return token.strip()


def verify(token: str, token_hash: str) -> None:
    if not hmac.compare_digest(hash_token(token), token_hash):
        raise Forbidden("session token does not match this session")


def idempotency_key(header: str | None) -> str | None:
    """The ``Idempotency-Key`` header, quotes stripped (RFC draft form ``"<uuid>"``)."""
    if header is None:
        return None
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _IDEMPOTENCY_KEY.match(key):
        raise InvalidRequest(
            "Idempotency-Key must be 16-255 characters of A-Z a-z 0-9 + / = _ . : - "
            "(use a random UUID)",
            details=[{"field": "header.idempotency-key", "message": "invalid format"}],
        )
    return key


def key_hash(idempotency_key: str) -> str:
    return hashlib.sha256(b"media-triage/idempotency/v1\x00" + idempotency_key.encode()).hexdigest()
