"""Issue 13 item 4 through the HTTP API: a keep-alive PATCH or an upload-target call on a job
whose execution ended at its timeout starts the successor ``<jobId>-r<n>``."""

from __future__ import annotations

from dataclasses import replace

from support.api import Api, spec
from support.fakes import RecordingWaker

from media_triage_shared.models import JobStatus


def _timed_out(api: Api, expected: int = 2) -> dict[str, str]:
    body = api.init(expected, [spec(f"{i}.jpg") for i in range(expected)])
    api.tick(3600)
    api.executions.ended[body["jobId"]] = "TIMED_OUT"
    return {k: body[k] for k in ("sessionId", "jobId", "sessionToken")} | {
        "fileId": body["uploads"][0]["fileId"]
    }


def test_a_keep_alive_patch_after_the_timeout_starts_one_successor() -> None:
    api = Api()
    job = _timed_out(api)
    jid, token = job["jobId"], job["sessionToken"]
    patched = api.call("PATCH", f"/api/triage/{jid}", {"expectedFileCount": 2}, token=token)
    assert patched.status_code == 200, patched.text
    assert list(api.executions.started) == [jid, f"{jid}-r1"]
    row = api.jobs.get_job(job["sessionId"], jid)
    assert row is not None
    assert row.execution_count == 2
    assert row.execution_arn == api.executions.arn(f"{jid}-r1")
    # the successor runs: the next keep-alive starts nothing
    api.call("PATCH", f"/api/triage/{jid}", {"expectedFileCount": 2}, token=token)
    assert list(api.executions.started) == [jid, f"{jid}-r1"]
    # a later failure is retried under the next name: the counter is shared with retries
    api.set_job(job["sessionId"], jid, JobStatus.FAILED, error="TriageRun: boom")
    retried = api.call("POST", f"/api/triage/{jid}/retry", token=token)
    assert retried.json()["executionName"] == f"{jid}-r2"


def test_an_upload_target_call_after_the_timeout_starts_a_successor() -> None:
    api = Api()
    job = _timed_out(api)
    jid = job["jobId"]
    resp = api.call(
        "POST",
        f"/api/triage/{jid}/uploads",
        {"files": [spec("late.jpg")]},
        token=job["sessionToken"],
    )
    assert resp.status_code == 200, resp.text
    assert list(api.executions.started) == [jid, f"{jid}-r1"]


def test_a_patch_that_makes_the_job_ready_after_the_timeout_triages_in_the_successor() -> None:
    api = Api()
    waker = RecordingWaker()
    api.svc = replace(api.svc, waker=waker)
    job = _timed_out(api)
    api.land(job["sessionId"], job["jobId"], job["fileId"])
    patched = api.call(
        "PATCH", f"/api/triage/{job['jobId']}", {"expectedFileCount": 1}, token=job["sessionToken"]
    )
    assert patched.status_code == 200
    assert f"{job['jobId']}-r1" in api.executions.started  # its first Poll sees the job ready
    assert waker.calls == []  # nothing sleeps in the ended execution


def test_a_running_execution_is_only_described_not_restarted() -> None:
    api = Api()
    body = api.init(2, [spec()])
    jid = body["jobId"]
    api.call("PATCH", f"/api/triage/{jid}", {"expectedFileCount": 3}, token=body["sessionToken"])
    assert list(api.executions.started) == [jid]
    assert api.executions.status_calls == 1
