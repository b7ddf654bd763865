"""Peak RSS, wall and CPU time of TriageRun on a representative job, in a fresh process (part of
`make bench-media`, ADR 0018): its Lambda memory setting from measurement.

The parent runs moto's server (DynamoDB, S3, SSM) and the fake Gemini on loopback, seeds a
36-file job as MediaProcess leaves it (32 photos with a 400 px thumbnail and a 2048 px display
copy, 4 videos with their proxy; sizes as the bench's real outputs), and starts the real
handler (``triage_run.handler``, its composition root, the google-genai SDK) in a child process
per analyzer: Gemini with photos as URLs (the default), Gemini with inline photo bytes, and the
local analyzer (which reads every preview and runs ffmpeg on the proxies). The child's import
counts: a cold start's init is part of the sandbox's memory. The servers' memory is not the
child's.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "bench" / "function-memory.json"
MIB = 1024 * 1024
SESSION, JOB = "benchsess", "benchjob"
SESSIONS, FILES, BUCKET = "bench-sessions", "bench-files", "bench-media"
KEY_PARAM = "/media-triage/bench/gemini-api-key"
PHOTOS, VIDEOS = 32, 4
TOKEN_PARAM = "/media-triage/bench/token-secret"  # noqa: S105 - an SSM name, not a secret
INIT_FILES = 1000  # the API's limit per job (MAX_FILES)
VARIANTS = {  # label: (function, environment)
    "triage_run gemini (urls)": ("triage_run", {"GEMINI_MEDIA": "url"}),
    "triage_run gemini (inline)": ("triage_run", {"GEMINI_MEDIA": "inline"}),
    "triage_run local": ("triage_run", {"ANALYZER": "local"}),
    f"init_session init {INIT_FILES} + results": ("init_session", {}),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _moto() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _client_kw(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
    }


def _previews(proxy_source: Path) -> tuple[bytes, bytes, bytes]:
    """(thumbnail, display copy, proxy) as MediaProcess writes them for the bench's inputs."""
    from bench_media_memory import _photo_like

    im = _photo_like(2048, 1536, "bench-display")
    display, thumb = io.BytesIO(), io.BytesIO()
    im.save(display, "JPEG", quality=85)
    im.resize((400, 300)).save(thumb, "JPEG", quality=80)
    proxy = proxy_source.with_name("proxy-960.mp4")
    if not proxy.exists():
        subprocess.run(
            [
                "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(proxy_source),
                "-vf", "fps=15,scale=960:-2", "-c:v", "libx264", "-preset", "veryfast",
                "-b:v", "320k", "-c:a", "aac", "-b:a", "64k", str(proxy),
            ],
            check=True,
        )  # fmt: skip
    return thumb.getvalue(), display.getvalue(), proxy.read_bytes()


