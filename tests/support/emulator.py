"""Helpers of the emulator tests (tests/emulator): the Emulator handle, zip building, polling.

The process itself is started by ``support.stack.emulator`` (see tests/emulator/conftest.py)."""

from __future__ import annotations

import contextlib
import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/local-aws-test"


def build_zip(files: dict[str, str]) -> bytes:
    """A deployment package from {path in zip: source}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


@dataclass
class Emulator:
    url: str
    port: int
    state_dir: Path
    log_path: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
        )

    def create_function(
        self,
        name: str,
        files: dict[str, str],
        handler: str = "app.handler",
        timeout: int = 10,
        env: dict[str, str] | None = None,
    ) -> str:
        lam = self.client("lambda")
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=name)
        created = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE_ARN,
            Handler=handler,
            Code={"ZipFile": build_zip(files)},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": env or {}},
        )
        return str(created["FunctionArn"])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; return its value (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def http(method: str, url: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, url, timeout=30, **kwargs)
