"""Ports the cores depend on. AWS adapters live in ``media_triage_shared.adapters``; tests use
in-memory fakes of the same protocols (tests/support/fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from media_triage_shared.deadline import Deadline
from media_triage_shared.job_cost import TokenTally
from media_triage_shared.media import MediaFailure, PhotoResult, Rendition, VideoProbe
from media_triage_shared.models import (
    FileRow,
    JobPhase,
    JobRow,
    JobStatus,
    MediaItem,
    TriageInput,
    Verdict,
    VerdictSummary,
)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None = None


class ObjectStore(Protocol):
    def head(self, key: str) -> ObjectInfo | None: ...

    def get_bytes(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def presign_get(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        """A GET URL valid ``expires_in`` seconds; the optional values override the response's
        Content-Type / Content-Disposition headers (signed into the URL)."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]: ...

    def delete_keys(self, keys: list[str]) -> int: ...


class JobReader(Protocol):
    def get_job(self, session_id: str, job_id: str) -> JobRow | None: ...


class JobFileProgress(Protocol):
    """MediaProcess: a file of the job landed."""

    def mark_processing(self, session_id: str, job_id: str, stall_deadline: str) -> None:
        """A file landed: pending -> processing, and push the stall deadline forward."""
        ...


class JobStatusWriter(Protocol):
    """TriageRun and the API: move a job to another status."""

    def set_status(
        self,
        session_id: str,
        job_id: str,
        status: JobStatus,
        phase: JobPhase,
        *,
        error: str | None = None,
        summary: VerdictSummary | None = None,
        partial: bool | None = None,
        expect: JobStatus | None = None,
    ) -> bool:
        """Set status/phase (``phase`` a ``JobPhase`` value) and the extras given; False,
        changing nothing, when the job was cancelled (a cancelled job stays cancelled, whatever
        finishes after the cancel), or when ``expect`` is given and the job's status is no
        longer that one."""
        ...


class JobExecutions(Protocol):
    """lifecycle.keep_running: record and reserve the job's executions."""

    def set_execution(self, session_id: str, job_id: str, execution_arn: str) -> None: ...

    def begin_successor(self, session_id: str, job_id: str, seen_count: int) -> int | None:
        """Reserve the next execution of a live job: bump executionCount from ``seen_count``
        (the count the caller read) and return the new count, if the job is still
        pending/processing and nobody bumped it since. None otherwise: another caller (a
        concurrent successor, a retry) got there first, or the job moved on."""
        ...


class JobLifecycle(JobReader, JobExecutions, Protocol):
    """What ``lifecycle.after_count`` / ``keep_running`` need of the job rows."""


class JobApiWriter(Protocol):
    """The HTTP API's changes to a job (init_session); all guarded, never a whole-row write."""

    def create_job(self, job: JobRow) -> JobRow:
        """Create the job row, keeping any counter that early uploads already wrote.
        Returns the stored row (an existing one for a repeated idempotency key)."""
        ...

    def reserve_uploads(
        self, session_id: str, job_id: str, count: int, stall_deadline: str, max_targets: int
    ) -> bool:
        """Count ``count`` more upload targets and push the stall deadline forward, if the job
        is pending/processing and stays within ``max_targets``. False otherwise."""
        ...

    def set_expected_count(
        self, session_id: str, job_id: str, expected: int, stall_deadline: str
    ) -> JobRow | None:
        """Set expectedFileCount while pending/processing; the updated row, or None."""
        ...

    def begin_retry(
        self, session_id: str, job_id: str, status: JobStatus, phase: JobPhase, stall_deadline: str
    ) -> int | None:
        """failed -> ``status``: clear the error, bump executionCount atomically and return
        it; None when the job is not failed (any more)."""
        ...

    def cancel(self, session_id: str, job_id: str) -> bool:
        """Any status -> cancelled; False when it was cancelled already."""
        ...


class MediaJobs(JobLifecycle, JobFileProgress, Protocol):
    """Everything MediaProcess needs of the job rows."""


class JobRepository(JobLifecycle, JobFileProgress, JobStatusWriter, JobApiWriter, Protocol):
    """Every job-row use at once: the DynamoDB adapter and the in-memory fake implement it;
    the API and TriageRun still take it whole (a core should take the small ports above)."""


class Executions(Protocol):
    """Executions of the triage state machine, by name (``<jobId>``, ``<jobId>-r<n>``)."""

    def start(self, name: str, payload: TriageInput) -> str:
        """Start the execution ``name`` and return its ARN. Never starts a second execution
        with the same name: an existing one (running or not) is returned instead."""
        ...

    def stop(self, name: str, cause: str) -> bool:
        """Stop the execution ``name``; False when there is none running."""
        ...

    def status(self, name: str) -> str | None:
        """``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` or ``ABORTED``; None when there
        is no execution of that name."""
        ...


class Waker(Protocol):
    def wake_if_ready(self, session_id: str, job_id: str) -> bool:
        """Wake the job's sleeping state machine if every expected file is processed."""
        ...


class FileReader(Protocol):
    def get_file(self, job_id: str, file_id: str) -> FileRow | None: ...

    def list_files(self, job_id: str, since: int | None = None) -> list[FileRow]:
        """The job's file rows in fileId order; with ``since``, only those stamped above it
        (or never stamped): the rows a results delta answers (ADR 0022)."""
        ...


