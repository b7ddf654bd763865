"""boto3 clients, built once per container. ``AWS_ENDPOINT_URL`` (read by boto3) points them
at the local emulator; nothing here knows which environment it runs in."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
    signature_version="s3v4",
)


@functools.cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)