def seed(endpoint: str, proxy_source: Path) -> None:
    """The tables, the bucket, the key in SSM and a 36-file job ready for triage."""
    import boto3
    from support.tables import create_app_tables

    from media_triage_shared import keys
    from media_triage_shared.adapters.dynamo import DynamoJobRepository
    from media_triage_shared.models import (
        FileRow,
        FileStatus,
        JobPhase,
        JobRow,
        JobStatus,
        MediaType,
    )

    kw = _client_kw(endpoint)
    ddb, s3 = boto3.client("dynamodb", **kw), boto3.client("s3", **kw)
    create_app_tables(ddb, SESSIONS, FILES)
    s3.create_bucket(Bucket=BUCKET)
    ssm = boto3.client("ssm", **kw)
    ssm.put_parameter(Name=KEY_PARAM, Value="k", Type="SecureString")
    ssm.put_parameter(Name=TOKEN_PARAM, Value="bench-secret-" + "x" * 32, Type="SecureString")
    boto3.client("stepfunctions", **kw).create_state_machine(
        name="bench-triage",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/bench",
    )
    now = "2026-11-28T12:00:00Z"
    total = PHOTOS + VIDEOS
    DynamoJobRepository(ddb, SESSIONS).create_job(
        JobRow(
            session_id=SESSION,
            job_id=JOB,
            status=JobStatus.ANALYZING,
            phase=JobPhase.ANALYZING,
            expected_file_count=total,
            token_hash="h" * 64,
            created_at=now,
            updated_at=now,
            stall_deadline=now,
            expires_at=2_000_000_000,
        )
    )
    ddb.update_item(
        TableName=SESSIONS,
        Key={"pk": {"S": keys.job_pk(SESSION)}, "sk": {"S": keys.job_sk(JOB)}},
        UpdateExpression="SET processedCount = :n",
        ExpressionAttributeValues={":n": {"N": str(total)}},
    )
    thumb, display, proxy = _previews(proxy_source)
    for i in range(total):
        video = i >= PHOTOS
        fid, name = f"f{i:03d}", f"{'clip' if video else 'IMG'}_{i:04d}.{'mp4' if video else 'jpg'}"

        def put(leaf: str, body: bytes, fid: str = fid) -> str:
            key = keys.derived_key(SESSION, JOB, fid, leaf)
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            return key

        row = FileRow(
            job_id=JOB,
            file_id=fid,
            session_id=SESSION,
            filename=name,
            original_key=keys.upload_key(SESSION, JOB, fid, name),
            status=FileStatus.VALID,
            media_type=MediaType.VIDEO if video else MediaType.PHOTO,
            mime_type="video/mp4" if video else "image/jpeg",
            width=1920 if video else 4032,
            height=1080 if video else 3024,
            duration_seconds=30.0 if video else None,
            size=len(proxy) * 30 if video else 4_000_000,
            created_at=now,
            updated_at=now,
            expires_at=2_000_000_000,
            counted=True,
            thumbnail_key=put("thumb.jpg", thumb),
            display_key=None if video else put("display.jpg", display),
            proxy_key=put("proxy.mp4", proxy) if video else None,
        )
        ddb.put_item(TableName=FILES, Item=row.to_item())


# ---------------------------------------------------------------------------- child side


class _Context:
    aws_request_id = "bench"
    memory_limit_in_mb = "1024"  # a string, as Lambda's Python runtime gives it

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _triage() -> None:
    from triage_run.handler import handler

    out = handler({"sessionId": SESSION, "jobId": JOB, "partial": False}, _Context())
    if out["status"] != "complete" or out["keep"] + out["discard"] != PHOTOS + VIDEOS:
        raise SystemExit(f"triage did not judge every file: {out}")


def _api(method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    from init_session.handler import handler

    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}"} if token else {},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "198.51.100.7"},
            "requestId": "bench",
            "stage": "$default",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    out = handler(event, _Context())
    if out["statusCode"] >= 300:
        raise SystemExit(f"{method} {path}: {out['statusCode']} {str(out.get('body'))[:500]}")
    return json.loads(out["body"])


def _init_and_poll() -> None:
    """The API's largest answers: init with INIT_FILES files (a presigned POST each), then the
    results of that job (every row)."""
    files = [
        {"filename": f"IMG_{i:04d}.jpg", "contentType": "image/jpeg", "size": 4_000_000}
        for i in range(INIT_FILES)
    ]
    job = _api("POST", "/api/triage/init", {"expectedFileCount": INIT_FILES, "files": files})
    if len(job["uploads"]) != INIT_FILES:
        raise SystemExit(f"init gave {len(job['uploads'])} targets for {INIT_FILES} files")
    results = _api("GET", f"/api/triage/{job['jobId']}/results", token=job["sessionToken"])
    if len(results["files"]) != INIT_FILES:
        raise SystemExit(f"results listed {len(results['files'])} of {INIT_FILES} files")


def child(function: str = "triage_run") -> None:
    """In the fresh process: import the handler (the cold start) and run its representative
    work."""
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    (_init_and_poll if function == "init_session" else _triage)()
    wall = time.perf_counter() - started
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    hwm = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    cpu = self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu + kids.ru_utime + kids.ru_stime,
                "python_rss": hwm,
                "ffmpeg_rss": kids.ru_maxrss * 1024,
            }
        )
    )


