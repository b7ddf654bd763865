"""The resume journal holds the Idempotency-Key (from which the API derives the session token):
it is readable by its owner only, from the first write on, and stays so when rewritten."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from media_triage_cli.files import LocalFile
from media_triage_cli.journal import Journal

API = "http://127.0.0.1:1/api"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def files(tmp_path: Path) -> list[LocalFile]:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"x" * 10)
    return [LocalFile(photo, photo.stat().st_size, "image/jpeg")]


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the common default: new files 0644
    yield
    os.umask(old)


@pytest.mark.usefixtures("permissive_umask")
def test_the_journal_is_created_owner_only(tmp_path: Path, files: list[LocalFile]) -> None:
    path = tmp_path / "state" / "resume.json"
    journal = Journal(path, files, API)
    journal.started("job1")

    assert _mode(path) == 0o600
    assert json.loads(path.read_text())["idempotencyKey"] == journal.idempotency_key
    journal.part_done("f1", 1, "etag-1")  # every rewrite replaces the file: still 0600
    assert _mode(path) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temp file left


@pytest.mark.usefixtures("permissive_umask")
def test_a_world_readable_journal_becomes_owner_only_when_rewritten(
    tmp_path: Path, files: list[LocalFile]
) -> None:
    path = tmp_path / "resume.json"
    Journal(path, files, API).started("job1")
    path.chmod(0o644)  # written by an older CLI

    resumed = Journal(path, files, API)
    assert resumed.resumed
    resumed.file_done("f1")

    assert _mode(path) == 0o600
    assert json.loads(path.read_text())["uploaded"] == ["f1"]


@pytest.mark.usefixtures("permissive_umask")
def test_a_stale_temp_file_does_not_block_or_weaken_the_write(
    tmp_path: Path, files: list[LocalFile]
) -> None:
    path = tmp_path / "resume.json"
    stale = tmp_path / f".resume.json.{os.getpid()}.tmp"
    stale.write_text("left by a killed run")
    stale.chmod(0o644)

    Journal(path, files, API).started("job1")

    assert _mode(path) == 0o600
    assert json.loads(path.read_text())["jobId"] == "job1"
