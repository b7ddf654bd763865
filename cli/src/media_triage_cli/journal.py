"""The resume journal (``--resume FILE``): enough of a run to continue it after the process
was killed or the connection dropped.

It keeps the ``Idempotency-Key`` of the init (so a new init returns the same job, token and
multipart uploadIds, with fresh POSTs; part URLs are never kept: the resumed run asks
``/multipart/parts`` for fresh ones), the files that finished uploading and the ETag of every
multipart part that S3 accepted. Written atomically after every change, owner-only (0600):
the Idempotency-Key is what the API derives the session token from.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from media_triage_cli.files import LocalFile

VERSION = 1


def _fingerprint(files: Sequence[LocalFile]) -> list[list[Any]]:
    return [[str(f.path.resolve()), f.size] for f in files]


class Journal:
    def __init__(self, path: Path | None, files: Sequence[LocalFile], api: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {
            "version": VERSION,
            "api": api,
            "files": _fingerprint(files),
            "idempotencyKey": str(uuid.uuid4()),
            "jobId": None,
            "uploaded": [],
            "parts": {},
        }
        self.resumed = False
        if path is not None and path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError):
                old = None
            if (
                isinstance(old, dict)
                and old.get("version") == VERSION
                and old.get("api") == api
                and old.get("files") == self._state["files"]
            ):
                self._state = old
                self.resumed = True

    @property
    def idempotency_key(self) -> str:
        return str(self._state["idempotencyKey"])

    @property
    def job_id(self) -> str | None:
        job = self._state.get("jobId")
        return str(job) if job else None

    def uploaded(self) -> set[str]:
        with self._lock:
            return set(self._state["uploaded"])

    def parts(self, file_id: str) -> dict[int, str]:
        with self._lock:
            return {int(n): str(e) for n, e in self._state["parts"].get(file_id, {}).items()}

    def part_count(self) -> int:
        with self._lock:
            return sum(len(p) for p in self._state["parts"].values())

    def started(self, job_id: str) -> None:
        with self._lock:
            self._state["jobId"] = job_id
            self._save()

    def part_done(self, file_id: str, part_number: int, etag: str) -> None:
        with self._lock:
            self._state["parts"].setdefault(file_id, {})[str(part_number)] = etag
            self._save()

    def file_done(self, file_id: str) -> None:
        with self._lock:
            if file_id not in self._state["uploaded"]:
                self._state["uploaded"].append(file_id)
            self._state["parts"].pop(file_id, None)
            self._save()

    def finished(self) -> None:
        """The job reached a final state: nothing left to resume."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)  # a leftover of a killed run (O_EXCL: never reused)
        # Created 0600 in one step (no window with the umask's mode), then renamed over the
        # journal: a journal an older CLI wrote world-readable is replaced by an owner-only one.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(self._state, indent=1))
        os.replace(tmp, self.path)

    def snapshot(self) -> Mapping[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._state))  # type: ignore[no-any-return]
