"""A session-wide local-aws emulator (subprocess on a free loopback port) for tests/emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from support.emulator import ROLE_ARN, Emulator, free_port


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    port = free_port()
    base = tmp_path_factory.mktemp("local-aws")
    state_dir, log_path, pidfile = base / "state", base / "emulator.log", base / "emulator.pid"
    env = {
        **os.environ,
        "LOCAL_AWS_ASYNC_RETRY_DELAY": "0.2",
        "LOCAL_AWS_LAMBDA_CONCURRENCY": "4",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    with log_path.open("wb") as log:
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
                "--pidfile",
                str(pidfile),
                "--state-dir",
                str(state_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    waited = subprocess.run(
        [sys.executable, "-m", "local_aws", "wait", "--url", url, "--timeout", "30"], check=False
    )
    if waited.returncode != 0:
        proc.kill()
        pytest.fail(f"emulator did not start:\n{log_path.read_text()}")
    emu = Emulator(url, port, state_dir, log_path, proc)
    emu.client("iam").create_role(
        RoleName=ROLE_ARN.rsplit("/", 1)[1],
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    try:
        yield emu
    finally:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "local_aws",
                "stop",
                "--pidfile",
                str(pidfile),
                "--timeout",
                "10",
            ],
            check=False,
        )
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
