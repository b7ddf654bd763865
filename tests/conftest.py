"""Shared pytest configuration.

tests/ is on ``sys.path`` so the helper package ``support`` imports (``from support.fakes import``;
see tests/support/__init__.py for which helper serves which layer). The ``stack`` fixture is
session-wide and lazy: unit tests never start it; integration and e2e tests share one deployed
environment (the bundled emulator, or the endpoint named by AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support.stack import Stack, deploy_local_stack  # noqa: E402 - needs the path above


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with deploy_local_stack(Path(tmp_path_factory.mktemp("stack"))) as deployed:
        yield deployed
