"""The CLI as a process: Ctrl-C cancels the job through the API and exits 130; a run killed
mid-upload is resumed from its journal without sending the finished parts again."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from support.cli.fake_api import State, serve
from support.cli.helpers import blob, jpeg, run

from media_triage_cli.api import ApiClient, Poll
from media_triage_cli.command import Run, RunOptions


def _cli(api: State, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "media_triage_cli", "run", *args, "--api", api.base],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill (if still running), wait and close the pipes: no process or file outlives a test."""
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def _until(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ctrl_c_cancels_the_job_and_exits_130(tmp_path: Path) -> None:
    with serve() as api:
        api.faults.never_complete = True
        proc = _cli(api, str(jpeg(tmp_path / "a.jpg")), str(jpeg(tmp_path / "b.jpg")))
        try:
            _until(lambda: api.results_200 >= 1 and len(api.post_forms) == 2)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            _reap(proc)

        assert proc.returncode == 130, err
        job = api.only_job()
        assert api.deletes == [job.job_id]
        assert job.status == "cancelled"
        assert f"cancelling job {job.job_id}" in err
        assert out == ""


class _LockedClient(ApiClient):
    """Holds a lock across each results poll, released without ``with`` like a connection
    pool's low-level code: a KeyboardInterrupt raised inside leaves it held. The first poll
    after the uploads sends the process a SIGINT while holding it."""

    def __init__(self, base: str, state: State) -> None:
        super().__init__(base, backoff=0.001)
        self.lock = threading.Lock()
        self.state = state
        self.signalled = False

    def results(self, job_id: str, etag: str | None = None, since: str | None = None) -> Poll:
        self.lock.acquire()
        if not self.signalled and len(self.state.post_forms) == 2:
            self.signalled = True
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # Python runs the handler here, inside the locked section
        poll = super().results(job_id, etag, since)
        self.lock.release()
        return poll

    def cancel(self, job_id: str, *, timeout: float | None = None) -> dict[str, object]:
        assert self.lock.acquire(timeout=5), "Ctrl-C left the client's lock held"
        try:
            return super().cancel(job_id, timeout=timeout)
        finally:
            self.lock.release()


def test_ctrl_c_during_a_request_is_acted_on_after_it_so_the_cancel_cannot_hang(
    tmp_path: Path,
) -> None:
    with serve() as api:
        api.faults.never_complete = True
        client = _LockedClient(api.base, api)
        opts = RunOptions(
            paths=[str(jpeg(tmp_path / "a.jpg")), str(jpeg(tmp_path / "b.jpg"))],
            api=api.base,
            poll_interval=0.02,
            timeout=20.0,
        )
        command = Run(opts, client=client, stdout=io.StringIO(), stderr=io.StringIO())
        previous = signal.getsignal(signal.SIGINT)

        code = command.execute()

        assert client.signalled
        assert code == 130
        assert api.deletes == [api.only_job().job_id]
        assert signal.getsignal(signal.SIGINT) is previous  # the handler is put back


def test_a_killed_multipart_upload_resumes_from_the_journal(tmp_path: Path) -> None:
    with serve(State(multipart_threshold=1000, part_size=700)) as api:
        big = blob(tmp_path / "clip.mp4", 2500)
        journal = tmp_path / "run.json"
        api.faults.part_hang.add(("clip.mp4", 3))
        proc = _cli(api, str(big), "--concurrency", "1", "--resume", str(journal))
        try:
            _until(
                lambda: (
                    journal.exists()
                    and len(
                        json.loads(journal.read_text())["parts"].get(
                            next(iter(api.only_job().files)), {}
                        )
                    )
                    == 2
                    # ...and part 3 reached the server (and hangs there): the kill lands
                    # mid-part, not between parts
                    and ("clip.mp4", 3) in api.part_attempts
                )
            )
            proc.kill()  # no Ctrl-C: the process dies, the job lives on
            proc.communicate(timeout=10)
        finally:
            _reap(proc)
        api.faults.part_hang.clear()
        api.release.set()

        result = run(api, [big], resume=journal)

        assert result.code == 0, result.err
        assert len(api.jobs) == 1  # the same job, through the init's Idempotency-Key
        assert "already uploaded" in result.err
        assert api.part_attempts == {
            ("clip.mp4", 1): 1,
            ("clip.mp4", 2): 1,
            ("clip.mp4", 3): 2,
            ("clip.mp4", 4): 1,
        }
        assert api.file_by_name("clip.mp4").data == big.read_bytes()
        assert not journal.exists()  # the job finished: nothing left to resume
