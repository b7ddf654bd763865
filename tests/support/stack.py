"""A deployed media-triage environment for integration and e2e tests.

``deploy_local_stack`` starts the bundled emulator (unless ``AWS_ENDPOINT_URL`` names a running
LocalStack-compatible endpoint), builds the zips, applies ``terraform/envs/local`` with a state
file of its own and returns a ``Stack``. AWS clients come from ``localstack_client`` so the same
tests run against a real LocalStack.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from localstack_client.session import Session

ROOT = Path(__file__).resolve().parents[2]
ENV_DIR = ROOT / "terraform" / "envs" / "local"
# The stack is the same whatever the developer's shell holds (make exports GEMINI_API_KEY as
# TF_VAR_gemini_api_key for `make deploy-env`); tests that want Gemini pass it explicitly.
TF_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("TF_VAR_")},
    "TF_CLI_CONFIG_FILE": str(ROOT / "terraform" / "cli.tfrc"),
    "TF_IN_AUTOMATION": "1",
    "TF_INPUT": "0",
}
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(endpoint: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{endpoint}/_local_aws/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"emulator at {endpoint} not healthy after {timeout}s")


@contextmanager
def emulator(
    state_dir: Path, env: dict[str, str] | None = None, log_path: Path | None = None
) -> Iterator[str]:
    """The bundled emulator on a free loopback port (never clobbers a `make up` stack); yields its
    endpoint. The one way tests start it: the stack fixture and tests/emulator's fixture.

    ``env`` adds variables to its environment (its switches, e.g.
    ``LOCAL_AWS_S3_MISSING_KEY_403``, ``LOCAL_AWS_LAMBDA_CONCURRENCY``); AWS_ENDPOINT_URL is
    never passed on (the emulator is the endpoint). ``log_path``: its output, by default
    ``state_dir / "emulator.log"``.
    """
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    state_dir.mkdir(parents=True, exist_ok=True)
    child_env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    log = (log_path or state_dir / "emulator.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_aws",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**child_env, **(env or {})},
    )
    try:
        wait_healthy(endpoint)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # a loaded machine: killed, then reaped (no zombie,
            proc.kill()  # no ResourceWarning turned error at the session's teardown)
            proc.wait(timeout=15)
        log.close()


def terraform(*args: str, state: Path, endpoint: str, timeout: float = 600) -> str:
    cmd = ["terraform", f"-chdir={ENV_DIR}", *args]
    if args[0] in {"apply", "destroy", "plan", "output"}:
        cmd.append(f"-state={state}")
    if args[0] in {"apply", "destroy", "plan"}:
        cmd.append(f"-var=endpoint={endpoint}")
    try:
        done = subprocess.run(
            cmd, env=TF_ENV, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")[-4000:]
        raise RuntimeError(
            f"terraform {args[0]} still running after {timeout:.0f}s:\n{out!r}"
        ) from exc
    if done.returncode not in (0, 2) or (done.returncode == 2 and "-detailed-exitcode" not in args):
        raise RuntimeError(
            f"terraform {args[0]} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def ensure_built() -> None:
    subprocess.run(["make", "-s", "build"], cwd=ROOT, check=True)


def ensure_initialised() -> None:
    # Every time: a module added since the last init would fail the apply ("Module not
    # installed"); offline through the mirror this takes a second or two.
    terraform("init", "-input=false", state=Path(), endpoint="")


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Stack:
    endpoint: str
    outputs: dict[str, Any]
    state: Path
    _clients: dict[str, Any] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def api_url(self) -> str:
        return str(self.outputs["api_url"])

    @property
    def bucket(self) -> str:
        return str(self.outputs["bucket_name"])

    @property
    def sessions_table(self) -> str:
        return str(self.outputs["sessions_table_name"])

    @property
    def files_table(self) -> str:
        return str(self.outputs["files_table_name"])

    @property
    def state_machine_arn(self) -> str:
        return str(self.outputs["state_machine_arn"])

    @property
    def functions(self) -> dict[str, str]:
        return dict(self.outputs["function_names"])

    def client(self, service: str) -> Any:
        if service not in self._clients:
            session = Session(region_name=REGION, localstack_host=self.endpoint.split("//", 1)[1])
            self._clients[service] = session.client(service)
        return self._clients[service]

    def apply(self, *variables: str) -> None:
        """Re-apply terraform/envs/local with these ``-var=...`` (none: back to the defaults)."""
        terraform(
            "apply",
            "-auto-approve",
            "-input=false",
            *variables,
            state=self.state,
            endpoint=self.endpoint,
        )

    # ------------------------------------------------------------------ HTTP API

    def api(
        self,
        method: str,
        path: str,
        json: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        data: str | bytes | None = None,
    ) -> Response:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        resp = self.http.request(
            method, f"{self.api_url}{path}", json=json, data=data, headers=hdrs, timeout=60
        )
        return Response(
            resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.text
        )

    def init(self, expected: int, files: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
        body = {"expectedFileCount": expected, "files": files or [], **extra}
        resp = self.api("POST", "/api/triage/init", json=body)
        assert resp.status_code == 202, resp.text
        return resp.json()

    def upload(self, target: dict[str, Any], data: bytes) -> None:
        if target["method"] == "POST":
            resp = self.http.post(
                target["url"],
                data=target.get("fields") or {},
                files={"file": ("blob", data)},
                timeout=120,
            )
        else:
            resp = self.http.put(
                target["url"], data=data, headers=target.get("headers") or {}, timeout=120
            )
        assert resp.status_code in (200, 201, 204), f"{resp.status_code} {resp.text[:500]}"

    # ------------------------------------------------------------------ state

    def job_row(self, session_id: str, job_id: str) -> dict[str, Any]:
        from media_triage_shared.models import deserialize

        item = (
            self.client("dynamodb")
            .get_item(
                TableName=self.sessions_table,
                Key={"pk": {"S": f"SESSION#{session_id}"}, "sk": {"S": f"JOB#{job_id}"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return deserialize(item) if item else {}

    def file_rows(self, job_id: str) -> list[dict[str, Any]]:
        from media_triage_shared.models import deserialize

        pages = (
            self.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.files_table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :f)",
                ExpressionAttributeValues={":pk": {"S": f"JOB#{job_id}"}, ":f": {"S": "FILE#"}},
                ConsistentRead=True,
            )
        )
        return [deserialize(item) for page in pages for item in page.get("Items", [])]

    def wait_job(
        self, session_id: str, job_id: str, statuses: set[str] | None = None, timeout: float = 90
    ) -> dict[str, Any]:
        wanted = statuses or {"complete"}
        deadline = time.monotonic() + timeout
        row: dict[str, Any] = {}
        while time.monotonic() < deadline:
            row = self.job_row(session_id, job_id)
            if row.get("status") in wanted:
                return row
            time.sleep(0.5)
        raise TimeoutError(f"job {job_id} never reached {wanted}; last row: {row}")

    def sleep_endings(self, execution_arn: str) -> list[str]:
        """How each WaitForFiles sleep ended: TaskSucceeded (woken), TaskTimedOut, TaskFailed."""
        sfn = self.client("stepfunctions")
        endings: list[str] = []
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        for page in pages:
            for event in page["events"]:
                details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
                if (
                    event["type"] in {"TaskSucceeded", "TaskTimedOut", "TaskFailed"}
                    and details.get("resource") == "updateItem.waitForTaskToken"
                ):
                    endings.append(event["type"])
        return endings

    def execution(self, job_id: str) -> dict[str, Any]:
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
        return dict(self.client("stepfunctions").describe_execution(executionArn=arn))


@contextmanager
def deploy_local_stack(
    work_dir: Path, emulator_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """Emulator (or AWS_ENDPOINT_URL) + build + terraform apply; destroy on the way out.

    ``emulator_env``: variables for the bundled emulator's process (its switches); an external
    endpoint is used as it is.
    """
    ensure_built()
    ensure_initialised()
    state = work_dir / "terraform.tfstate"
    external = os.environ.get("AWS_ENDPOINT_URL")
    bundled = emulator(work_dir / "emulator", emulator_env)
    with _external(external) if external else bundled as endpoint:
        terraform("apply", "-auto-approve", "-input=false", state=state, endpoint=endpoint)
        outputs = {
            k: v["value"]
            for k, v in json.loads(
                terraform("output", "-json", state=state, endpoint=endpoint)
            ).items()
        }
        stack = Stack(endpoint=endpoint, outputs=outputs, state=state)
        try:
            yield stack
        finally:
            # Destroying an emptied stack takes ~10 s; a hang is a bug (see the emulator's
            # ListObjectVersions patch), so fail loudly instead of holding CI.
            terraform(
                "destroy",
                "-auto-approve",
                "-input=false",
                state=state,
                endpoint=endpoint,
                timeout=180,
            )


@contextmanager
def _external(endpoint: str) -> Iterator[str]:
    yield endpoint.rstrip("/")


def copy_logs(stack: Stack, dest: Path) -> None:
    src = stack.state.parent / "emulator"
    if src.exists():
        shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("code*"))
