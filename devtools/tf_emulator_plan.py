"""Plan a real environment root (dev or prod settings) against the local AWS emulator.

    python devtools/tf_emulator_plan.py --env prod --endpoint http://127.0.0.1:4566 \
        [--json out/prod-plan.json] [--var name=value ...]

(`make plan-env ENV=prod EMULATOR=1` runs this.) The root is copied, with the modules and the
ASL, into a scratch directory (.local/emulator-plan/<env>/), and an `emulator_override.tf` is
written beside it: a local backend instead of the S3 one, and the provider pointed at the
emulator with its fake credentials (terraform/envs/local/providers.tf's provider block). Nothing in
terraform/envs/<env> changes and nothing can reach AWS. The env's terraform.tfvars apply as
they are; `media_process_image_uri` defaults to a placeholder digest (nothing is pulled by a
plan). The plan is then shown as JSON and checked by devtools/tf_policy.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tf_policy import policy_violations  # noqa: E402 - the directory above

PLACEHOLDER_IMAGE = (
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/media-triage-media-process@sha256:" + "0" * 64
)


def override_tf(endpoint: str, source: Path = ROOT) -> str:
    """An override file that turns an env root into a plan against the emulator: a local
    backend, and terraform/envs/local's provider block (fake credentials, every endpoint)
    with the endpoint filled in. The env root keeps its own region."""
    local = (source / "terraform" / "envs" / "local" / "providers.tf").read_text()
    block = local[local.index('provider "aws" {') :]
    block = re.sub(r"^\s*region\s*=.*\n", "", block, flags=re.MULTILINE)
    if "var." in block.replace("var.endpoint", ""):
        raise SystemExit("terraform/envs/local/providers.tf: only var.endpoint can be filled in")
    return f"""# Written by devtools/tf_emulator_plan.py into a scratch copy of this root: a plan of
# the env's settings against the local AWS emulator. Never commit it into terraform/envs/.
terraform {{
  backend "local" {{}}
}}

{block.replace("var.endpoint", json.dumps(endpoint))}"""


def prepare(env: str, endpoint: str, workdir: Path, source: Path = ROOT) -> Path:
    """Copy terraform/ and statemachine/ into workdir, add the override; return the env dir."""
    ignore = shutil.ignore_patterns(
        ".terraform", "*.tfstate*", "*.tfplan", "backend.hcl", "*_override.tf"
    )
    for part in ("terraform", "statemachine"):
        shutil.rmtree(workdir / part, ignore_errors=True)
        shutil.copytree(source / part, workdir / part, ignore=ignore)
    env_dir = workdir / "terraform" / "envs" / env
    if not env_dir.is_dir():
        raise SystemExit(f"no such environment root: terraform/envs/{env}")
    (env_dir / "emulator_override.tf").write_text(override_tf(endpoint, source))
    return env_dir


def run(args: list[str], env_dir: Path, data_dir: Path, *, capture: bool = False) -> str:
    environ = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(ROOT / "terraform" / "cli.tfrc"),
        "TF_DATA_DIR": str(data_dir),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    # The emulator's fake credentials, never the caller's real ones.
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        environ.pop(name, None)
    done = subprocess.run(
        ["terraform", *args],
        cwd=env_dir,
        env=environ,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if done.returncode != 0:
        raise SystemExit(f"terraform {args[0]} failed (exit {done.returncode})")
    return done.stdout or ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment root (dev, prod)")
    parser.add_argument("--endpoint", default="http://127.0.0.1:4566", help="emulator URL")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory")
    parser.add_argument("--artifacts-dir", type=Path, default=ROOT / "build")
    parser.add_argument(
        "--site-dir", type=Path, default=ROOT / "build" / "web", help="the built page (make web)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the plan JSON here")
    parser.add_argument("--var", action="append", default=[], help="extra -var name=value")
    args = parser.parse_args()

    if not (args.site_dir / "index.html").is_file():
        raise SystemExit(f"{args.site_dir}/index.html is missing: build the page first (make web)")
    workdir = (args.workdir or ROOT / ".local" / "emulator-plan" / args.env).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env_dir = prepare(args.env, args.endpoint, workdir)
    data_dir = workdir / ".terraform-data"
    planfile = workdir / f"{args.env}.tfplan"
    variables = [
        f"-var=artifacts_dir={args.artifacts_dir.resolve()}",
        f"-var=web_site_dir={args.site_dir.resolve()}",
    ]
    if not any(v.startswith("media_process_image_uri=") for v in args.var):
        variables.append(f"-var=media_process_image_uri={PLACEHOLDER_IMAGE}")
    variables += [f"-var={v}" for v in args.var]

    print(f"planning terraform/envs/{args.env} against the emulator at {args.endpoint}")
    run(["init", "-input=false", "-no-color"], env_dir, data_dir, capture=True)
    run(
        [
            "plan",
            "-input=false",
            "-lock=false",
            f"-state={workdir / 'emulator.tfstate'}",
            f"-out={planfile}",
            *variables,
        ],
        env_dir,
        data_dir,
    )
    shown = run(["show", "-json", str(planfile)], env_dir, data_dir, capture=True)
    plan = json.loads(shown)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(plan, indent=1))
    problems = policy_violations(plan)
    for problem in problems:
        print(f"POLICY: {problem}", file=sys.stderr)
    if problems:
        return 1
    changes = [rc for rc in plan["resource_changes"] if rc["change"]["actions"] != ["no-op"]]
    print(
        f"plan of terraform/envs/{args.env} against {args.endpoint}: {len(changes)} resource "
        "changes; policy check passed (devtools/tf_policy.py)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
