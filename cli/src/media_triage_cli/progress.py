"""The live progress view: a thread-safe model of every file's state (fed by the uploader and
by results polls) and two views of it.

- :class:`TtyView` redraws one line per file plus an overall bar in place, with ANSI cursor
  movement, at most a few times a second;
- :class:`LineView` (pipes, CI logs) prints one line per state change.

Rendering is a pure function of a :class:`Snapshot`, so every state can be tested as text.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TextIO


class Phase(StrEnum):
    QUEUED = "queued"
    UPLOADING = "uploading"
    PROCESSING = "processing"  # uploaded; the pipeline has it
    VALID = "valid"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    UPLOAD_FAILED = "upload failed"


FINAL = frozenset({Phase.VALID, Phase.INVALID, Phase.DUPLICATE, Phase.UPLOAD_FAILED})
_SERVER_PHASES = {
    "processing": Phase.PROCESSING,
    "valid": Phase.VALID,
    "invalid": Phase.INVALID,
    "duplicate": Phase.DUPLICATE,
}
TERMINAL_JOB = frozenset({"complete", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class FileState:
    file_id: str
    filename: str
    size: int
    phase: Phase = Phase.QUEUED
    sent: int = 0
    code: str | None = None  # error code (invalid, upload failed) or retry reason
    retries: int = 0
    duplicate_of: str | None = None
    detail: str = ""  # "photo 1600x1200", "video 2.0 s"

    @property
    def upload_fraction(self) -> float:
        if self.phase in {Phase.QUEUED}:
            return 0.0
        if self.phase is Phase.UPLOADING:
            return min(1.0, self.sent / self.size) if self.size else 0.0
        return 1.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    job_id: str
    status: str
    phase: str
    expected: int
    processed: int
    files: tuple[FileState, ...]
    elapsed: float = 0.0

    @property
    def uploads_done(self) -> int:
        return sum(f.phase not in {Phase.QUEUED, Phase.UPLOADING} for f in self.files)

    @property
    def fraction(self) -> float:
        """Half for the bytes uploaded, half for the files processed; 1.0 once complete."""
        if self.status in TERMINAL_JOB:
            return 1.0
        if not self.files:
            return 0.0
        sent = sum(f.upload_fraction for f in self.files) / len(self.files)
        final = sum(f.phase in FINAL for f in self.files) / len(self.files)
        return min(1.0, 0.5 * sent + 0.5 * final)


def _describe(entry: Mapping[str, Any]) -> str:
    media = entry.get("mediaType")
    parts = [str(media)] if media else []
    if entry.get("width") and entry.get("height"):
        parts.append(f"{entry['width']}x{entry['height']}")
    if entry.get("durationSeconds") is not None:
        parts.append(f"{float(entry['durationSeconds']):.1f} s")
    if entry.get("converted"):
        parts.append("converted")
    return " ".join(parts)


class ProgressModel:
    """Every file's state. The uploader calls the ``upload_*`` methods (it is an
    ``UploadListener``); the poll loop calls :meth:`apply_results`."""

    def __init__(self, job_id: str, files: Iterable[tuple[str, str, int]]) -> None:
        self._lock = threading.Lock()
        self._files = {fid: FileState(fid, name, size) for fid, name, size in files}
        self._names = {fid: f.filename for fid, f in self._files.items()}
        self.job_id = job_id
        self.status = "pending"
        self.phase = "waiting_for_files"
        self.expected = len(self._files)
        self.processed = 0
        self._started = time.monotonic()

    def _set(self, file_id: str, **changes: Any) -> None:
        with self._lock:
            current = self._files.get(file_id)
            if current is not None:
                self._files[file_id] = replace(current, **changes)

    # ------------------------------------------------------------------ UploadListener

    def upload_started(self, file_id: str) -> None:
        self._set(file_id, phase=Phase.UPLOADING, sent=0)

    def upload_progress(self, file_id: str, sent: int) -> None:
        self._set(file_id, sent=sent)

    def upload_retrying(self, file_id: str, attempt: int, reason: str) -> None:
        self._set(file_id, retries=attempt, code=reason)

    def upload_done(self, file_id: str) -> None:
        with self._lock:
            current = self._files.get(file_id)
            if current is not None and current.phase not in FINAL:
                self._files[file_id] = replace(
                    current, phase=Phase.PROCESSING, sent=current.size, code=None
                )

    def upload_failed(self, file_id: str, code: str, message: str) -> None:
        self._set(file_id, phase=Phase.UPLOAD_FAILED, code=code)

    def part_done(self, file_id: str, part_number: int, etag: str) -> None:
        return None

    # ------------------------------------------------------------------ results

    def apply_results(self, body: Mapping[str, Any]) -> None:
        with self._lock:
            self.status = str(body.get("status", self.status))
            self.phase = str(body.get("phase", self.phase))
            self.expected = int(body.get("expectedFileCount", self.expected))
            self.processed = int(body.get("processedCount", self.processed))
            for entry in body.get("files", []):
                fid = str(entry.get("fileId"))
                current = self._files.get(fid)
                phase = _SERVER_PHASES.get(str(entry.get("status")))
                if current is None or phase is None or current.phase is Phase.UPLOAD_FAILED:
                    continue  # "uploading": the uploader knows better
                error = entry.get("error") or {}
                dup = entry.get("duplicateOf")
                self._files[fid] = replace(
                    current,
                    phase=phase,
                    sent=current.size if phase in FINAL else current.sent,
                    code=str(error.get("code")) if error else None,
                    duplicate_of=self._names.get(str(dup), str(dup)) if dup else None,
                    detail=_describe(entry),
                )

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                job_id=self.job_id,
                status=self.status,
                phase=self.phase,
                expected=self.expected,
                processed=self.processed,
                files=tuple(self._files.values()),
                elapsed=time.monotonic() - self._started,
            )


# ---------------------------------------------------------------------------- rendering

_COLOURS = {
    Phase.VALID: "32",
    Phase.INVALID: "31",
    Phase.UPLOAD_FAILED: "31",
    Phase.DUPLICATE: "33",
    Phase.UPLOADING: "36",
    Phase.PROCESSING: "35",
}


def bar(fraction: float, width: int) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "#" * filled + "-" * (width - filled)


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(0, width - 3)] + "..."


def file_state_text(f: FileState) -> str:
    """What one file's line says after its name."""
    if f.phase is Phase.UPLOADING:
        pct = int(100 * f.upload_fraction)
        text = f"uploading {pct:3d}% [{bar(f.upload_fraction, 10)}]"
        if f.retries:
            text += f" retry {f.retries} ({f.code})"
        return text
    if f.phase in {Phase.INVALID, Phase.UPLOAD_FAILED}:
        return f"{f.phase.value} ({f.code or 'unknown'})"
    if f.phase is Phase.DUPLICATE:
        return f"duplicate of {f.duplicate_of}" if f.duplicate_of else "duplicate"
    if f.phase is Phase.VALID and f.detail:
        return f"valid   {f.detail}"
    return f.phase.value


