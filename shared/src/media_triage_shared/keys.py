"""S3 and DynamoDB key layout (SPEC section 4), in one place.

Originals live under ``uploads/{sessionId}/{jobId}/{fileId}/{safe filename}``: the only prefix
whose ObjectCreated events invoke MediaProcess. Derived objects live under
``derived/{sessionId}/{jobId}/{fileId}/...`` so two files never overwrite each other.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote_plus

UPLOADS_PREFIX = "uploads/"
DERIVED_PREFIX = "derived/"
MAX_FILENAME_BYTES = 200

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^\w.\- ()+,@=]", re.UNICODE)


class InvalidKey(ValueError):
    """A key that is not inside the layout."""


@dataclass(frozen=True, slots=True)
class UploadKey:
    session_id: str
    job_id: str
    file_id: str
    filename: str
    object_key: str | None = None
    """The key exactly as the S3 event named it (decoded). None: built from the parts."""

    @property
    def key(self) -> str:
        if self.object_key is not None:
            return self.object_key
        return upload_key(self.session_id, self.job_id, self.file_id, self.filename)


def is_valid_id(value: str) -> bool:
    return bool(_ID.match(value))


def safe_filename(name: str) -> str:
    """A filename safe for an S3 key: NFC, no path parts, no control characters, capped length.

    Idempotent (``safe_filename(safe_filename(x)) == safe_filename(x)``, property-tested):
    characters are removed before NFC (jamo around a removed character compose now, not on a
    second pass), and what the length cap cuts is stripped again (no trailing space or dot).
    The original name is kept in the file row; this one only names the object.
    """
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        return "file"
    if len(name.encode()) > MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16].rstrip(" ") if dot else ""
        if not ext:
            stem = name
        budget = MAX_FILENAME_BYTES - len(ext.encode()) - (1 if ext else 0)
        stem = stem.encode()[:budget].decode(errors="ignore").rstrip(" .")
        name = f"{stem}.{ext}" if ext else stem
    return name


def upload_key(session_id: str, job_id: str, file_id: str, filename: str) -> str:
    return f"{UPLOADS_PREFIX}{session_id}/{job_id}/{file_id}/{safe_filename(filename)}"


def upload_prefix(session_id: str, job_id: str) -> str:
    return f"{UPLOADS_PREFIX}{session_id}/{job_id}/"


def derived_prefix(session_id: str, job_id: str) -> str:
    return f"{DERIVED_PREFIX}{session_id}/{job_id}/"


def derived_key(session_id: str, job_id: str, file_id: str, name: str) -> str:
    return f"{derived_prefix(session_id, job_id)}{file_id}/{name}"


def parse_upload_key(raw_key: str, *, url_encoded: bool = True) -> UploadKey:
    """Parse an S3 event key (URL-encoded, ``+`` for space) into its parts.

    Raises ``InvalidKey`` for anything outside ``uploads/`` or not shaped like the layout, so a
    derived object can never trigger processing (no recursion). The decoded key is carried
    through as it is (``UploadKey.key``): never rebuilt from the name it ends with.
    """
    key = unquote_plus(raw_key) if url_encoded else raw_key
    if not key.startswith(UPLOADS_PREFIX):
        raise InvalidKey(f"not an upload key: {key!r}")
    parts = key[len(UPLOADS_PREFIX) :].split("/", 3)
    if len(parts) != 4 or not parts[3]:
        raise InvalidKey(f"upload key must be uploads/<session>/<job>/<file>/<name>: {key!r}")
    session_id, job_id, file_id, filename = parts
    for label, value in (("sessionId", session_id), ("jobId", job_id), ("fileId", file_id)):
        if not is_valid_id(value):
            raise InvalidKey(f"bad {label} in upload key: {value!r}")
    if "/" in filename:
        raise InvalidKey(f"nested path in upload key: {key!r}")
    return UploadKey(session_id, job_id, file_id, filename, object_key=key)


def job_pk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def job_sk(job_id: str) -> str:
    return f"JOB#{job_id}"


def file_pk(job_id: str) -> str:
    return f"JOB#{job_id}"


def file_sk(file_id: str) -> str:
    return f"FILE#{file_id}"


def fingerprint_sk(fingerprint: str) -> str:
    """The duplicate-claim item of a content fingerprint, beside the job's file rows (queries
    for files use ``begins_with(sk, "FILE#")`` and never see it)."""
    return f"FP#{fingerprint}"
