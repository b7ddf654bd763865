"""`make deploy-env` / `make plan-env` for dev and prod refuse to start, with a clear message
and without building, initialising or planning anything, when the AWS credentials or the
env's backend.hcl are missing (devtools/preflight.py runs first).

Each case runs the real Makefile in a scratch copy (Makefile, devtools/preflight.py,
terraform/envs/<env>, the workspace's .venv) with `terraform`, `uv` and `docker` replaced by
stubs that record any call, the credentials removed from the environment and
AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE pointed at empty files.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUBBED = ("terraform", "uv", "docker")
BACKEND = 'bucket = "acme-terraform-state"\nregion = "eu-west-1"\nuse_lockfile = true\n'
IMAGE = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/media-triage-media-process@sha256:" + (
    "a" * 64
)

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if ".venv" not in p.parts and p.is_file()
    }


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "devtools").mkdir(parents=True)
    shutil.copy2(ROOT / "Makefile", repo / "Makefile")
    shutil.copy2(ROOT / "devtools" / "preflight.py", repo / "devtools" / "preflight.py")
    for env in ("dev", "prod"):
        shutil.copytree(
            ROOT / "terraform" / "envs" / env,
            repo / "terraform" / "envs" / env,
            ignore=shutil.ignore_patterns(".terraform", "backend.hcl", "*.tfstate*"),
        )
    (repo / ".venv").symlink_to(ROOT / ".venv")
    return repo


def _run(repo: Path, target: str, env_name: str, **extra_env: str) -> tuple[int, str, Path]:
    tmp = repo.parent
    calls = tmp / "calls"
    calls.mkdir(exist_ok=True)
    stubs = tmp / "bin"
    stubs.mkdir(exist_ok=True)
    for tool in STUBBED:
        stub = stubs / tool
        stub.write_text(f'#!/bin/sh\necho "$@" >> "{calls}/{tool}"\nexit 1\n')
        stub.chmod(0o755)
    (tmp / "empty").write_text("")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "TF_", "MAKE")) and k not in {"MEDIA_PROCESS_IMAGE"}
    }
    env.update(
        PATH=f"{stubs}{os.pathsep}{os.environ['PATH']}",
        AWS_CONFIG_FILE=str(tmp / "empty"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "empty"),
        AWS_EC2_METADATA_DISABLED="true",  # no instance role either
        **extra_env,
    )
    done = subprocess.run(
        ["make", "-C", str(repo), "--no-print-directory", target, f"ENV={env_name}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, calls


def _assert_nothing_happened(repo: Path, before: dict[str, tuple[int, int]], calls: Path) -> None:
    assert _snapshot(repo) == before, "a file was created or changed"
    for env in ("dev", "prod"):
        assert not (repo / "terraform" / "envs" / env / ".terraform").exists()
    assert not (repo / "build").exists()
    assert not (repo / ".local").exists()
    assert sorted(p.name for p in calls.iterdir()) == [], "terraform, uv or docker was run"


def test_deploy_without_credentials_fails_clearly_and_changes_nothing(checkout: Path) -> None:
    (checkout / "terraform" / "envs" / "dev" / "backend.hcl").write_text(BACKEND)
    before = _snapshot(checkout)
    code, out, calls = _run(checkout, "deploy-env", "dev", MEDIA_PROCESS_IMAGE=IMAGE)
    assert code != 0
    assert "make deploy-env ENV=dev: cannot start." in out
    assert "no AWS credentials found" in out
    assert "backend.hcl" not in out.split("cannot start.")[1].split("Nothing was")[0]
    assert "Nothing was built, initialised, planned or applied." in out
    _assert_nothing_happened(checkout, before, calls)


def test_deploy_without_backend_config_fails_clearly_and_changes_nothing(checkout: Path) -> None:
    before = _snapshot(checkout)
    code, out, calls = _run(checkout, "deploy-env", "dev", MEDIA_PROCESS_IMAGE=IMAGE)
    assert code != 0
    assert "terraform/envs/dev/backend.hcl is missing: copy backend.hcl.example" in out
    assert "no AWS credentials found" in out  # every problem at once
    _assert_nothing_happened(checkout, before, calls)


def test_placeholder_backend_and_missing_image_are_refused(checkout: Path) -> None:
    example = checkout / "terraform" / "envs" / "prod" / "backend.hcl.example"
    (example.parent / "backend.hcl").write_text(example.read_text())
    before = _snapshot(checkout)
    code, out, calls = _run(checkout, "plan-env", "prod")
    assert code != 0
    assert "make plan-env ENV=prod: cannot start." in out
    assert "still holds REPLACE-ME placeholders" in out
    assert "media-process has no container image" in out
    _assert_nothing_happened(checkout, before, calls)


def test_credentials_that_sts_does_not_accept_are_refused(checkout: Path) -> None:
    """Credentials are present but cannot be verified: STS (here a closed local port) is
    asked once, with a short timeout, and the deploy stops before anything else."""
    (checkout / "terraform" / "envs" / "dev" / "backend.hcl").write_text(BACKEND)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    before = _snapshot(checkout)
    code, out, calls = _run(
        checkout,
        "deploy-env",
        "dev",
        MEDIA_PROCESS_IMAGE=IMAGE,
        AWS_ACCESS_KEY_ID="AKIAEXAMPLEEXAMPLE00",
        AWS_SECRET_ACCESS_KEY="not-a-real-secret",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ENDPOINT_URL_STS=closed,
    )
    assert code != 0
    assert "AWS credentials were found but STS did not accept them" in out
    _assert_nothing_happened(checkout, before, calls)
