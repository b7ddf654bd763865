"""Local files: what to upload (paths and folders, hidden files skipped) and streaming request
bodies that report progress and stop when the run is cancelled."""

from __future__ import annotations

import mimetypes
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from media_triage_cli.api import FileSpec

# types the stdlib table may not know on every platform
_EXTRA_TYPES = {
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".webp": "image/webp",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
}


class Cancelled(Exception):
    """The run was cancelled while a body was being sent."""


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: Path
    size: int
    content_type: str

    @property
    def filename(self) -> str:
        return self.path.name

    def spec(self) -> FileSpec:
        return FileSpec(filename=self.filename, content_type=self.content_type, size=self.size)


def content_type_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def collect(paths: Iterable[str | Path]) -> list[LocalFile]:
    """Files named directly, and every non-hidden file under named folders (recursively, in
    sorted order; hidden files and folders are skipped). A file is listed once."""
    found: list[LocalFile] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved in seen or not path.is_file():
            return
        seen.add(resolved)
        found.append(LocalFile(path, path.stat().st_size, content_type_of(path)))

    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith("."):
                        add(Path(root) / name)
        else:
            add(path)  # a file named explicitly is wanted, hidden or not
    return found


Progress = Callable[[int], None]


class FileSlice:
    """``length`` bytes of ``path`` from ``offset``, read lazily; ``on_read(n)`` after every
    chunk. Raises :class:`Cancelled` once ``cancel`` is set, which aborts the request."""

    def __init__(
        self,
        path: Path,
        offset: int,
        length: int,
        *,
        on_read: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.path = path
        self.offset = offset
        self.length = length
        self._left = length
        self._on_read = on_read
        self._cancel = cancel
        self._fh = None if length == 0 else path.open("rb")
        if self._fh is not None:
            self._fh.seek(offset)

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.is_set():
            self.close()
            raise Cancelled("cancelled")
        if self._left <= 0 or self._fh is None:
            self.close()
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._fh.read(want)
        if not data:  # the file shrank since it was listed
            self.close()
            raise OSError(f"{self.path}: file changed while uploading")
        self._left -= len(data)
        if self._on_read is not None:
            self._on_read(len(data))
        return data

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


class FormBody:
    """A presigned POST body: multipart/form-data with ``fields`` first and the file last
    (S3 ignores everything after the file field), streamed with a known length."""

    def __init__(
        self, fields: Mapping[str, str], filename: str, content_type: str, file: FileSlice
    ) -> None:
        self.boundary = f"----media-triage-{uuid.uuid4().hex}"
        head = bytearray()
        for name, value in fields.items():
            head += f"--{self.boundary}\r\n".encode()
            head += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            head += value.encode() + b"\r\n"
        safe = _quote(filename.encode("ascii", "replace").decode())
        head += (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{safe}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._parts: list[bytes | FileSlice] = [bytes(head), file, tail]
        self._length = len(head) + len(file) + len(tail)
        self._index = 0
        self._offset = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while self._index < len(self._parts) and (size < 0 or len(out) < size):
            part = self._parts[self._index]
            want = -1 if size < 0 else size - len(out)
            if isinstance(part, FileSlice):
                chunk = part.read(want)
                if not chunk:
                    self._index += 1
                    continue
            else:
                end = len(part) if want < 0 else self._offset + want
                chunk = part[self._offset : end]
                self._offset += len(chunk)
                if self._offset >= len(part):
                    self._index += 1
                    self._offset = 0
            out += chunk
        return bytes(out)

    def close(self) -> None:
        for part in self._parts:
            if isinstance(part, FileSlice):
                part.close()
