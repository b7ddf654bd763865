"""In-memory fakes of the ports (unit tests of the cores only)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from media_triage_shared.errors import JobCancelled, JobStateChanged
from media_triage_shared.models import (
    CLOSED_JOB_STATUSES,
    OPEN_JOB_STATUSES,
    FileRow,
    FileStatus,
    JobRow,
    JobStatus,
    TriageInput,
    VerdictSummary,
    iso,
    utcnow,
)
from media_triage_shared.ports import ObjectInfo

SM_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:media-triage-test-triage"


class FakeObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def head(self, key: str) -> ObjectInfo | None:
        if key not in self.objects:
            return None
        data, content_type = self.objects[key]
        return ObjectInfo(
            key=key, size=len(data), etag=f"etag-{len(data)}", content_type=content_type
        )

    def get_bytes(self, key: str, *, byte_range: tuple[int, int] | None = None) -> bytes:
        data = self.objects[key][0]
        return data if byte_range is None else data[byte_range[0] : byte_range[1] + 1]

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)

    def presign_get(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        return f"https://fake-s3.invalid/{key}?expires={expires_in}"

    def list_keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(k for k in self.objects if k.startswith(prefix))

    def delete_keys(self, keys: list[str]) -> int:
        for key in keys:
            self.objects.pop(key, None)
        return len(keys)


class FakeJobRepository:
    """Jobs plus the raw counters early uploads may write before the job row exists."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], JobRow] = {}
        self.counters: dict[tuple[str, str], int] = {}
        # Version bumps, like the counter: a file may bump a job row not written yet (ADR 0019).
        self.versions: dict[tuple[str, str], int] = {}
        self.removed: dict[tuple[str, str], int] = {}  # removedVersion (ADR 0022)
        self.lock = threading.Lock()

    def bump(self, session_id: str, job_id: str) -> int:
        """``ADD version 1`` (the caller holds the lock); the new version, which a stamped
        file write takes as its stamp (ADR 0022)."""
        key = (session_id, job_id)
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]

    def get_job(self, session_id: str, job_id: str) -> JobRow | None:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is None:
                return None
            return job.model_copy(
                update={
                    "processed_count": self.counters.get((session_id, job_id), 0),
                    "version": self.versions.get((session_id, job_id), 0),
                    "removed_version": self.removed.get((session_id, job_id)),
                }
            )

    def create_job(self, job: JobRow) -> JobRow:
        with self.lock:
            if (job.session_id, job.job_id) not in self.jobs:
                self.jobs[(job.session_id, job.job_id)] = job
                self.bump(job.session_id, job.job_id)
            self.counters.setdefault((job.session_id, job.job_id), 0)
        stored = self.get_job(job.session_id, job.job_id)
        assert stored is not None
        return stored

    def mark_processing(self, session_id: str, job_id: str, stall_deadline: str) -> None:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is not None and job.status in {JobStatus.PENDING, JobStatus.PROCESSING}:
                self.jobs[(session_id, job_id)] = job.model_copy(
                    update={
                        "status": JobStatus.PROCESSING,
                        "phase": "processing_files",
                        "stall_deadline": stall_deadline,
                    }
                )
                self.bump(session_id, job_id)

    def set_status(
        self,
        session_id: str,
        job_id: str,
        status: JobStatus,
        phase: str,
        *,
        error: str | None = None,
        summary: VerdictSummary | None = None,
        partial: bool | None = None,
        expect: JobStatus | None = None,
    ) -> bool:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is None or job.status is JobStatus.CANCELLED:
                return False
            if expect is not None and job.status is not expect:
                return False
            update: dict[str, Any] = {"status": status, "phase": phase, "updated_at": iso(utcnow())}
            for name, value in (("error", error), ("summary", summary), ("partial", partial)):
                if value is not None:
                    update[name] = value
            self.jobs[(session_id, job_id)] = job.model_copy(update=update)
            self.bump(session_id, job_id)
            return True

    def count(self, session_id: str, job_id: str, stall_deadline: str) -> int:
        with self.lock:
            key = (session_id, job_id)
            self.counters[key] = self.counters.get(key, 0) + 1
            if key in self.jobs:
                self.jobs[key] = self.jobs[key].model_copy(
                    update={"stall_deadline": stall_deadline}
                )
            return self.bump(session_id, job_id)

    # -- the HTTP API's changes to a job (init_session)

    def _update(self, session_id: str, job_id: str, **update: Any) -> None:
        key = (session_id, job_id)
        self.jobs[key] = self.jobs[key].model_copy(update={**update, "updated_at": iso(utcnow())})

    def set_execution(self, session_id: str, job_id: str, execution_arn: str) -> None:
        with self.lock:
            if (session_id, job_id) in self.jobs:
                self._update(session_id, job_id, execution_arn=execution_arn)

    def reserve_uploads(
        self, session_id: str, job_id: str, count: int, stall_deadline: str, max_targets: int
    ) -> bool:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is None or job.status not in {JobStatus.PENDING, JobStatus.PROCESSING}:
                return False
            if (job.upload_target_count or 0) + count > max_targets:
                return False
            self._update(
                session_id,
                job_id,
                stall_deadline=stall_deadline,
                upload_target_count=(job.upload_target_count or 0) + count,
            )
            return True

    def set_expected_count(
        self, session_id: str, job_id: str, expected: int, stall_deadline: str
    ) -> JobRow | None:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is None or job.status not in {JobStatus.PENDING, JobStatus.PROCESSING}:
                return None
            self._update(
                session_id, job_id, expected_file_count=expected, stall_deadline=stall_deadline
            )
            self.bump(session_id, job_id)
        return self.get_job(session_id, job_id)

    def begin_retry(
        self, session_id: str, job_id: str, status: JobStatus, phase: str, stall_deadline: str
    ) -> int | None:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is None or job.status is not JobStatus.FAILED:
                return None
            self._update(
                session_id,
                job_id,
                status=status,
                phase=phase,
                stall_deadline=stall_deadline,
                error=None,
                execution_count=job.execution_count + 1,
            )
            self.bump(session_id, job_id)
            return job.execution_count + 1

    def begin_successor(self, session_id: str, job_id: str, seen_count: int) -> int | None:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is None or job.status not in {JobStatus.PENDING, JobStatus.PROCESSING}:
                return None
            if job.execution_count != seen_count:
                return None
            self._update(session_id, job_id, execution_count=seen_count + 1)
            return seen_count + 1

    def cancel(self, session_id: str, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.get((session_id, job_id))
            if job is None or job.status is JobStatus.CANCELLED:
                return False
            self._update(session_id, job_id, status=JobStatus.CANCELLED, phase="cancelled")
            self.bump(session_id, job_id)
            return True


class FakeFileRepository:
    def __init__(self, jobs: FakeJobRepository) -> None:
        self.rows: dict[tuple[str, str], FileRow] = {}
        self.jobs = jobs
        self.lock = threading.Lock()

    def get_file(self, job_id: str, file_id: str) -> FileRow | None:
        return self.rows.get((job_id, file_id))

    def _bump(self, row: FileRow) -> int:
        with self.jobs.lock:
            return self.jobs.bump(row.session_id, row.job_id)

    def _store(self, row: FileRow) -> None:
        """Store the row stamped with the version its write gives the job (ADR 0022)."""
        self.rows[(row.job_id, row.file_id)] = row.model_copy(update={"stamp": self._bump(row)})

    def begin(self, row: FileRow) -> bool:
        with self.lock:
            if (row.job_id, row.file_id) in self.rows:
                return False
            self._store(row)
            return True

    def finalize(self, row: FileRow, *, stall_deadline: str, job_closed: bool = False) -> bool:
        with self.lock:
            current = self.rows.get((row.job_id, row.file_id))
            if current is not None and current.counted:
                return False
            job = self.jobs.jobs.get((row.session_id, row.job_id))
            if job is not None and job.status is JobStatus.CANCELLED:
                raise JobCancelled(f"job {row.job_id} was cancelled")
            accepted = CLOSED_JOB_STATUSES if job_closed else OPEN_JOB_STATUSES
            if (job is None and job_closed) or (job is not None and job.status not in accepted):
                status = "absent" if job is None else job.status.value
                raise JobStateChanged(f"job {row.job_id} is {status}", status=status)
            row.to_item()  # as DynamoDB would: a row that cannot be stored fails the write
            stamp = self.jobs.count(row.session_id, row.job_id, stall_deadline)
            self.rows[(row.job_id, row.file_id)] = row.model_copy(
                update={"counted": True, "stamp": stamp}
            )
            return True

    # -- MediaProcess's rows

    def start_processing(self, row: FileRow) -> bool:
        with self.lock:
            current = self.rows.get((row.job_id, row.file_id))
            if current is not None and current.counted:
                return False
            row.to_item()  # as DynamoDB would: a row that cannot be stored fails the write
            self._store(row)
            return True

    def claim_fingerprint(
        self, job_id: str, fingerprint: str, file_id: str, expires_at: int
    ) -> str:
        with self.lock:
            claims: dict[tuple[str, str], str] = self.__dict__.setdefault("claims", {})
            return claims.setdefault((job_id, fingerprint), file_id)

    def list_files(self, job_id: str, since: int | None = None) -> list[FileRow]:
        return [
            row
            for (jid, _), row in sorted(self.rows.items())
            if jid == job_id and (since is None or row.stamp is None or row.stamp > since)
        ]

    def write_verdicts(self, rows: list[FileRow]) -> None:
        with self.lock:
            for row in rows:
                current = self.rows[(row.job_id, row.file_id)]
                self.rows[(row.job_id, row.file_id)] = current.model_copy(
                    update={
                        "verdict": row.verdict,
                        "reason": row.reason,
                        "score": row.score,
                        "issues": row.issues,
                    }
                )
            for job_row in {(r.session_id, r.job_id): r for r in rows}.values():
                self._bump(job_row)

    def reassign_duplicate(self, row: FileRow, *, was_duplicate_of: str) -> bool:
        with self.lock:
            current = self.rows.get((row.job_id, row.file_id))
            if (
                current is None
                or current.status is not FileStatus.DUPLICATE
                or current.duplicate_of != was_duplicate_of
            ):
                return False
            self._store(
                current.model_copy(update={"status": row.status, "duplicate_of": row.duplicate_of})
            )
            return True

    # -- the HTTP API's rows (init_session)

    def add_uploading(self, rows: list[FileRow]) -> None:
        with self.lock:
            stamp = self._bump(rows[0]) if rows else 0
            for row in rows:
                self.rows[(row.job_id, row.file_id)] = row.model_copy(update={"stamp": stamp})

    def add_uploading_if_absent(self, rows: list[FileRow]) -> list[FileRow]:
        with self.lock:
            stamp = self._bump(rows[0]) if rows else 0
            return [
                self.rows.setdefault(
                    (row.job_id, row.file_id), row.model_copy(update={"stamp": stamp})
                )
                for row in rows
            ]

    def delete_uploading(self, row: FileRow) -> bool:
        with self.lock:
            current = self.rows.get((row.job_id, row.file_id))
            if current is None or current.status is not FileStatus.UPLOADING:
                return False
            del self.rows[(row.job_id, row.file_id)]
            self.jobs.removed[(row.session_id, row.job_id)] = self._bump(row)
            return True


class RecordingWaker:
    """JobWaker fake: records who asked to wake which job (the real one: test_asl.py)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def wake_if_ready(self, session_id: str, job_id: str) -> bool:
        self.calls.append((session_id, job_id))
        return True


class FakeExecutions:
    def __init__(self) -> None:
        self.started: dict[str, TriageInput] = {}
        self.stopped: list[str] = []
        self.ended: dict[str, str] = {}  # name -> final status (a test ends one by hand)
        self.status_calls = 0
        self.on_status: Callable[[], None] | None = None  # runs inside status(): a race
        self.fail_next = 0

    def arn(self, name: str) -> str:
        return SM_ARN.replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, name: str, payload: TriageInput) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("ThrottlingException (fake)")
        self.started.setdefault(name, payload)
        return self.arn(name)

    def stop(self, name: str, cause: str) -> bool:
        if name not in self.started or name in self.stopped:
            return False
        self.stopped.append(name)
        return True

    def status(self, name: str) -> str | None:
        self.status_calls += 1
        if self.on_status is not None:
            self.on_status()
        if name not in self.started:
            return None
        if name in self.stopped:
            return "ABORTED"
        return self.ended.get(name, "RUNNING")