# ---------------------------------------------------------------------------- parent side


def _reset(endpoint: str) -> None:
    """Every variant judges the same untouched job: clear the verdicts and the status."""
    import boto3

    from media_triage_shared import keys

    ddb = boto3.client("dynamodb", **_client_kw(endpoint))
    ddb.update_item(
        TableName=SESSIONS,
        Key={"pk": {"S": keys.job_pk(SESSION)}, "sk": {"S": keys.job_sk(JOB)}},
        UpdateExpression="SET #s = :s REMOVE summary",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "analyzing"}},
    )


def measure(proxy_source: Path) -> list[dict[str, Any]]:
    from support.fake_gemini import FakeGemini

    rows = []
    base_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MEDIA_BUCKET": BUCKET,
        "SESSIONS_TABLE": SESSIONS,
        "FILES_TABLE": FILES,
        "GEMINI_API_KEY_PARAM": KEY_PARAM,
        "TOKEN_SECRET_PARAM": TOKEN_PARAM,
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench-triage",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("ANALYZER", "GEMINI_API_KEY", "GEMINI_MEDIA"):
        base_env.pop(name, None)
    print(f"\n{'function':36} {'peak RSS':>9} {'wall s':>7} {'cpu s':>7}")
    with _moto() as endpoint, FakeGemini(api_key="k") as gemini:
        seed(endpoint, proxy_source)
        for label, (function, extra) in VARIANTS.items():
            _reset(endpoint)
            env = {
                **base_env,
                "AWS_ENDPOINT_URL": endpoint,
                "GEMINI_BASE_URL": gemini.base_url,
                **extra,
            }
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve().parent / "bench_media.py"),
                 "--child", "function", function, "1"],
                capture_output=True, text=True, check=False, env=env,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"{label} failed:\n{done.stderr[-3000:]}")
            res = json.loads(done.stdout.strip().splitlines()[-1])
            peak = (res["python_rss"] + res["ffmpeg_rss"]) / MIB
            rows.append(
                {
                    "kind": label,
                    "peak_rss_mib": round(peak, 1),
                    "wall_s": round(res["wall_s"], 3),
                    "cpu_s": round(res["cpu_s"], 3),
                    "function": function,
                    "files": INIT_FILES if function == "init_session" else PHOTOS + VIDEOS,
                }
            )
            print(f"{label:36} {peak:5.0f} MiB {res['wall_s']:7.2f} {res['cpu_s']:7.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def configured_mb(function: str) -> int:
    """The module's default ``memory_size`` of ``function`` (terraform/modules/media_triage)."""
    text = (ROOT / "terraform/modules/media_triage/variables.tf").read_text()
    block = text.split(f'variable "{function}"', 1)[1].split("\nvariable ", 1)[0]
    found = re.search(r"memory_size\s*=\s*optional\(number,\s*(\d+)\)", block)
    if found is None:
        raise ValueError(f"no memory_size default for {function} in variables.tf")
    return int(found.group(1))


def report(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        configured = configured_mb(r["function"])
        lines.append(
            f"| {r['kind']} | {r['peak_rss_mib']:.0f} MiB | {configured} MB "
            f"({r['peak_rss_mib'] / configured:.0%}) | {r['wall_s']:.2f} s | {r['cpu_s']:.2f} s |"
        )
    return [
        f"**TriageRun and the HTTP API** from a fresh process each (import + the work; DynamoDB, "
        "S3, SSM and Step Functions on moto's server, Gemini faked on loopback): TriageRun on a "
        f"{PHOTOS + VIDEOS}-file job ({PHOTOS} photos with display copies, {VIDEOS} clips with "
        f"proxies) per analyzer; init_session answering an init of {INIT_FILES} files (the "
        "API's limit) and then the results of that job:",
        "",
        "| function, work | peak RSS | configured (peak's share) | wall | CPU |",
        "|---|---|---|---|---|",
        *lines,
    ]