def header_text(s: Snapshot, width: int = 24) -> str:
    status = "analyzing (triage)" if s.status == "analyzing" else s.status
    return (
        f"job {s.job_id[:12]}  {status:<10} [{bar(s.fraction, width)}] {int(100 * s.fraction):3d}%"
        f"  uploaded {s.uploads_done}/{len(s.files)}  processed {s.processed}/{s.expected}"
        f"  {s.elapsed:5.1f} s"
    )


def render(s: Snapshot, *, width: int = 100, height: int = 50, colour: bool = False) -> list[str]:
    """The view as lines: the overall line, then one line per file. When the files do not fit
    in ``height`` lines, unfinished files are shown first and the rest are summed up."""
    name_width = max(12, min(36, width // 3))
    lines = [header_text(s)[:width]]
    files = list(s.files)
    room = max(1, height - 2)
    hidden: list[FileState] = []
    if len(files) > room:
        active = [f for f in files if f.phase not in FINAL]
        rest = [f for f in files if f.phase in FINAL]
        shown = (active + rest)[: room - 1]
        hidden = (active + rest)[room - 1 :]
        files = [f for f in files if f in shown]
    for f in files:
        state = file_state_text(f)
        if colour and f.phase in _COLOURS:
            state = f"\x1b[{_COLOURS[f.phase]}m{state}\x1b[0m"
        lines.append(f"  {_fit(f.filename, name_width)} {state}")
    if hidden:
        counts: dict[str, int] = {}
        for f in hidden:
            counts[f.phase.value] = counts.get(f.phase.value, 0) + 1
        summary = ", ".join(f"{n} {p}" for p, n in sorted(counts.items()))
        lines.append(f"  ... {len(hidden)} more: {summary}")
    return [line if colour else line[:width] for line in lines]


class View:
    def update(self, snapshot: Snapshot) -> None: ...

    def finish(self, snapshot: Snapshot) -> None: ...


class TtyView(View):
    """Redraws in place: cursor up over the previous frame, each line cleared and rewritten."""

    def __init__(self, stream: TextIO, *, min_interval: float = 0.1) -> None:
        self.stream = stream
        self.min_interval = min_interval
        self._lines = 0
        self._last = 0.0
        self.colour = "NO_COLOR" not in os.environ

    def _draw(self, snapshot: Snapshot) -> None:
        size = shutil.get_terminal_size((100, 40))
        lines = render(snapshot, width=size.columns - 1, height=size.lines, colour=self.colour)
        out = []
        if self._lines:
            out.append(f"\x1b[{self._lines}F")  # to the first column, N lines up
        out.extend(f"\x1b[2K{line}\n" for line in lines)
        if len(lines) < self._lines:
            out.append("\x1b[J")  # clear what the longer previous frame left below
        self.stream.write("".join(out))
        self.stream.flush()
        self._lines = len(lines)

    def update(self, snapshot: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last >= self.min_interval:
            self._last = now
            self._draw(snapshot)

    def finish(self, snapshot: Snapshot) -> None:
        self._draw(snapshot)


class LineView(View):
    """One line per change of a file's state or the job's status (no percentages)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._files: dict[str, tuple[Phase, str | None]] = {}
        self._job: tuple[str, int, int] | None = None

    def update(self, snapshot: Snapshot) -> None:
        out = []
        job = (snapshot.status, snapshot.processed, snapshot.expected)
        if job != self._job:
            self._job = job
            out.append(
                f"job {snapshot.job_id}: {snapshot.status} "
                f"({snapshot.processed}/{snapshot.expected} processed)"
            )
        for f in snapshot.files:
            key = (f.phase, f.code if f.phase is not Phase.UPLOADING else None)
            if self._files.get(f.file_id) != key and f.phase is not Phase.QUEUED:
                self._files[f.file_id] = key
                text = "uploading" if f.phase is Phase.UPLOADING else file_state_text(f)
                out.append(f"  {f.filename}: {text}")
        if out:
            self.stream.write("\n".join(out) + "\n")
            self.stream.flush()

    def finish(self, snapshot: Snapshot) -> None:
        self.update(snapshot)


class NullView(View):
    pass
