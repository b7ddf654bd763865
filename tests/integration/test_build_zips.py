"""build_zips.py for a real Lambda target: wheels for Lambda's ABI, our code, same bytes."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def build(out: Path) -> Path:
    subprocess.run(
        [
            *(sys.executable, "devtools/build_zips.py", "--target", "lambda", "--arch", "arm64"),
            *("--out", str(out), "init_session"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out / "init_session.zip"


def test_lambda_zip_holds_target_wheels_and_workspace_code_and_is_reproducible(
    tmp_path: Path,
) -> None:
    first = build(tmp_path / "a")
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        stamps = {info.date_time for info in zf.infolist()}
    # The compiled dependency is the Lambda runtime's (CPython 3.12 on Graviton), not the host's.
    native = [n for n in names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert native == ["pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so"]
    # Workspace members are built from source alongside the binary-only third-party wheels.
    assert "init_session/handler.py" in names
    assert "media_triage_shared/__init__.py" in names
    assert ".lock" not in names  # the installer's own lock file is not part of the package
    assert not [n for n in names if n.endswith(".pyc")]
    assert stamps == {(1980, 1, 1, 0, 0, 0)}
    assert build(tmp_path / "b").read_bytes() == first.read_bytes()
