"""API benchmark: the results endpoint and the state machine's poll loop, on the deployed stack.

    python devtools/bench_api.py --api <api_url> --endpoint http://127.0.0.1:4566 \
        --files-table <t> --sessions-table <t> --state-machine-arn <arn>   # (make bench-api)

1. Results poll (``bench_poll_cost``): a job of 36 and one of 500 files whose rows are all
   `valid` with a thumbnail (written straight to the files table: the endpoint's work is the
   same as after real processing); ``GET /results`` as a 304 (If-None-Match) beside a bare
   GetItem of the job row, and as a full 200 (fresh presigned thumbnails) beside a bare
   DynamoDB Query of the same rows (consistent, paginated), interleaved ``--repeat`` times in
   the same run; the read units of each call and of 1000 polls of the 500-file job.
2. Poll loop: a 36-file job whose uploads are spread over ``--upload-seconds`` (2 min), through
   the real pipeline. State transitions are counted from the execution history (every
   ``*StateEntered`` event) and priced at $0.000025; the lag from the last processed file to
   TriageRun is measured by polling the results every 0.2 s. The baseline is a fixed 3 s loop
   over the same job: 3 transitions (Poll, Evaluate, Wait) per 3 s of waiting (up to the Poll
   that saw the job ready), then that Poll and Evaluate and the same tail, computed from the
   measured waiting time. The deployed machine sleeps in a callback task instead (ADR 0007).

Ratios are printed and written to the "api" section of docs/benchmarks.md; nothing gates on
them.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import dataclass
from typing import Any

import bench_poll_cost
import boto3
import requests
from bench_report import write_section
from botocore.config import Config
from PIL import Image

from media_triage_shared.models import FileRow, FileStatus, MediaType

PRICE_PER_TRANSITION = 0.000025
FIXED_LOOP_SECONDS = 3.0
FIXED_LOOP_STATES = 3  # Poll, Evaluate, WaitForFiles
TARGET_TRANSITION_SHARE = 0.40
TARGET_LAG = 3.0


@dataclass(frozen=True)
class PollRun:
    """The poll-loop job's execution: its transitions against a fixed 3 s loop's, and the lag."""

    count: int
    upload_seconds: float
    status: str
    lag: float
    transitions: int
    loop: int  # transitions of the waiting states
    tail: int  # MarkAnalyzing, TriageRun, Complete, ...
    execution: float  # seconds
    waiting: float  # seconds up to the Poll that saw the job ready
    fixed: int  # transitions of a fixed 3 s loop over the same job

    @classmethod
    def from_history(cls, events: list[dict[str, Any]], **run: Any) -> PollRun:
        entered = [e for e in events if e["type"].endswith("StateEntered")]
        polls = [e for e in entered if e["stateEnteredEventDetails"]["name"] == "Poll"]
        loop_states = {"Poll", "Evaluate", "WaitForFiles", "Recheck"}
        loop = [e for e in entered if e["stateEnteredEventDetails"]["name"] in loop_states]
        tail = len(entered) - len(loop)
        first, last = events[0]["timestamp"], events[-1]["timestamp"]
        # Waiting ends at the Poll that saw the job ready. A fixed loop over the same time:
        # one Poll, Evaluate, Wait per interval, then that last Poll and Evaluate, then the tail.
        waiting = (polls[-1]["timestamp"] - first).total_seconds() if polls else 0.0
        return cls(
            transitions=len(entered),
            loop=len(loop),
            tail=tail,
            execution=(last - first).total_seconds(),
            waiting=waiting,
            fixed=FIXED_LOOP_STATES * int(waiting // FIXED_LOOP_SECONDS) + 2 + tail,
            **run,
        )

    @property
    def share(self) -> float:
        return self.transitions / self.fixed

    def verdicts(self) -> tuple[str, str]:
        return (
            "OK" if self.share <= TARGET_TRANSITION_SHARE else "OVER",
            "OK" if self.lag <= TARGET_LAG else "OVER",
        )

    def print(self) -> None:
        verdict, lag_verdict = self.verdicts()
        print(
            f"poll loop: {self.count} files uploaded over {self.upload_seconds:.0f} s, job "
            f"{self.status}"
        )
        print(f"  execution {self.execution:.1f} s, waiting {self.waiting:.1f} s")
        print(
            f"  state transitions {self.transitions} (poll loop {self.loop}, other {self.tail}),"
            f" ${self.transitions * PRICE_PER_TRANSITION:.5f} per job"
        )
        print(
            f"  fixed 3 s loop over the same job: {self.fixed} transitions,"
            f" ${self.fixed * PRICE_PER_TRANSITION:.5f}"
        )
        print(
            f"  share of the fixed loop {self.share:.0%}"
            f" (target <= {TARGET_TRANSITION_SHARE:.0%}: {verdict})"
        )
        print(
            f"  lag last processed -> triage {self.lag:.2f} s"
            f" (target <= {TARGET_LAG:.0f} s: {lag_verdict}; resolution 0.2 s)"
        )

    def markdown(self) -> str:
        verdict, lag_verdict = self.verdicts()
        return "\n".join(
            [
                f"Waiting for files: a {self.count}-file job whose uploads are spread over "
                f"{self.upload_seconds:.0f} s, through the real pipeline (job {self.status}); "
                f"transitions counted from the execution history, at ${PRICE_PER_TRANSITION:.6f} "
                "each:",
                "",
                "| | state transitions | cost per job | lag last processed -> TriageRun |",
                "|---|---|---|---|",
                "| deployed machine (callback task woken by the last count, "
                f"[ADR 0007](adr/0007-waiting-for-files.md)) | {self.transitions} ({self.loop} "
                f"waiting, {self.tail} other) | ${self.transitions * PRICE_PER_TRANSITION:.5f} "
                f"| {self.lag:.2f} s (resolution 0.2 s) |",
                f"| fixed 3 s loop over the same {self.waiting:.0f} s of waiting (reference) "
                f"| {self.fixed} | ${self.fixed * PRICE_PER_TRANSITION:.5f} | 0-3 s |",
                "",
                f"{self.share:.0%} of the fixed loop (target <= {TARGET_TRANSITION_SHARE:.0%}: "
                f"{verdict}); lag target <= {TARGET_LAG:.0f} s: {lag_verdict}.",
            ]
        )


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.api = args.api.rstrip("/")
        self.http = requests.Session()
        aws = {
            "endpoint_url": args.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }
        self.ddb = boto3.client("dynamodb", **aws)
        self.sfn = boto3.client("stepfunctions", **aws)
        # signed as the functions sign (shared/aws.py): SigV4 query presigns
        self.s3 = boto3.client("s3", config=Config(signature_version="s3v4"), **aws)
        self.files_table = args.files_table
        self.sessions_table = args.sessions_table
        self.machine_arn = args.state_machine_arn

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = self.http.request(method, f"{self.api}{path}", headers=headers, timeout=60, **kw)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def init(self, sizes: list[int]) -> dict[str, Any]:
        files = [
            {"filename": f"IMG_{i:04d}.jpg", "contentType": "image/jpeg", "size": s}
            for i, s in enumerate(sizes)
        ]
        body = {"expectedFileCount": len(sizes), "files": files}
        return dict(self.call("POST", "/api/triage/init", json=body))

    def rows(self, job_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.files_table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :file)",
            "ExpressionAttributeValues": {":pk": {"S": f"JOB#{job_id}"}, ":file": {"S": "FILE#"}},
            "ConsistentRead": True,
        }
        while True:
            page = self.ddb.query(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def job_version(self, init: dict[str, Any]) -> int:
        key = {"pk": {"S": f"SESSION#{init['sessionId']}"}, "sk": {"S": f"JOB#{init['jobId']}"}}
        item = self.ddb.get_item(TableName=self.sessions_table, Key=key, ConsistentRead=True)
        return int(item["Item"]["version"]["N"])

    def add_files(self, init: dict[str, Any], count: int) -> None:
        """``count`` more files, as ``POST /uploads`` adds them (the rows through the adapter,
        stamped with the version they give the job)."""
        self.call(
            "POST",
            f"/api/triage/{init['jobId']}/uploads",
            token=init["sessionToken"],
            json={
                "files": [
                    {"filename": f"MORE_{i}.jpg", "contentType": "image/jpeg", "size": 1000}
                    for i in range(count)
                ]
            },
        )

    def mark_processed(self, init: dict[str, Any]) -> None:
        """Every row as MediaProcess leaves a valid photo: metadata and a thumbnail key, stamped
        with the job's version (written before a client's copy, ADR 0022)."""
        done = []
        stamp = self.job_version(init)
        for item in self.rows(init["jobId"]):
            row = FileRow.from_item(item)
            derived = f"derived/{row.session_id}/{row.job_id}/{row.file_id}"
            done.append(
                row.model_copy(
                    update={
                        "status": FileStatus.VALID,
                        "media_type": MediaType.PHOTO,
                        "mime_type": "image/jpeg",
                        "width": 4000,
                        "height": 3000,
                        "camera": "Bench Camera",
                        "fingerprint": f"sha256:{row.file_id}",
                        "thumbnail_key": f"{derived}/thumb.jpg",
                        "display_key": f"{derived}/display.jpg",
                        "counted": True,
                        "stamp": stamp,
                    }
                )
            )
        for i in range(0, len(done), 25):
            self.ddb.batch_write_item(
                RequestItems={
                    self.files_table: [
                        {"PutRequest": {"Item": r.to_item()}} for r in done[i : i + 25]
                    ]
                }
            )

    # ------------------------------------------------------------------ 2. poll loop

    def poll_loop(self, count: int, upload_seconds: float) -> PollRun:
        datas = []
        for i in range(count):  # distinct content: no duplicates
            img = Image.new("RGB", (640, 480), (i * 7 % 255, 140, 200))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=85)
            datas.append(buf.getvalue())
        init = self.init([len(d) for d in datas])
        token, job_id = init["sessionToken"], init["jobId"]
        path = f"/api/triage/{job_id}/results"
        started = time.monotonic()
        for i, target in enumerate(init["uploads"]):
            due = started + upload_seconds * i / max(1, count - 1)
            time.sleep(max(0.0, due - time.monotonic()))
            resp = self.http.post(
                target["url"], data=target["fields"], files={"file": ("blob", datas[i])}, timeout=60
            )
            resp.raise_for_status()
        all_processed: float | None = None
        triage_started: float | None = None
        status = "processing"
        while time.monotonic() < started + upload_seconds + 300:
            body = self.call("GET", path, token=token)
            now, status = time.monotonic(), str(body["status"])
            if all_processed is None and body["processedCount"] >= count:
                all_processed = now
            if all_processed is not None and status != "processing":
                triage_started = triage_started or now
            if status in {"complete", "failed"}:
                break
            time.sleep(0.2)
        run = PollRun.from_history(
            self._history(self._execution_arn(job_id)),
            count=count,
            upload_seconds=upload_seconds,
            status=status,
            lag=(triage_started or 0.0) - (all_processed or 0.0),
        )
        run.print()
        return run

    def _execution_arn(self, job_id: str) -> str:
        return f"{self.machine_arn.replace(':stateMachine:', ':execution:', 1)}:{job_id}"

    def _history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--endpoint", required=True, help="the emulator (DynamoDB, Step Functions)")
    parser.add_argument("--files-table", required=True)
    parser.add_argument("--sessions-table", required=True)
    parser.add_argument("--state-machine-arn", required=True)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--upload-seconds", type=float, default=120.0)
    args = parser.parse_args()
    bench = Bench(args)
    runs = []
    for count in (36, 500):
        runs.append(bench_poll_cost.measure(bench, count, args.repeat))
        runs[-1].print()
    waiting = bench.poll_loop(36, args.upload_seconds).markdown()
    latency = bench_poll_cost.markdown(runs)
    write_section("api", "API and poll loop (`make bench-api`)", f"{latency}\n\n{waiting}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
