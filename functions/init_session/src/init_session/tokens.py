"""Session tokens and idempotency keys, bound to a server secret (ADR 0014, replacing ADR
0002's derivation).

A token is ``<sessionId>.<43 base64url characters = 256 bits>``: the id finds the job row, the
secret part proves the caller. A token is random, or, for an init that carried an
``Idempotency-Key``, ``HMAC(server secret, key | sessionId | jobId)``, so a retry with the same
key re-derives the same token without it ever being stored, and nobody without the server
secret can derive it. The job row stores ``HMAC(server secret, token)``; the idempotency record
is found by ``HMAC(server secret, key)``. Everything made with the current secret still
verifies with the previous one during a rotation's grace period (``TokenSecrets.previous``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from media_triage_shared import keys
from media_triage_shared.errors import Forbidden, InvalidRequest, Unauthorized

_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
# At least 122 random bits: a UUID (any version's text form; v4 carries 122 random bits), or
# 22+ base64url characters (132 bits).
_UUID_TEXT = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_BASE64URL_TEXT = "[A-Za-z0-9_-]{22,255}"
_UUID = re.compile(f"^{_UUID_TEXT}$")
_BASE64URL = re.compile(f"^{_BASE64URL_TEXT}$")
# The header as the OpenAPI document states it (quotes of the RFC draft form allowed).
_KEY_TEXT = f"(?:{_UUID_TEXT}|{_BASE64URL_TEXT})"
IDEMPOTENCY_KEY_PATTERN = f'^(?:{_KEY_TEXT}|"{_KEY_TEXT}")$'
_TOKEN_CONTEXT = b"media-triage/session-token/v2"
_TOKEN_HASH_CONTEXT = b"media-triage/session-token-hash/v2"
_KEY_CONTEXT = b"media-triage/idempotency/v2"
_CLIENT_CONTEXT = b"media-triage/client/v1"
MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class TokenSecrets:
    """The server secret (SSM SecureString) and, during a rotation's grace period, the one it
    replaced. New tokens, token hashes and key hashes use ``current``; lookups accept either."""

    current: bytes
    previous: bytes | None = None

    def __post_init__(self) -> None:
        for value in (self.current, self.previous):
            if value is not None and len(value) < MIN_SECRET_BYTES:
                raise ValueError(f"a token secret needs at least {MIN_SECRET_BYTES} bytes")

    def all(self) -> Iterator[bytes]:
        yield self.current
        if self.previous is not None and self.previous != self.current:
            yield self.previous


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _mac(secret: bytes, *parts: bytes) -> bytes:
    return hmac.new(secret, b"\x00".join(parts), hashlib.sha256).digest()


def new_token(session_id: str) -> str:
    return f"{session_id}.{_b64(secrets.token_bytes(32))}"


def derived_token(secret: bytes, idempotency_key: str, session_id: str, job_id: str) -> str:
    mac = _mac(
        secret, _TOKEN_CONTEXT, idempotency_key.encode(), session_id.encode(), job_id.encode()
    )
    return f"{session_id}.{_b64(mac)}"


def hash_token(secret: bytes, token: str) -> str:
    return _mac(secret, _TOKEN_HASH_CONTEXT, token.encode()).hex()


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


def verify(token: str, token_hash: str, secrets_: TokenSecrets) -> None:
    """The stored hash was made with the current or the previous secret; once the previous
    secret is removed, tokens hashed with it stop working (403)."""
    if not any(hmac.compare_digest(hash_token(s, token), token_hash) for s in secrets_.all()):
        raise Forbidden("session token does not match this session")


def idempotency_key(header: str | None) -> str | None:
    """The ``Idempotency-Key`` header, quotes stripped (RFC draft form ``"<uuid>"``)."""
    if header is None:
        return None
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not (_UUID.match(key) or _BASE64URL.match(key)):
        raise InvalidRequest(
            "Idempotency-Key must carry at least 122 random bits: a random UUID "
            "(crypto.randomUUID(), uuid.uuid4()) or 22-255 base64url characters "
            "(A-Z a-z 0-9 _ -)",
            details=[
                {
                    "field": "header.idempotency-key",
                    "message": "must be a UUID or 22-255 base64url characters",
                }
            ],
        )
    return key


def key_hash(secret: bytes, idempotency_key: str) -> str:
    return _mac(secret, _KEY_CONTEXT, idempotency_key.encode()).hex()


def client_hash(secret: bytes, client: str) -> str:
    """The rate-limit bucket's key: the DB holds no IP address or identity in clear."""
    return _mac(secret, _CLIENT_CONTEXT, client.encode()).hex()[:40]