class FileCounter(Protocol):
    """MediaProcess's rows: start, deduplicate and count one file."""

    def start_processing(self, row: FileRow) -> bool:
        """Write the ``processing`` row over an absent or ``uploading`` one, never over a final
        (counted) row. False when the file was already counted."""
        ...

    def claim_fingerprint(
        self, job_id: str, fingerprint: str, file_id: str, expires_at: int
    ) -> str:
        """Claim a content fingerprint for ``file_id`` inside the job (a conditional put of one
        ``FP#<fingerprint>`` item). Returns the fileId that holds the claim: ``file_id`` itself
        the first time (and on every retry), the first claimant's id for a duplicate."""
        ...

    def finalize(self, row: FileRow, *, stall_deadline: str, job_closed: bool = False) -> bool:
        """Write the final row and count it on the job, exactly once per fileId.

        One transaction: the file row (guarded by "not counted yet") and ``ADD
        processedCount 1`` on the job row, guarded by the job's status: one of
        ``OPEN_JOB_STATUSES`` (or no job row yet), or with ``job_closed`` one of
        ``CLOSED_JOB_STATUSES`` (the caller then stores a ``late`` row). Returns False when it
        was already counted; writing nothing, raises JobCancelled when the job was cancelled
        and JobStateChanged (with the job's status) when it is on the other side."""
        ...


class MediaFiles(FileReader, FileCounter, Protocol):
    """Everything MediaProcess needs of the file rows."""


class VerdictWriter(Protocol):
    """TriageRun's rows."""

    def write_verdicts(self, rows: list[FileRow]) -> None: ...

    def reassign_duplicate(self, row: FileRow, *, was_duplicate_of: str) -> bool:
        """Store a ``duplicate`` row's new status and ``duplicateOf`` (TriageRun promoting a
        copy of an original that never became valid: ``valid`` without ``duplicateOf``, or a
        duplicate of the promoted copy). Guarded by the row still being a duplicate of
        ``was_duplicate_of``; False when it is not (an earlier run did it). Counts nothing."""
        ...


class UploadRows(Protocol):
    """The HTTP API's rows (init_session)."""

    def begin(self, row: FileRow) -> bool:
        """Write the ``processing`` row unless the file already exists. True if written."""
        ...

    def add_uploading(self, rows: list[FileRow]) -> None:
        """Write ``uploading`` rows for fresh fileIds (batched, unconditional): only for ids
        this call just drew, which nobody else can know yet."""
        ...

    def add_uploading_if_absent(self, rows: list[FileRow]) -> list[FileRow]:
        """Write each ``uploading`` row unless its fileId already has a row, never overwriting
        one (ids a concurrent idempotent replay may be writing too). Returns the stored rows in
        the given order: the given row where it was written, the existing one where not."""
        ...

    def delete_uploading(self, row: FileRow) -> bool:
        """Delete the row if it is still ``uploading`` (an aborted upload)."""
        ...


class FileRepository(MediaFiles, VerdictWriter, UploadRows, Protocol):
    """Every write above that changes what the results show (all but ``claim_fingerprint``)
    bumps the job row's ``version`` with it (ADR 0019).

    Every file-row use at once: the DynamoDB adapter and the in-memory fake implement it;
    the API and TriageRun still take it whole (a core should take the small ports above)."""


class Analyzer(Protocol):
    """Judges valid files (Gemini, or the offline local analyzer).

    ``analyze`` returns at most one verdict per item; an item it leaves out is kept by the
    caller with reason "not evaluated". It returns by ``deadline`` (a ``time.monotonic()``
    value) and raises ``errors.AnalyzerUnavailable`` when the service failed for good.
    """

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    @property
    def url_ttl_seconds(self) -> int:
        """Lifetime the presigned URLs of ``MediaRef.url`` need; 0 = no URLs (the analyzer
        reads the objects itself)."""
        ...

    def analyze(
        self, items: Sequence[MediaItem], *, deadline: float, tokens: TokenTally | None = None
    ) -> list[Verdict]:
        """Verdicts for ``items``; a model-backed analyzer adds each call's token usage (the
        SDK's usage metadata) to ``tokens``."""
        ...

    def with_model(self, model: str) -> Analyzer:
        """This analyzer asking ``model`` (a job's override); one without models ignores it."""
        ...


class MediaTool(Protocol):
    """Photo and video work (Pillow and ffmpeg adapters in media_process). Every failure is a
    ``MediaFailure`` value with a stable code; subprocesses run until the ``Deadline`` and
    are killed when it passes (``timeout`` code). ``source_url`` is a presigned GET URL (or a local
    path in tests): a video is streamed, never copied whole to memory or /tmp."""

    def process_photo(
        self, data: bytes, mime_type: str, *, max_pixels: int
    ) -> PhotoResult | MediaFailure: ...

    def probe_video(
        self, source_url: str, mime_type: str, *, deadline: Deadline
    ) -> VideoProbe | MediaFailure: ...

    def video_thumbnail(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure: ...

    def video_proxy(
        self, source_url: str, mime_type: str, probe: VideoProbe, *, deadline: Deadline
    ) -> Rendition | MediaFailure: ...
