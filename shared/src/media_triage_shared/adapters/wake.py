"""Wake a job's state machine once every expected file is processed (ADR 0007).

The state machine sleeps in ``WaitForFiles``, a callback task that stored its token on the job
row while files were still expected. Whoever makes the job ready (MediaProcess's count of the
last file, a PATCH that lowers ``expectedFileCount``) reads the row and sends the token back, so
TriageRun starts at once instead of at the sleep's timeout. Best effort: a lost wake-up only
costs the timeout (the stall check's cadence), and a stale token (the task already timed out or
was woken) is expected and ignored.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from media_triage_shared.adapters.dynamo_jobs import DynamoJobRepository
from media_triage_shared.logging import get_logger
from media_triage_shared.models import LIVE_JOB_STATUSES
from media_triage_shared.ports import JobReader

log = get_logger()

STALE_TOKEN = {"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"}


class JobWaker:
    def __init__(
        self,
        dynamodb: Any,
        stepfunctions: Any,
        sessions_table: str,
        *,
        jobs: JobReader | None = None,
    ) -> None:
        self._jobs = jobs or DynamoJobRepository(dynamodb, sessions_table)
        self._sfn = stepfunctions

    def token_if_ready(self, session_id: str, job_id: str) -> str | None:
        """The sleeping task's token when the job is ready for triage, else None."""
        job = self._jobs.get_job(session_id, job_id)
        if job is None or job.progress_token is None or job.status not in LIVE_JOB_STATUSES:
            return None
        if not 0 < job.expected_file_count <= job.processed_count:
            return None
        return job.progress_token

    def wake_if_ready(self, session_id: str, job_id: str) -> bool:
        """True when a sleeping state machine was woken."""
        try:
            token = self.token_if_ready(session_id, job_id)
            if token is None:
                return False
            self._sfn.send_task_success(taskToken=token, output="{}")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in STALE_TOKEN:
                log.warning("job.wake_failed", error=code)  # the sleep's timeout takes over
            return False
        except BotoCoreError as exc:  # the network: the sleep's timeout takes over
            log.warning("job.wake_failed", error=type(exc).__name__)
            return False
        log.info("job.woken")
        return True
