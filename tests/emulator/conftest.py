"""A session-wide local-aws emulator for tests/emulator, started by ``support.stack.emulator``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from support.emulator import ROLE_ARN, Emulator
from support.stack import emulator as bundled_emulator

# The emulator tests' switches: async retries after 0.2 s, up to 4 Lambda workers at once.
EMULATOR_ENV = {"LOCAL_AWS_ASYNC_RETRY_DELAY": "0.2", "LOCAL_AWS_LAMBDA_CONCURRENCY": "4"}


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    base = tmp_path_factory.mktemp("local-aws")
    state_dir, log_path = base / "state", base / "emulator.log"
    with bundled_emulator(state_dir, EMULATOR_ENV, log_path) as url:
        emu = Emulator(url, urlsplit(url).port or 0, state_dir, log_path)
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
        yield emu
