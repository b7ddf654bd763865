"""Checks before `make deploy-env` / `make plan-env` touch a real environment (dev, prod).

    python devtools/preflight.py --env prod [--image <ecr-uri@sha256:...>]

It changes nothing and runs nothing but, when every local check passes, one STS
GetCallerIdentity call. It fails (exit 2) with one line per problem when:
- terraform/envs/<env>/backend.hcl is missing or still holds the example's placeholders (only
  backend.hcl.example is committed: the state bucket is the platform team's);
- no AWS credentials can be found (environment, AWS_PROFILE / shared files, SSO, container or
  instance roles), or STS does not accept them within a few seconds;
- media-process has no image: neither MEDIA_PROCESS_IMAGE (--image) nor
  media_process_image_uri in the env's terraform.tfvars.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REMOTE_ENVS = ("dev", "prod")
STS_TIMEOUT_SECONDS = 5
NOTHING_CHANGED = "Nothing was built, initialised, planned or applied."


def backend_problems(env_dir: Path) -> list[str]:
    backend = env_dir / "backend.hcl"
    rel = backend.relative_to(ROOT) if backend.is_relative_to(ROOT) else backend
    if not backend.is_file():
        return [
            f"{rel} is missing: copy {rel.name}.example to {rel.name} and name the state bucket, "
            "its region and the locking (use_lockfile = true, or dynamodb_table)."
        ]
    text = backend.read_text()
    problems = []
    if "REPLACE-ME" in text:
        problems.append(f"{rel} still holds REPLACE-ME placeholders: name the real state bucket.")
    if not re.search(r"^\s*(use_lockfile\s*=\s*true|dynamodb_table\s*=)", text, re.MULTILINE):
        problems.append(
            f"{rel} configures no state locking: set use_lockfile = true (Terraform >= 1.10) "
            "or dynamodb_table."
        )
    return problems


def image_problems(env_dir: Path, image: str | None) -> list[str]:
    if image:
        return []
    tfvars = env_dir / "terraform.tfvars"
    text = tfvars.read_text() if tfvars.is_file() else ""
    if re.search(r"^\s*media_process_image_uri\s*=", text, re.MULTILINE):
        return []
    return [
        "media-process has no container image: build and push it (make image ARCH=arm64 "
        "IMAGE_REPO=<account>.dkr.ecr.<region>.amazonaws.com/media-triage-media-process) and "
        "pass MEDIA_PROCESS_IMAGE=<repository>@sha256:<digest>, or set media_process_image_uri "
        f"in terraform/envs/{env_dir.name}/terraform.tfvars."
    ]


def credential_problems(*, verify: bool = True) -> tuple[list[str], str]:
    """(problems, who) from the default credential chain, then (verify) STS with a short
    timeout."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session = boto3.Session()
        credentials = session.get_credentials()
    except (BotoCoreError, ClientError) as exc:  # e.g. a profile that does not exist
        return [f"AWS credentials could not be loaded: {exc}"], ""
    if credentials is None:
        return [
            "no AWS credentials found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or "
            "the default profile, `aws sso login`, or an instance/container role): sign in to "
            "the target account first."
        ], ""
    if not verify:
        return [], ""
    config = Config(
        connect_timeout=STS_TIMEOUT_SECONDS,
        read_timeout=STS_TIMEOUT_SECONDS,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    try:
        sts = session.client("sts", region_name=session.region_name or "us-east-1", config=config)
        identity = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return [f"AWS credentials were found but STS did not accept them: {exc}"], ""
    return [], f"account {identity['Account']} as {identity['Arn']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--image", default=None, help="MEDIA_PROCESS_IMAGE, if given")
    parser.add_argument("--action", default="deploy-env", help="the make target, for messages")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.env not in REMOTE_ENVS:
        print(
            f"preflight: ENV={args.env} is not a remote environment ({', '.join(REMOTE_ENVS)})",
            file=sys.stderr,
        )
        return 2
    env_dir = args.root.resolve() / "terraform" / "envs" / args.env
    problems = backend_problems(env_dir) + image_problems(env_dir, args.image)
    who = ""
    if not problems:  # only then ask AWS anything
        problems, who = credential_problems()
    else:  # still say whether credentials are there at all, without calling AWS
        problems += credential_problems(verify=False)[0]
    if problems:
        print(f"make {args.action} ENV={args.env}: cannot start.", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(NOTHING_CHANGED, file=sys.stderr)
        return 2
    print(f"preflight ok: terraform/envs/{args.env} with its S3 backend, {who}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
