"""The words of the domain, defined once: job statuses and phases, file statuses, media types,
verdicts and issues, and the status sets every reader and writer of a row agrees on (the state
machine's literals are checked against them: tests/unit/test_asl_vocabulary.py)."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    ANALYZING = "analyzing"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobPhase(StrEnum):
    """What a job is doing, finer than its status (the ``phase`` attribute of the job row; the
    state machine writes ``analyzing`` and ``failed`` itself)."""

    WAITING_FOR_FILES = "waiting_for_files"
    PROCESSING_FILES = "processing_files"
    ANALYZING = "analyzing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED})
# Jobs still taking files: upload targets, a new expected count, the waker, a successor run.
LIVE_JOB_STATUSES = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})
# Jobs not finished yet: live, or being triaged (the API may still cancel or fail them).
UNFINISHED_JOB_STATUSES = LIVE_JOB_STATUSES | {JobStatus.ANALYZING}
# Where a file finalised by MediaProcess lands (ADR 0003): a job in an open status counts it as
# usual (a failed job's retry triages it with the rest); once triage has started or finished
# (closed) the file is stored ``invalid`` with code ``late`` and counted, so it never shows
# ``valid`` without a verdict; a cancelled job counts nothing.
OPEN_JOB_STATUSES = frozenset({JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.FAILED})
CLOSED_JOB_STATUSES = frozenset({JobStatus.ANALYZING, JobStatus.COMPLETE})


class FileStatus(StrEnum):
    UPLOADING = "uploading"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"
    DUPLICATE = "duplicate"


FINAL_FILE_STATUSES = frozenset({FileStatus.VALID, FileStatus.INVALID, FileStatus.DUPLICATE})


class MediaType(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


class VerdictKind(StrEnum):
    KEEP = "keep"
    DISCARD = "discard"


class Issue(StrEnum):
    """What is wrong with a file, in the words the page shows (a verdict may carry several)."""

    DARK = "dark"
    BLURRY = "blurry"
    OVEREXPOSED = "overexposed"
    ACCIDENTAL = "accidental"
    NO_SUBJECT = "no_subject"
    DUPLICATE = "duplicate"
    CORRUPT = "corrupt"
    SHAKY = "shaky"
    CLOSED_EYES = "closed_eyes"
    POOR_FRAMING = "poor_framing"


NOT_EVALUATED = "not evaluated"
"""Reason of the verdict of a file the analyzer did not judge: it is kept, never dropped."""
