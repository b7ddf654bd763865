"""Build deterministic Lambda zips: ``build/<fn>.zip`` (+ ``.sha256``) from the uv lock.

    python devtools/build_zips.py --target local            # host interpreter (the emulator)
    python devtools/build_zips.py --target lambda --arch arm64   # Lambda python3.12

Dependencies come from ``uv export --frozen`` (exactly what uv.lock pins), installed for the
target's Python ABI and platform into a staging dir; entries are sorted, timestamps fixed and
bytecode left out, so the same inputs give the same bytes (Terraform consumes them by hash).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = {
    "media_process": "media-process",
    "init_session": "init-session",
    "triage_run": "triage-run",
}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIP_DIRS = {"__pycache__", "bin"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = {"x86_64": "x86_64-manylinux_2_28", "arm64": "aarch64-manylinux_2_28"}


def install(package: str, staging: Path, target: str, arch: str) -> None:
    reqs = staging.parent / f"{package}.requirements.txt"
    exported = subprocess.run(
        [
            "uv",
            "export",
            "--frozen",
            "--package",
            package,
            "--no-dev",
            "--no-hashes",
            "--no-editable",
            "--no-header",
            "--no-annotate",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # Third-party pins install as wheels for the target platform; the workspace members (pure
    # Python, listed as relative paths) are built from source by a second pass, because
    # ``--only-binary :all:`` would refuse to build them.
    lines = exported.splitlines()
    member_dirs = [ROOT / ln[2:] for ln in lines if ln.startswith("./")]
    third_party = [ln for ln in lines if ln.strip() and not ln.startswith(("./", "#"))]
    reqs.write_text("\n".join(third_party) + "\n")
    base = ["uv", "pip", "install", "--quiet", "--no-deps", "--target", str(staging)]
    if target == "local":
        base += ["--python", sys.executable]
    else:
        base += ["--python-version", LAMBDA_PYTHON, "--python-platform", LAMBDA_PLATFORM[arch]]
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    binary_only = [] if target == "local" else ["--only-binary", ":all:"]
    subprocess.run([*base, *binary_only, "-r", str(reqs)], cwd=ROOT, check=True, env=env)
    # uv caches built wheels of local paths by version; the workspace members change without a
    # version bump, so always rebuild them or the zip would ship stale code.
    names = [
        tomllib.loads((d / "pyproject.toml").read_text())["project"]["name"] for d in member_dirs
    ]
    reinstall = [arg for name in names for arg in ("--reinstall-package", name)]
    subprocess.run(
        [*base, *reinstall, *(str(d) for d in member_dirs)], cwd=ROOT, check=True, env=env
    )


def write_zip(src: Path, dest: Path) -> str:
    files = sorted(
        p
        for p in src.rglob("*")
        if p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(src).parts)
        and p.suffix not in SKIP_SUFFIXES
        and p.relative_to(src).as_posix() != ".lock"  # uv's lock on the --target dir
    )
    tmp = dest.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(dest)
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    dest.with_suffix(".zip.sha256").write_text(digest + "\n")
    return digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["local", "lambda"], default="local")
    parser.add_argument("--arch", choices=sorted(LAMBDA_PLATFORM), default="arm64")
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("functions", nargs="*", default=list(FUNCTIONS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for fn in args.functions:
        with tempfile.TemporaryDirectory(prefix=f"build-{fn}-") as tmp:
            staging = Path(tmp) / "pkg"
            staging.mkdir()
            install(FUNCTIONS[fn], staging, args.target, args.arch)
            dest = args.out / f"{fn}.zip"
            digest = write_zip(staging, dest)
            size_mb = dest.stat().st_size / 1e6
            print(f"built {dest} {size_mb:.1f} MB sha256={digest[:12]}")
    (args.out / "TARGET").write_text(f"{args.target} {args.arch}\n")
    return 0


if __name__ == "__main__":
    shutil.which("uv") or sys.exit("uv is required (pip install uv)")
    sys.exit(main())
