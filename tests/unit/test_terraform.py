"""The Terraform: formatted, valid for every env root, and least privilege in the plan.

The roots are initialised (offline, through the provider mirror of terraform/cli.tfrc) in a
temporary copy of terraform/ and statemachine/, so the repository gets no .terraform/ or lock
file. The plan tests plan terraform/envs/local, and terraform/envs/prod with its own tfvars
(through the emulator override of devtools/tf_emulator_plan.py: local backend, provider
endpoints), against one bare moto server (only STS and the ASL validation are called while
planning) and read `terraform show -json`: every IAM and resource policy is known at plan
time, so least privilege and the production posture are proven without deploying anything.
`devtools/tf_policy.py` (policy_violations) holds the policy rules; a deliberately bad plan
shows that they catch wildcards.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from init_session.api.models import MAX_FILES
from media_process.detect import PHOTO_TYPES, VIDEO_TYPES
from media_process.settings import MediaProcessSettings
from media_triage_shared import metrics
from media_triage_shared.deadline import FINALIZE_RESERVE_SECONDS, LAMBDA_MARGIN_SECONDS
from media_triage_shared.media import MediaErrorCode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "devtools"))

import tf_emulator_plan  # noqa: E402 - devtools/ is not a package
from tf_policy import (  # noqa: E402
    RESOURCE_STAR_SIDS,
    arn_problem,
    deferred_policy_document,
    policy_violations,
)

TERRAFORM = shutil.which("terraform")
ENVS = ["local", "dev", "prod"]

pytestmark = pytest.mark.skipif(
    TERRAFORM is None, reason="terraform is not installed (needs terraform >= 1.6 on PATH)"
)

P = "media-triage-local"
BUCKET = f"arn:aws:s3:::{P}-media"
ACCOUNT_REGION = "us-east-1:123456789012"  # moto's account
SESSIONS = f"arn:aws:dynamodb:{ACCOUNT_REGION}:table/{P}-sessions"
FILES = f"arn:aws:dynamodb:{ACCOUNT_REGION}:table/{P}-media-file-processing"
MACHINE = f"arn:aws:states:{ACCOUNT_REGION}:stateMachine:{P}-triage"
EXECUTIONS = f"arn:aws:states:{ACCOUNT_REGION}:execution:{P}-triage:*"
TRIAGE_FN = f"arn:aws:lambda:{ACCOUNT_REGION}:function:{P}-triage-run"
UPLOADS = f"{BUCKET}/uploads/*"
DERIVED = f"{BUCKET}/derived/*"
TOKEN_SECRET = "/media-triage/local/token-secret/g0"
TOKEN_SECRET_ARN = f"arn:aws:ssm:{ACCOUNT_REGION}:parameter{TOKEN_SECRET}"

CONTRACT_ROUTES = {
    "POST /api/triage/init",
    "POST /api/triage/{jobId}/uploads",
    "POST /api/triage/{jobId}/multipart/parts",
    "POST /api/triage/{jobId}/multipart/complete",
    "POST /api/triage/{jobId}/multipart/abort",
    "PATCH /api/triage/{jobId}",
    "DELETE /api/triage/{jobId}",
    "GET /api/triage/{jobId}/results",
    "GET /api/triage/{jobId}/files/{fileId}/media",
    "POST /api/triage/{jobId}/retry",
    "GET /api/openapi.json",
    "$default",
}
COMMON_ENV = {"MEDIA_BUCKET", "SESSIONS_TABLE", "FILES_TABLE", "LOG_LEVEL", "APP_ENV"}
FUNCTIONS = {
    # role -> (handler, environment variables the contract requires)
    "media_process": (
        "media_process.handler.handler",
        COMMON_ENV
        | {
            "FILE_TTL_HOURS",
            "PROCESSING_DEADLINE_SECONDS",
            "ASYNC_RETRY_ATTEMPTS",
            "MAX_PHOTO_BYTES",
            "MAX_VIDEO_BYTES",
            "STATE_MACHINE_ARN",
        },
    ),
    "init_session": (
        "init_session.handler.handler",
        COMMON_ENV
        | {
            "STATE_MACHINE_ARN",
            "MULTIPART_THRESHOLD_BYTES",
            "MAX_FILE_BYTES",
            "STALL_TIMEOUT_SECONDS",
            # ADR 0014: the server secret by name, the abuse limits
            "TOKEN_SECRET_PARAM",
            "ALLOWED_MODELS",
            "RATE_LIMIT_PER_MINUTE",
            "RATE_LIMIT_BURST",
            "MAX_OPEN_JOBS_PER_CLIENT",
        },
    ),
    "triage_run": ("triage_run.handler.handler", COMMON_ENV | {"GEMINI_MODEL"}),
}

# Every (action, resource) each role may use: nothing more, nothing less.
EXPECTED_GRANTS: dict[str, set[tuple[str, str]]] = {
    "media_process": {
        ("s3:GetObject", UPLOADS),
        ("s3:PutObject", DERIVED),
        # A cancelled job's file, deleted by the invocation that finds the job cancelled
        # (issue 13 item 6): IAM cannot scope to one job, so exactly these two prefixes.
        ("s3:DeleteObject", UPLOADS),
        ("s3:DeleteObject", DERIVED),
        *{
            (a, FILES)
            for a in (
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
            )
        },
        *{
            (a, SESSIONS)
            for a in ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
        },
        # The count that makes a job ready after its execution timed out starts the successor
        # (issue 13 item 4): this state machine only, and no StopExecution.
        ("states:StartExecution", MACHINE),
        ("states:DescribeExecution", EXECUTIONS),
    },
    "init_session": {
        ("s3:PutObject", UPLOADS),
        ("s3:AbortMultipartUpload", UPLOADS),
        ("s3:ListMultipartUploadParts", UPLOADS),
        ("s3:GetObject", UPLOADS),
        ("s3:GetObject", DERIVED),
        ("s3:ListBucket", BUCKET),
        ("s3:DeleteObject", UPLOADS),
        ("s3:DeleteObject", DERIVED),
        ("s3:ListBucketMultipartUploads", BUCKET),
        ("states:StartExecution", MACHINE),
        ("states:StopExecution", EXECUTIONS),
        ("states:DescribeExecution", EXECUTIONS),
        # The server secret (ADR 0014): exactly its parameter, nothing else in SSM.
        ("ssm:GetParameter", TOKEN_SECRET_ARN),
        *{
            (a, t)
            for t in (SESSIONS, FILES)
            for a in (
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:BatchWriteItem",
            )
        },
    },
    "triage_run": {
        ("s3:GetObject", DERIVED),
        ("s3:GetObject", UPLOADS),
        ("dynamodb:GetItem", FILES),
        ("dynamodb:Query", FILES),
        ("dynamodb:UpdateItem", FILES),
        ("dynamodb:GetItem", SESSIONS),
        ("dynamodb:UpdateItem", SESSIONS),
    },
    "state_machine": {
        ("dynamodb:GetItem", SESSIONS),
        ("dynamodb:UpdateItem", SESSIONS),
        ("lambda:InvokeFunction", TRIAGE_FN),
        ("lambda:InvokeFunction", f"{TRIAGE_FN}:*"),
    },
}


# ----------------------------------------------------------------------------- helpers


def tf(
    *args: str, cwd: Path, data_dir: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(ROOT / "terraform" / "cli.tfrc"),
        "TF_DATA_DIR": str(data_dir),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    done = subprocess.run(
        [str(TERRAFORM), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if check and done.returncode != 0:
        pytest.fail(f"terraform {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr}")
    return done


def write_stub_zip(path: Path, package: str) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(f"{package}/handler.py", (1980, 1, 1, 0, 0, 0))
        zf.writestr(info, "def handler(event, context):\n    return {}\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of terraform/ and statemachine/ (the modules find the ASL by relative path) with
    stub zips in build/."""
    root = tmp_path_factory.mktemp("tf")
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*")
    shutil.copytree(ROOT / "terraform", root / "terraform", ignore=ignore)
    shutil.copytree(ROOT / "statemachine", root / "statemachine")
    (root / "build").mkdir()
    for fn in FUNCTIONS:
        write_stub_zip(root / "build" / f"{fn}.zip", fn)
    write_fake_site(root / "site")
    return root


def write_fake_site(site: Path) -> Path:
    """A small stand-in for build/web (the real one needs `make web`): the page, hashed
    assets, an unhashed icon, and stale copies of the files Terraform writes itself."""
    (site / "assets").mkdir(parents=True)
    (site / "_site").mkdir()
    (site / "index.html").write_text(
        '<!doctype html><script type="module" src="assets/app-1a2b.js"></script>'
    )
    (site / "assets" / "app-1a2b.js").write_text("console.log('page');\n")
    (site / "assets" / "app-1a2b.css").write_text("body { margin: 0 }\n")
    (site / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (site / "config.json").write_text('{"apiBase": "stale"}')
    (site / "_site" / "headers.json").write_text('{"X-Stale": "1"}')
    return site


def initialised(workspace: Path, env: str, *, backend: bool = False) -> tuple[Path, Path]:
    """Init an env root once per workspace; without its backend unless asked (local only)."""
    env_dir = workspace / "terraform" / "envs" / env
    data_dir = workspace / f".tfdata-{env}{'-backend' if backend else ''}"
    if not data_dir.exists():
        flags = [] if backend else ["-backend=false"]
        tf("init", *flags, "-input=false", "-no-color", cwd=env_dir, data_dir=data_dir)
    return env_dir, data_dir


# ----------------------------------------------------------------------------- fmt, validate


def test_terraform_is_formatted() -> None:
    done = subprocess.run(
        [str(TERRAFORM), "fmt", "-check", "-recursive", "-diff", "terraform"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{done.stdout}"


@pytest.mark.slow
@pytest.mark.parametrize("env", ENVS)
def test_env_root_validates(workspace: Path, env: str) -> None:
    env_dir, data_dir = initialised(workspace, env)
    done = tf("validate", "-json", "-no-color", cwd=env_dir, data_dir=data_dir, check=False)
    result = json.loads(done.stdout)
    assert result["valid"], json.dumps(result["diagnostics"], indent=2)
    assert result["warning_count"] == 0, json.dumps(result["diagnostics"], indent=2)


def test_env_roots_only_call_the_application_module() -> None:
    for env in ENVS:
        for tf_file in (ROOT / "terraform" / "envs" / env).glob("*.tf"):
            text = tf_file.read_text()
            assert 'resource "' not in text, f"{tf_file}: roots hold no resources"
            assert text.count('module "') <= 1
            if 'module "' in text:
                assert 'source = "../../modules/media_triage"' in text


# ----------------------------------------------------------------------------- plan


# A bare moto server, plus the one call moto lacks that `terraform plan` makes: the provider
# validates a state machine definition known at plan time (ValidateStateMachineDefinition),
# here with moto's own ASL parser.
_PLAN_SERVER = """
import json, sys
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from werkzeug.serving import run_simple

moto_app = DomainDispatcherApplication(create_backend_app)

def app(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET") == "AWSStepFunctions.ValidateStateMachineDefinition":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        definition = json.loads(environ["wsgi.input"].read(size))["definition"]
        try:
            AmazonStateLanguageParser.parse(definition)
            result = {"result": "OK", "diagnostics": []}
        except Exception as exc:
            diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                          "message": str(exc)[:1000]}
            result = {"result": "FAIL", "diagnostics": [diagnostic]}
        body = json.dumps(result).encode()
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return moto_app(environ, start_response)

run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("moto.moto_server.werkzeug_app", reason="needs moto[server] (dev group)")
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", _PLAN_SERVER, str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("moto server did not start")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def plan_local(workspace: Path, endpoint: str, name: str, *variables: str) -> dict[str, Any]:
    env_dir, data_dir = initialised(workspace, "local", backend=True)
    return plan_json(
        env_dir,
        data_dir,
        workspace / name,
        f"-var=endpoint={endpoint}",
        f"-var=artifacts_dir={workspace / 'build'}",
        f"-var=web_site_dir={workspace / 'site'}",
        *variables,
    )


def plan_json(env_dir: Path, data_dir: Path, stem: Path, *variables: str) -> dict[str, Any]:
    """``terraform plan`` of an initialised root into ``<stem>.tfplan`` (state
    ``<stem>.tfstate``), returned as ``terraform show -json``."""
    out = stem.with_suffix(".tfplan")
    tf(
        "plan",
        "-input=false",
        "-no-color",
        "-lock=false",
        f"-out={out}",
        f"-state={stem.with_suffix('.tfstate')}",
        *variables,
        cwd=env_dir,
        data_dir=data_dir,
    )
    shown = tf("show", "-json", str(out), cwd=env_dir, data_dir=data_dir)
    result: dict[str, Any] = json.loads(shown.stdout)
    return result


@pytest.fixture(scope="module")
def plan(workspace: Path, moto_endpoint: str) -> dict[str, Any]:
    return plan_local(workspace, moto_endpoint, "local", "-var=object_expiration_days=1")


GEMINI_TEST_KEY = "AIza-test-key-never-in-env"


@pytest.fixture(scope="module")
def keyed_plan(workspace: Path, moto_endpoint: str) -> dict[str, Any]:
    """envs/local as `make deploy-env` plans it with GEMINI_API_KEY set."""
    return plan_local(workspace, moto_endpoint, "keyed", f"-var=gemini_api_key={GEMINI_TEST_KEY}")


def planned(plan: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """address -> {"after": ..., "unknown": ...} of the planned resources of a type."""
    return {
        r["address"]: {"after": r["change"]["after"], "unknown": r["change"]["after_unknown"]}
        for r in plan["resource_changes"]
        if r["type"] == rtype
    }


def only(plan: dict[str, Any], rtype: str, contains: str = "") -> dict[str, Any]:
    found = [v for k, v in planned(plan, rtype).items() if contains in k]
    assert len(found) == 1, f"expected one {rtype} matching {contains!r}, got {len(found)}"
    return found[0]


def any_unknown(node: Any) -> bool:
    """Whether an after_unknown subtree marks anything unknown."""
    if isinstance(node, dict):
        return any(any_unknown(v) for v in node.values())
    if isinstance(node, list):
        return any(any_unknown(v) for v in node)
    return node is True


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def grants(policy: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (action, resource)
        for s in policy["Statement"]
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    }


def role_policies(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Role (module name) -> its caller-given inline policy document."""
    out = {}
    for address, res in planned(plan, "aws_iam_role_policy").items():
        if res["after"]["name"] != "least-privilege":
            continue
        role = address.split("module.")[2].split(".")[0]
        assert res["after"].get("policy"), f"{address}: policy unknown at plan time"
        out[role] = json.loads(res["after"]["policy"])
    return out


@pytest.mark.slow
def test_every_policy_names_exact_actions_and_resources(plan: dict[str, Any]) -> None:
    policies = role_policies(plan)
    assert set(policies) == set(EXPECTED_GRANTS)
    assert policy_violations(plan) == []
    # Resource "*" only where AWS documents it, and nowhere else.
    stars = {
        s.get("Sid")
        for policy in policies.values()
        for s in policy["Statement"]
        if "*" in as_list(s["Resource"])
    }
    assert stars <= set(RESOURCE_STAR_SIDS)


@pytest.mark.slow
@pytest.mark.parametrize("role", sorted(EXPECTED_GRANTS))
def test_role_is_granted_exactly_what_it_needs(plan: dict[str, Any], role: str) -> None:
    policy = role_policies(plan)[role]
    scoped = {
        "Statement": [s for s in policy["Statement"] if s.get("Sid") not in RESOURCE_STAR_SIDS]
    }
    assert grants(scoped) == EXPECTED_GRANTS[role]


@pytest.mark.slow
def test_list_bucket_is_limited_to_the_app_prefixes(plan: dict[str, Any]) -> None:
    policy = role_policies(plan)["init_session"]
    (listing,) = [s for s in policy["Statement"] if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["uploads/*", "derived/*"]}}


@pytest.mark.slow
def test_functions_follow_the_contract(plan: dict[str, Any]) -> None:
    functions = planned(plan, "aws_lambda_function")
    assert len(functions) == len(FUNCTIONS)
    for role, (handler, required_env) in FUNCTIONS.items():
        fn = only(plan, "aws_lambda_function", f"module.{role}.")
        after, unknown = fn["after"], fn["unknown"]
        assert after["function_name"] == f"{P}-{role.replace('_', '-')}"
        assert (after["handler"], after["runtime"], after["package_type"]) == (
            handler,
            "python3.12",
            "Zip",
        )
        assert after["filename"].endswith(f"build/{role}.zip")
        assert after["source_code_hash"]
        assert not any_unknown(unknown.get("environment")), f"{role}: environment unknown at plan"
        env = after["environment"][0]["variables"]
        assert required_env <= set(env), f"{role} misses {sorted(required_env - set(env))}"
        assert "AWS_ENDPOINT_URL" not in env
        assert env["MEDIA_BUCKET"] == f"{P}-media"
        assert env["SESSIONS_TABLE"] == f"{P}-sessions"
        assert env["FILES_TABLE"] == f"{P}-media-file-processing"
        assert env["APP_ENV"] == "local"
        if "STATE_MACHINE_ARN" in required_env:
            assert env["STATE_MACHINE_ARN"] == MACHINE


def _media_process_timing(plan: dict[str, Any]) -> tuple[float, float]:
    fn = only(plan, "aws_lambda_function", "module.media_process.")["after"]
    env = fn["environment"][0]["variables"]
    return float(env["PROCESSING_DEADLINE_SECONDS"]), float(fn["timeout"])


@pytest.mark.slow
@pytest.mark.parametrize("which", ["plan", "prod_plan"])
def test_the_processing_deadline_leaves_the_named_margins_before_the_lambda_timeout(
    which: str, request: pytest.FixtureRequest
) -> None:
    """MediaProcess finishes by PROCESSING_DEADLINE_SECONDS, and the handler keeps
    LAMBDA_MARGIN_SECONDS of Lambda's own time: the deadline, the finalize reserve inside it and
    the margin all fit in the timeout Terraform sets, so a slow file is finalised (``timeout``)
    instead of killed mid-write. The defaults of the settings agree with Terraform's."""
    deadline, timeout = _media_process_timing(request.getfixturevalue(which))
    assert deadline + LAMBDA_MARGIN_SECONDS <= timeout, (deadline, timeout)
    assert deadline > FINALIZE_RESERVE_SECONDS
    default = MediaProcessSettings.model_fields["processing_deadline_seconds"].default
    assert default + LAMBDA_MARGIN_SECONDS <= timeout


@pytest.mark.slow
def test_bucket_is_private_encrypted_short_lived_and_browser_uploadable(
    plan: dict[str, Any],
) -> None:
    assert only(plan, "aws_s3_bucket", "module.storage.")["after"]["bucket"] == f"{P}-media"
    block = only(plan, "aws_s3_bucket_public_access_block", "module.storage.")["after"]
    assert all(
        block[k]
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    ownership = only(plan, "aws_s3_bucket_ownership_controls", "module.storage.")["after"]
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    sse = only(plan, "aws_s3_bucket_server_side_encryption_configuration", "module.storage.")[
        "after"
    ]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == (
        "AES256"
    )
    (rule,) = only(plan, "aws_s3_bucket_lifecycle_configuration")["after"]["rule"]
    assert rule["status"] == "Enabled"
    assert rule["expiration"][0]["days"] == 1
    assert rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1
    (cors,) = only(plan, "aws_s3_bucket_cors_configuration")["after"]["cors_rule"]
    assert set(cors["allowed_methods"]) == {"POST", "PUT", "GET", "HEAD"}
    assert cors["expose_headers"] == ["ETag"]


@pytest.mark.slow
def test_only_uploads_trigger_media_process(plan: dict[str, Any]) -> None:
    (target,) = only(plan, "aws_s3_bucket_notification")["after"]["lambda_function"]
    assert target["filter_prefix"] == "uploads/"
    assert target["events"] == ["s3:ObjectCreated:*"]
    permission = only(plan, "aws_lambda_permission", "module.storage.")["after"]
    assert permission["principal"] == "s3.amazonaws.com"
    assert permission.get("source_arn", BUCKET) == BUCKET  # unknown until the bucket exists
    assert permission["source_account"] == "123456789012"


@pytest.mark.slow
def test_tables_follow_the_contract(plan: dict[str, Any]) -> None:
    tables = {t["after"]["name"]: t["after"] for t in planned(plan, "aws_dynamodb_table").values()}
    assert set(tables) == {f"{P}-sessions", f"{P}-media-file-processing"}
    for table in tables.values():
        assert table["billing_mode"] == "PAY_PER_REQUEST"
        assert (table["hash_key"], table["range_key"]) == ("pk", "sk")
        assert {(a["name"], a["type"]) for a in table["attribute"]} == {("pk", "S"), ("sk", "S")}
        assert table["ttl"] == [{"attribute_name": "expiresAt", "enabled": True}]
        assert table["server_side_encryption"][0]["enabled"] is True


@pytest.mark.slow
def test_http_api_routes_every_contract_route_to_init_session(plan: dict[str, Any]) -> None:
    assert only(plan, "aws_apigatewayv2_api")["after"]["name"] == f"{P}-api"
    routes = {r["after"]["route_key"] for r in planned(plan, "aws_apigatewayv2_route").values()}
    assert routes == CONTRACT_ROUTES
    integration = only(plan, "aws_apigatewayv2_integration")["after"]
    assert (integration["integration_type"], integration["payload_format_version"]) == (
        "AWS_PROXY",
        "2.0",
    )
    stage = only(plan, "aws_apigatewayv2_stage")["after"]
    assert (stage["name"], stage["auto_deploy"]) == ("$default", True)
    permission = only(plan, "aws_lambda_permission", "module.http_api.")["after"]
    assert permission["principal"] == "apigateway.amazonaws.com"


@pytest.mark.slow
def test_state_machine_is_standard_and_logged(plan: dict[str, Any]) -> None:
    machine = only(plan, "aws_sfn_state_machine")["after"]
    assert (machine["name"], machine["type"]) == (f"{P}-triage", "STANDARD")
    assert machine["logging_configuration"][0]["level"] == "ERROR"
    # The rendered definition is known at plan time: reviewable in `terraform plan`.
    definition = json.loads(machine["definition"])
    assert definition["TimeoutSeconds"] == 3600
    assert definition["States"]["Poll"]["Parameters"]["TableName"] == f"{P}-sessions"
    assert definition["States"]["TriageRun"]["Parameters"]["FunctionName"] == TRIAGE_FN
    assert "${" not in machine["definition"]
    # WaitForFiles sleeps on a callback task; the timeout (default 30 s) paces the stall check.
    wait = definition["States"]["WaitForFiles"]
    assert wait["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken"
    assert wait["Parameters"]["TableName"] == f"{P}-sessions"
    interval = definition["States"]["Poll"]["ResultSelector"]["pollIntervalSeconds.$"]
    assert interval == "States.StringToJson('30')"


@pytest.mark.slow
def test_only_the_counters_may_wake_the_state_machine(plan: dict[str, Any]) -> None:
    wakers = {
        role
        for role, policy in role_policies(plan).items()
        for s in policy["Statement"]
        if s.get("Sid") == "WakeTriage"
        and as_list(s["Action"]) == ["states:SendTaskSuccess"]
        and as_list(s["Resource"]) == ["*"]
    }
    assert wakers == {"media_process", "init_session"}
    every_action = {a for policy in role_policies(plan).values() for a, _ in grants(policy)}
    assert not {a for a in every_action if a.startswith("states:Send")} - {"states:SendTaskSuccess"}


@pytest.mark.slow
def test_executions_are_started_only_on_the_triage_state_machine(plan: dict[str, Any]) -> None:
    """The API (init, retry, successors) and media-process (the successor a late last file
    needs, issue 13 item 4) start executions; both on the one state machine, by exact ARN;
    only the API may stop one."""
    starters = {
        role: {r for a, r in grants(policy) if a == "states:StartExecution"}
        for role, policy in role_policies(plan).items()
    }
    assert {role: arns for role, arns in starters.items() if arns} == {
        "init_session": {MACHINE},
        "media_process": {MACHINE},
    }
    stoppers = {
        role
        for role, policy in role_policies(plan).items()
        if any(a == "states:StopExecution" for a, _ in grants(policy))
    }
    assert stoppers == {"init_session"}


# ----------------------------------------------------------------------------- prod settings

PROD = "media-triage-prod"
PROD_REGION_ACCOUNT = "eu-west-1:123456789012"  # prod's tfvars region, moto's account
PROD_TOPIC = f"arn:aws:sns:{PROD_REGION_ACCOUNT}:media-triage-prod-alarms"
PROD_DLQ = f"arn:aws:sqs:{PROD_REGION_ACCOUNT}:{PROD}-media-process-dlq"
PROD_BUCKET = f"arn:aws:s3:::{PROD}-media"


@pytest.fixture(scope="module")
def prod_plan(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> dict[str, Any]:
    """terraform/envs/prod with its terraform.tfvars, planned against moto through the same
    override `make plan-env ENV=prod EMULATOR=1` writes (local backend, provider endpoints)."""
    return plan_prod(tmp_path_factory, moto_endpoint)


JWT = '{issuer = "https://id.example.com/", audience = ["media-triage"]}'


EXTRA_ORIGIN = "http://localhost:8000"  # e.g. a developer's page server against prod's API


@pytest.fixture(scope="module")
def prod_jwt_plan(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> dict[str, Any]:
    """prod with a JWT authorizer and an extra page origin (which makes the API do CORS)."""
    return plan_prod(
        tmp_path_factory,
        moto_endpoint,
        f"-var=api_jwt_authorizer={JWT}",
        f'-var=extra_web_origins=["{EXTRA_ORIGIN}"]',
    )


def plan_prod(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, *variables: str
) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("prod")
    env_dir = tf_emulator_plan.prepare("prod", moto_endpoint, work, source=ROOT)
    assert (env_dir / "emulator_override.tf").is_file()
    (work / "build").mkdir()
    for fn in FUNCTIONS:
        write_stub_zip(work / "build" / f"{fn}.zip", fn)
    site = write_fake_site(work / "site")
    data_dir = work / ".tfdata"
    tf("init", "-input=false", "-no-color", cwd=env_dir, data_dir=data_dir)
    return plan_json(
        env_dir,
        data_dir,
        work / "prod",
        f"-var=artifacts_dir={work / 'build'}",
        f"-var=media_process_image_uri={tf_emulator_plan.PLACEHOLDER_IMAGE}",
        f"-var=alarm_sns_topic_arn={PROD_TOPIC}",
        f"-var=web_site_dir={site}",
        *variables,
    )


@pytest.mark.slow
def test_a_jwt_authorizer_reads_its_own_header_which_cors_allows(
    prod_plan: dict[str, Any], prod_jwt_plan: dict[str, Any]
) -> None:
    assert not planned(prod_plan, "aws_apigatewayv2_authorizer")
    authorizer = only(prod_jwt_plan, "aws_apigatewayv2_authorizer")["after"]
    assert authorizer["authorizer_type"] == "JWT"
    assert authorizer["identity_sources"] == ["$request.header.X-Identity-Token"]
    cors = only(prod_jwt_plan, "aws_apigatewayv2_api")["after"]["cors_configuration"][0]
    assert cors["allow_origins"] == [EXTRA_ORIGIN]
    assert "x-identity-token" in cors["allow_headers"]
    assert "authorization" in cors["allow_headers"]  # the session token still travels there


@pytest.mark.slow
def test_a_jwt_in_the_session_tokens_header_is_refused_at_plan(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str
) -> None:
    bad = JWT.replace("}", ', identity_source = "$request.header.Authorization"}')
    with pytest.raises(pytest.fail.Exception, match="carries the session token"):
        plan_prod(tmp_path_factory, moto_endpoint, f"-var=api_jwt_authorizer={bad}")


def all_policies(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """address -> document of every IAM role policy and bucket policy: known at plan time, or
    (the web bucket's, whose SourceArn is a distribution still to be created) the deferred
    policy document it is made from, known apart from that condition value."""
    out = {}
    for rtype in ("aws_iam_role_policy", "aws_s3_bucket_policy"):
        for address, res in planned(plan, rtype).items():
            if res["unknown"].get("policy") is True:
                document = deferred_policy_document(plan, address)
                assert document is not None, f"{address}: unknown at plan"
                out[address] = document
            else:
                out[address] = json.loads(res["after"]["policy"])
    return out


@pytest.mark.slow
def test_prod_plan_has_no_policy_violations(prod_plan: dict[str, Any]) -> None:
    # Every policy is reviewable at plan time: the role policies of the three functions (logs,
    # least-privilege, media-process's DLQ grant), the state machine's and both bucket policies.
    policies = all_policies(prod_plan)
    assert len(policies) == 10
    assert policy_violations(prod_plan) == []


@pytest.mark.slow
def test_prod_policy_check_fails_once_a_wildcard_is_introduced(prod_plan: dict[str, Any]) -> None:
    """The same prod plan, with one statement widened at a time, is refused every time."""
    address = "module.media_triage.module.media_process.aws_iam_role_policy.this[0]"
    widened = {
        "wildcard action": ({"Action": "s3:*"}, "wildcard action s3:*"),
        "resource *": ({"Resource": "*"}, "Resource *"),
        "every table": (
            {"Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/*"},
            "every resource of a type",
        ),
        "whole bucket": ({"Resource": f"{PROD_BUCKET}/*"}, "may only read uploads/*"),
    }
    for name, (patch, expected) in widened.items():
        bad = copy.deepcopy(prod_plan)
        (rc,) = [r for r in bad["resource_changes"] if r["address"] == address]
        document = json.loads(rc["change"]["after"]["policy"])
        (statement,) = [s for s in document["Statement"] if s["Sid"] == "ReadOriginals"]
        statement.update(patch)
        rc["change"]["after"]["policy"] = json.dumps(document)
        problems = policy_violations(bad)
        assert any(expected in p and "ReadOriginals" in p for p in problems), (name, problems)


@pytest.mark.slow
def test_prod_media_process_reads_only_uploads_and_writes_only_derived(
    prod_plan: dict[str, Any],
) -> None:
    policy = role_policies(prod_plan)["media_process"]
    s3 = {(a, r) for a, r in grants(policy) if a.startswith("s3:")}
    assert s3 == {
        ("s3:GetObject", f"{PROD_BUCKET}/uploads/*"),
        ("s3:PutObject", f"{PROD_BUCKET}/derived/*"),
        # a cancelled job's file (issue 13 item 6): the two prefixes, never the bucket
        ("s3:DeleteObject", f"{PROD_BUCKET}/uploads/*"),
        ("s3:DeleteObject", f"{PROD_BUCKET}/derived/*"),
    }
    # ...and nothing else that touches S3 in any of its policies.
    for address, document in all_policies(prod_plan).items():
        if "module.media_process." in address and not address.endswith("this[0]"):
            assert not any(a.startswith("s3:") for a, _ in grants(document)), address


@pytest.mark.slow
def test_prod_bucket_blocks_public_access_enforces_tls_and_encrypts(
    prod_plan: dict[str, Any],
) -> None:
    block = only(prod_plan, "aws_s3_bucket_public_access_block", "module.storage.")["after"]
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls")
    assert all(block[k] is True for k in (*flags, "restrict_public_buckets"))
    sse = only(prod_plan, "aws_s3_bucket_server_side_encryption_configuration", "module.storage.")
    algorithm = sse["after"]["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert algorithm["sse_algorithm"] in {"AES256", "aws:kms"}
    storage_policy = only(prod_plan, "aws_s3_bucket_policy", "module.storage.")
    policy = json.loads(storage_policy["after"]["policy"])
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] in ("*", {"AWS": "*"})
    assert as_list(deny["Action"]) == ["s3:*"]
    assert set(as_list(deny["Resource"])) == {PROD_BUCKET, f"{PROD_BUCKET}/*"}
    assert not [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert only(prod_plan, "aws_s3_bucket", "module.storage.")["after"]["force_destroy"] is False


@pytest.mark.slow
def test_prod_api_is_throttled_and_needs_no_cors(
    prod_plan: dict[str, Any], prod_jwt_plan: dict[str, Any]
) -> None:
    stage = only(prod_plan, "aws_apigatewayv2_stage")["after"]
    (settings,) = stage["default_route_settings"]
    assert (settings["throttling_burst_limit"], settings["throttling_rate_limit"]) == (200, 100)
    assert stage["access_log_settings"], "the API logs every request"
    # The page reaches the API on its own origin (CloudFront's /api/*): no CORS at all...
    assert only(prod_plan, "aws_apigatewayv2_api")["after"]["cors_configuration"] == []
    # ...unless another origin of the page is configured, and then exactly that one.
    (cors,) = only(prod_jwt_plan, "aws_apigatewayv2_api")["after"]["cors_configuration"]
    assert cors["allow_origins"] == [EXTRA_ORIGIN]


@pytest.mark.slow
def test_prod_tables_have_point_in_time_recovery_and_deletion_protection(
    prod_plan: dict[str, Any],
) -> None:
    tables = [t["after"] for t in planned(prod_plan, "aws_dynamodb_table").values()]
    assert len(tables) == 2
    for table in tables:
        assert table["point_in_time_recovery"][0]["enabled"] is True, table["name"]
        assert table["deletion_protection_enabled"] is True, table["name"]
        assert table["server_side_encryption"][0]["enabled"] is True


@pytest.mark.slow
def test_every_log_group_has_retention(plan: dict[str, Any], prod_plan: dict[str, Any]) -> None:
    for tfplan, days in ((plan, 1), (prod_plan, 90)):
        groups = planned(tfplan, "aws_cloudwatch_log_group")
        assert len(groups) == 5  # three functions, the state machine, the API access logs
        for address, group in groups.items():
            assert group["after"]["retention_in_days"] == days, address


@pytest.mark.slow
def test_prod_media_process_is_the_pinned_container_image(prod_plan: dict[str, Any]) -> None:
    fn = only(prod_plan, "aws_lambda_function", "module.media_process.")["after"]
    assert fn["package_type"] == "Image"
    assert fn["image_uri"] == tf_emulator_plan.PLACEHOLDER_IMAGE
    assert "@sha256:" in fn["image_uri"]
    assert fn["image_config"][0]["command"] == ["media_process.handler.handler"]
    assert not fn.get("filename")
    assert not fn.get("handler")
    assert fn["architectures"] == ["arm64"]
    assert fn["memory_size"] == 2048  # the bench-media memory trade (ADR 0018)
    assert fn["ephemeral_storage"][0]["size"] == 2048
    assert fn["timeout"] == 300
    assert fn["reserved_concurrent_executions"] == 100
    env = fn["environment"][0]["variables"]
    assert int(env["PROCESSING_DEADLINE_SECONDS"]) < fn["timeout"]
    for role in ("init_session", "triage_run"):  # the other two stay zips
        other = only(prod_plan, "aws_lambda_function", f"module.{role}.")["after"]
        assert (other["package_type"], other["runtime"]) == ("Zip", "python3.12")


@pytest.mark.slow
def test_local_without_a_key_uses_the_local_analyzer(plan: dict[str, Any]) -> None:
    fn = only(plan, "aws_lambda_function", "module.triage_run.")["after"]
    env = fn["environment"][0]["variables"]
    # no ANALYZER: triage-run decides by the key, and there is none
    assert not {"ANALYZER", "GEMINI_API_KEY_PARAM", "GEMINI_API_KEY"} & set(env)
    assert [k for k in planned(plan, "aws_ssm_parameter") if "gemini" in k] == []


@pytest.mark.slow
def test_local_with_a_key_keeps_it_in_ssm_and_triages_with_gemini_inline(
    keyed_plan: dict[str, Any],
) -> None:
    name = "/media-triage/local/gemini-api-key"
    param = only(keyed_plan, "aws_ssm_parameter", "gemini")["after"]
    assert (param["name"], param["type"]) == (name, "SecureString")
    fn = only(keyed_plan, "aws_lambda_function", "module.triage_run.")["after"]
    env = fn["environment"][0]["variables"]
    assert (env["GEMINI_API_KEY_PARAM"], env["GEMINI_MEDIA"]) == (name, "inline")
    assert "ANALYZER" not in env  # a key is configured: Gemini
    assert GEMINI_TEST_KEY not in json.dumps(
        [r for r in keyed_plan["resource_changes"] if r["type"] != "aws_ssm_parameter"]
    )
    arn = f"arn:aws:ssm:{ACCOUNT_REGION}:parameter{name}"
    assert ("ssm:GetParameter", arn) in grants(role_policies(keyed_plan)["triage_run"])


@pytest.mark.slow
def test_prod_gemini_key_is_referenced_by_parameter_name_only(prod_plan: dict[str, Any]) -> None:
    fn = only(prod_plan, "aws_lambda_function", "module.triage_run.")["after"]
    env = fn["environment"][0]["variables"]
    assert env["GEMINI_API_KEY_PARAM"] == "/media-triage/prod/gemini-api-key"
    assert "GEMINI_API_KEY" not in env
    param = f"arn:aws:ssm:{PROD_REGION_ACCOUNT}:parameter/media-triage/prod/gemini-api-key"
    assert ("ssm:GetParameter", param) in grants(role_policies(prod_plan)["triage_run"])
    managed = [k for k in planned(prod_plan, "aws_ssm_parameter") if "gemini" in k]
    assert managed == [], "the key is never managed by Terraform"


# ----------------------------------------------------------------------------- ADR 0014


def _env(plan: dict[str, Any], role: str) -> dict[str, str]:
    fn = only(plan, "aws_lambda_function", f"module.{role}.")["after"]
    return dict(fn["environment"][0]["variables"])


@pytest.mark.slow
def test_the_token_secret_is_generated_in_ssm_and_reaches_init_by_name_only(
    plan: dict[str, Any],
) -> None:
    """One SecureString per environment, its value generated at apply (Terraform's uuid(),
    no random provider) and so unknown in the plan; init-session gets its name, and is the
    only role that may read it."""
    (address,) = [k for k in planned(plan, "aws_ssm_parameter") if "token_secret" in k]
    param = planned(plan, "aws_ssm_parameter")[address]
    assert (param["after"]["name"], param["after"]["type"]) == (TOKEN_SECRET, "SecureString")
    assert param["unknown"]["value"] is True
    env = _env(plan, "init_session")
    assert env["TOKEN_SECRET_PARAM"] == TOKEN_SECRET
    assert "TOKEN_SECRET_PREVIOUS_PARAM" not in env  # generation 0 has no previous
    readers = {
        role
        for role, policy in role_policies(plan).items()
        if "ssm:GetParameter" in {a for a, _ in grants(policy)}
    }
    assert readers == {"init_session"}
    # That the value is generated once and never churns (ignore_changes) is proven by the
    # second plan after apply: tests/integration/test_terraform_local.py.


@pytest.mark.slow
def test_a_rotation_adds_a_generation_and_keeps_the_previous_readable(
    workspace: Path, moto_endpoint: str
) -> None:
    rotated = plan_local(workspace, moto_endpoint, "rotated", "-var=token_secret_generation=1")
    names = sorted(p["after"]["name"] for p in planned(rotated, "aws_ssm_parameter").values())
    current, previous = TOKEN_SECRET.replace("g0", "g1"), TOKEN_SECRET
    assert names == [previous, current]
    env = _env(rotated, "init_session")
    assert (env["TOKEN_SECRET_PARAM"], env["TOKEN_SECRET_PREVIOUS_PARAM"]) == (current, previous)
    ssm = {g for g in grants(role_policies(rotated)["init_session"]) if g[0].startswith("ssm:")}
    assert ssm == {
        ("ssm:GetParameter", f"arn:aws:ssm:{ACCOUNT_REGION}:parameter{current}"),
        ("ssm:GetParameter", TOKEN_SECRET_ARN),
    }


@pytest.mark.slow
def test_abuse_limits_reach_init_session(plan: dict[str, Any], prod_plan: dict[str, Any]) -> None:
    prod = _env(prod_plan, "init_session")
    assert json.loads(prod["ALLOWED_MODELS"]) == ["gemini-2.5-flash", "gemini-2.5-flash-lite"]
    assert (prod["RATE_LIMIT_PER_MINUTE"], prod["RATE_LIMIT_BURST"]) == ("10", "20")
    assert prod["MAX_OPEN_JOBS_PER_CLIENT"] == "20"
    assert prod["TOKEN_SECRET_PARAM"] == "/media-triage/prod/token-secret/g0"
    secret = f"arn:aws:ssm:{PROD_REGION_ACCOUNT}:parameter/media-triage/prod/token-secret/g0"
    assert ("ssm:GetParameter", secret) in grants(role_policies(prod_plan)["init_session"])
    # every caller of the emulator is 127.0.0.1: generous there, so tests and fuzzing pass
    local = _env(plan, "init_session")
    assert int(local["RATE_LIMIT_PER_MINUTE"]) >= 10_000
    assert int(local["RATE_LIMIT_BURST"]) >= 1000
    assert int(local["MAX_OPEN_JOBS_PER_CLIENT"]) >= 1000


@pytest.mark.slow
def test_media_process_failures_go_to_an_encrypted_dead_letter_queue(
    plan: dict[str, Any], prod_plan: dict[str, Any]
) -> None:
    for tfplan, dlq in (
        (prod_plan, PROD_DLQ),
        (plan, f"arn:aws:sqs:{ACCOUNT_REGION}:{P}-media-process-dlq"),
    ):
        (config,) = planned(tfplan, "aws_lambda_function_event_invoke_config").values()
        assert config["after"]["maximum_retry_attempts"] == 2
        # The function knows its last attempt (it finalises instead of raising then: ADR 0012).
        fn = only(tfplan, "aws_lambda_function", "module.media_process.")["after"]
        assert fn["environment"][0]["variables"]["ASYNC_RETRY_ATTEMPTS"] == "2"
        (destination,) = config["after"]["destination_config"]
        assert destination["on_failure"][0]["destination"] == dlq
        queue = only(tfplan, "aws_sqs_queue")["after"]
        assert queue["name"] == dlq.rsplit(":", 1)[1]
        assert queue["sqs_managed_sse_enabled"] is True
        assert queue["message_retention_seconds"] == 14 * 24 * 3600
        sender = only(tfplan, "aws_iam_role_policy", "async_destination")["after"]
        assert grants(json.loads(sender["policy"])) == {("sqs:SendMessage", dlq)}


@pytest.mark.slow
def test_prod_alarms_watch_the_dlq_the_state_machine_and_every_function(
    prod_plan: dict[str, Any],
) -> None:
    alarms = [a["after"] for a in planned(prod_plan, "aws_cloudwatch_metric_alarm").values()]
    watched = {
        (a["namespace"], a["metric_name"], next(iter(a["dimensions"].values()))) for a in alarms
    }
    machine = f"arn:aws:states:{PROD_REGION_ACCOUNT}:stateMachine:{PROD}-triage"
    assert watched == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", f"{PROD}-media-process-dlq"),
        (metrics.NAMESPACE, metrics.INVALID_FILES.name, "prod"),  # Environment=prod, ...
        ("AWS/States", "ExecutionsFailed", machine),
        ("AWS/States", "ExecutionsTimedOut", machine),
        *{
            ("AWS/Lambda", metric, f"{PROD}-{fn}")
            for fn in ("media-process", "init-session", "triage-run")
            for metric in ("Errors", "Throttles")
        },
    }
    for alarm in alarms:
        assert alarm["alarm_actions"] == [PROD_TOPIC], alarm["alarm_name"]
        assert alarm["ok_actions"] == [PROD_TOPIC], alarm["alarm_name"]
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["alarm_description"]
    (dlq,) = [a for a in alarms if a["namespace"] == "AWS/SQS"]
    assert (dlq["threshold"], dlq["statistic"]) == (0, "Maximum")
    (internal,) = [a for a in alarms if a["namespace"] == metrics.NAMESPACE]
    assert internal["dimensions"] == {
        "Environment": "prod",
        "Function": "media_process",
        "ErrorCode": MediaErrorCode.INTERNAL.value,  # ADR 0012's last resort
    }
    assert (internal["threshold"], internal["statistic"]) == (0, "Sum")


def dashboard_metrics(plan: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, stat) of every graphed metric of the one dashboard."""
    (dashboard,) = [d["after"] for d in planned(plan, "aws_cloudwatch_dashboard").values()]
    body = json.loads(dashboard["dashboard_body"])
    out = []
    for widget in body["widgets"]:
        assert widget["width"] * widget["height"] <= 8 * 6, widget["properties"]["title"]
        assert widget["x"] + widget["width"] <= 24
        for line in widget["properties"]["metrics"]:
            opts = line[-1] if isinstance(line[-1], dict) else {}
            names = line[: len(line) - (1 if opts else 0)]
            ns, metric, dims = names[0], names[1], dict(zip(names[2::2], names[3::2], strict=True))
            out.append((ns, metric, dims, opts.get("stat", "Average")))
    return out


def test_the_dashboard_graphs_every_metric_the_functions_emit_as_they_emit_it(
    plan: dict[str, Any],
) -> None:
    """Names, dimensions and values from media_triage_shared.metrics (the same catalogue the
    code emits with), the Environment the functions are configured with (APP_ENV)."""
    graphed = [m for m in dashboard_metrics(plan) if m[0] == metrics.NAMESPACE]
    assert {name for _, name, _, _ in graphed} == {m.name for m in metrics.ALL}
    specs = {m.name: m for m in metrics.ALL}
    for _, name, dims, _ in graphed:
        spec = specs[name]
        assert tuple(dims) == spec.dimensions, name
        assert (dims["Environment"], dims["Function"]) == ("local", spec.function)
        if spec.dimension:
            assert dims[spec.dimension] in metrics.DIMENSION_VALUES[spec.dimension]
    statuses = {d["Status"] for _, n, d, _ in graphed if n == metrics.FILES_FINALIZED.name}
    assert statuses == set(metrics.DIMENSION_VALUES["Status"])
    codes = {d["ErrorCode"] for _, n, d, _ in graphed if n == metrics.INVALID_FILES.name}
    assert codes == set(metrics.DIMENSION_VALUES["ErrorCode"])
    tail_stats = {stat for _, n, _, stat in graphed if n == metrics.TAIL.name}
    assert {"p50", "p95"} <= tail_stats
    for role in ("media_process", "triage_run"):
        fn = only(plan, "aws_lambda_function", f"module.{role}.")["after"]
        assert fn["environment"][0]["variables"]["APP_ENV"] == "local"


@pytest.mark.slow
def test_prod_dashboard_graphs_every_alarmed_metric(prod_plan: dict[str, Any]) -> None:
    graphed = {
        (ns, name, tuple(sorted(d.items()))) for ns, name, d, _ in dashboard_metrics(prod_plan)
    }
    alarms = [a["after"] for a in planned(prod_plan, "aws_cloudwatch_metric_alarm").values()]
    for alarm in alarms:
        key = (alarm["namespace"], alarm["metric_name"], tuple(sorted(alarm["dimensions"].items())))
        assert key in graphed, alarm["alarm_name"]


# ----------------------------------------------------------------------------- the web page

PROD_WEB_BUCKET = f"arn:aws:s3:::{PROD}-web"
PROD_MEDIA_ORIGINS = (
    f"https://{PROD}-media.s3.amazonaws.com",
    f"https://{PROD}-media.s3.eu-west-1.amazonaws.com",
)
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed cache policy
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # managed origin request policy
SITE_FILES = {  # write_fake_site's page: key -> (Content-Type, Cache-Control)
    "index.html": ("text/html; charset=utf-8", "no-cache"),
    "assets/app-1a2b.js": ("text/javascript; charset=utf-8", "public, max-age=31536000, immutable"),
    "assets/app-1a2b.css": ("text/css; charset=utf-8", "public, max-age=31536000, immutable"),
    "favicon.ico": ("image/x-icon", "no-cache"),
}


def expected_csp(media_origins: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' {media_origins} blob: data:; media-src 'self' {media_origins} blob:; "
        f"connect-src 'self' {media_origins}; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'none'"
    )


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in csp.split("; ")}


def configured(plan: dict[str, Any], *modules: str) -> dict[str, Any]:
    """The configuration of a module (plan JSON `configuration`) by its call path."""
    module: dict[str, Any] = plan["configuration"]["root_module"]
    for name in modules:
        module = module["module_calls"][name]["module"]
    return module


def configured_resource(plan: dict[str, Any], address: str, *modules: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        r for r in configured(plan, *modules)["resources"] if r["address"] == address
    ]
    assert len(found) == 1, address
    return found[0]


def env_of(plan: dict[str, Any], role: str) -> dict[str, str]:
    fn = only(plan, "aws_lambda_function", f"module.{role}.")["after"]
    variables: dict[str, str] = fn["environment"][0]["variables"]
    return variables


def assert_config_matches_the_functions(config: dict[str, Any], plan: dict[str, Any]) -> None:
    """config.json tells the page the limits the functions of the same plan enforce."""
    api, media = env_of(plan, "init_session"), env_of(plan, "media_process")
    assert config["maxFiles"] == MAX_FILES
    assert config["maxFileBytes"] == int(api["MAX_FILE_BYTES"])
    assert config["multipartThresholdBytes"] == int(api["MULTIPART_THRESHOLD_BYTES"])
    assert config["maxPhotoBytes"] == int(media["MAX_PHOTO_BYTES"])
    assert config["maxVideoBytes"] == int(media["MAX_VIDEO_BYTES"])
    assert sorted(config["acceptedTypes"]) == sorted(PHOTO_TYPES | VIDEO_TYPES)
    assert set(config) == {
        "apiBase",
        "maxFiles",
        "maxFileBytes",
        "multipartThresholdBytes",
        "maxPhotoBytes",
        "maxVideoBytes",
        "acceptedTypes",
        "env",
    }


@pytest.fixture(scope="module")
def local_web_plan(workspace: Path, moto_endpoint: str) -> dict[str, Any]:
    """envs/local planned once its HTTP API exists (created alone with -target): config.json's
    apiBase names the API's id, so its content is known in this plan."""
    env_dir, data_dir = initialised(workspace, "local", backend=True)
    stem = workspace / "web-local"
    variables = (
        f"-var=endpoint={moto_endpoint}",
        f"-var=artifacts_dir={workspace / 'build'}",
        f"-var=web_site_dir={workspace / 'site'}",
    )
    tf(
        "apply",
        "-input=false",
        "-no-color",
        "-lock=false",
        "-auto-approve",
        f"-state={stem.with_suffix('.tfstate')}",
        "-target=module.media_triage.module.http_api.aws_apigatewayv2_api.this",
        *variables,
        cwd=env_dir,
        data_dir=data_dir,
    )
    return plan_json(env_dir, data_dir, stem, *variables)


@pytest.mark.slow
def test_local_page_files_are_uploaded_with_their_type_and_caching(
    plan: dict[str, Any], workspace: Path
) -> None:
    objects = {o["after"]["key"]: o["after"] for o in planned(plan, "aws_s3_object").values()}
    site = {k: v for k, v in objects.items() if k not in {"config.json", "_site/headers.json"}}
    assert set(site) == set(SITE_FILES)  # the build's stale config.json and _site/ are not
    for key, (content_type, cache_control) in SITE_FILES.items():
        assert (site[key]["content_type"], site[key]["cache_control"]) == (
            content_type,
            cache_control,
        )
        # A rebuilt file (new content) is uploaded again.
        content = (workspace / "site" / key).read_bytes()
        assert site[key]["source_hash"] == hashlib.md5(content).hexdigest()  # noqa: S324
    assert objects["config.json"]["cache_control"] == "no-cache"
    assert objects["config.json"]["content_type"] == "application/json"
    assert len(planned(plan, "aws_s3_object")) == len(SITE_FILES) + 2


@pytest.mark.slow
def test_local_page_is_served_by_the_emulator_with_the_security_headers(
    plan: dict[str, Any], moto_endpoint: str
) -> None:
    port = moto_endpoint.rsplit(":", 1)[1]
    assert not [r for r in plan["resource_changes"] if r["type"].startswith("aws_cloudfront_")]
    assert plan["output_changes"]["web_url"]["after"] == (
        f"http://localhost:{port}/_aws/site/{P}-web/"
    )
    headers_object = only(plan, "aws_s3_object", "headers")["after"]
    assert headers_object["key"] == "_site/headers.json"
    headers = json.loads(headers_object["content"])
    # The page is on localhost, the presigned S3 URLs on 127.0.0.1: another origin.
    assert headers["Content-Security-Policy"] == expected_csp(f"http://127.0.0.1:{port}")
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Permissions-Policy" in headers
    assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS would mean nothing
    # Browser uploads are cross-origin: the media bucket allows exactly the page's origin,
    # and so does the API (the emulator serves it on the page's origin anyway).
    (cors,) = only(plan, "aws_s3_bucket_cors_configuration")["after"]["cors_rule"]
    assert cors["allowed_origins"] == [f"http://localhost:{port}"]
    (api_cors,) = only(plan, "aws_apigatewayv2_api")["after"]["cors_configuration"]
    assert api_cors["allow_origins"] == [f"http://localhost:{port}"]
    # Private like every bucket: no public access, and its policy allows nobody.
    block = only(plan, "aws_s3_bucket_public_access_block", "module.web.")["after"]
    assert all(v is True for k, v in block.items() if k != "bucket")
    policy = json.loads(only(plan, "aws_s3_bucket_policy", "module.web.")["after"]["policy"])
    assert [s["Effect"] for s in policy["Statement"]] == ["Deny"]


@pytest.mark.slow
def test_local_config_json_names_the_api_and_the_functions_limits(
    local_web_plan: dict[str, Any],
) -> None:
    api = only(local_web_plan, "aws_apigatewayv2_api")["after"]
    config_object = only(local_web_plan, "aws_s3_object", ".config")
    assert not config_object["unknown"].get("content"), "config.json is known at plan time"
    config = json.loads(config_object["after"]["content"])
    assert config["apiBase"] == f"/_aws/execute-api/{api['id']}"
    assert config["env"] == "local"
    assert_config_matches_the_functions(config, local_web_plan)


@pytest.mark.slow
def test_a_page_file_without_a_known_type_is_refused_at_plan(
    workspace: Path, moto_endpoint: str
) -> None:
    site = write_fake_site(workspace / "site-with-map")
    (site / "assets" / "app-1a2b.js.map").write_text("{}")
    with pytest.raises(pytest.fail.Exception, match="no Content-Type for this extension"):
        plan_local(workspace, moto_endpoint, "site-with-map", f"-var=web_site_dir={site}")


@pytest.mark.slow
def test_prod_page_bucket_is_private_and_read_only_by_its_distribution(
    prod_plan: dict[str, Any],
) -> None:
    assert only(prod_plan, "aws_s3_bucket", "module.web.")["after"]["bucket"] == f"{PROD}-web"
    block = only(prod_plan, "aws_s3_bucket_public_access_block", "module.web.")["after"]
    assert all(v is True for k, v in block.items() if k != "bucket")
    ownership = only(prod_plan, "aws_s3_bucket_ownership_controls", "module.web.")["after"]
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    sse = only(prod_plan, "aws_s3_bucket_server_side_encryption_configuration", "module.web.")
    assert sse["after"]["rule"][0]["apply_server_side_encryption_by_default"][0][
        "sse_algorithm"
    ] == ("AES256")
    # The policy names the distribution, created in the same apply: reviewed from its document.
    address = "module.media_triage.module.web.module.bucket.aws_s3_bucket_policy.this"
    assert planned(prod_plan, "aws_s3_bucket_policy")[address]["unknown"]["policy"] is True
    document = deferred_policy_document(prod_plan, address)
    assert document is not None
    (deny,) = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert (deny["Principal"], as_list(deny["Action"])) == ("*", ["s3:*"])
    assert set(as_list(deny["Resource"])) == {PROD_WEB_BUCKET, f"{PROD_WEB_BUCKET}/*"}
    (allow,) = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": ["cloudfront.amazonaws.com"]}
    assert (as_list(allow["Action"]), as_list(allow["Resource"])) == (
        ["s3:GetObject"],
        [f"{PROD_WEB_BUCKET}/*"],
    )
    # ...only for requests of this distribution: SourceArn = its ARN, the one value of the
    # document known only at apply, given by modules/web to modules/private_bucket.
    read = planned(prod_plan, "aws_iam_policy_document")[
        "module.media_triage.module.web.module.bucket.data.aws_iam_policy_document.this"
    ]
    (_, allow_block) = read["after"]["statement"]
    (condition,) = allow_block["condition"]
    assert (condition["test"], condition["variable"]) == ("StringEquals", "AWS:SourceArn")
    assert read["unknown"]["statement"][1]["condition"] == [{"values": [True]}]
    call = configured(prod_plan, "media_triage", "web")["module_calls"]["bucket"]
    references = call["expressions"]["policy_statements"]["references"]
    assert "aws_cloudfront_distribution.this[0].arn" in references
    assert {r.split(".")[0] for r in references} <= {"var", "aws_cloudfront_distribution"}
    assert policy_violations(prod_plan) == []


@pytest.mark.slow
def test_prod_cloudfront_serves_the_page_through_oac_and_the_api_on_the_same_origin(
    prod_plan: dict[str, Any],
) -> None:
    oac = only(prod_plan, "aws_cloudfront_origin_access_control")["after"]
    assert (oac["origin_access_control_origin_type"], oac["signing_behavior"]) == ("s3", "always")
    assert oac["signing_protocol"] == "sigv4"
    dist = only(prod_plan, "aws_cloudfront_distribution")
    after = dist["after"]
    assert after["enabled"] is True
    assert after["default_root_object"] == "index.html"
    assert after["price_class"] == "PriceClass_100"
    origins = {o["origin_id"]: o for o in after["origin"]}
    assert set(origins) == {"web-bucket", "http-api"}
    assert origins["web-bucket"]["s3_origin_config"] == []  # no legacy OAI: OAC
    (api_origin,) = origins["http-api"]["custom_origin_config"]
    assert api_origin["origin_protocol_policy"] == "https-only"
    assert api_origin["origin_ssl_protocols"] == ["TLSv1.2"]
    # The OAC signs the bucket origin; the API origin is the HTTP API's endpoint.
    (web_origin, _) = configured_resource(
        prod_plan, "aws_cloudfront_distribution.this", "media_triage", "web"
    )["expressions"]["origin"]
    assert (
        "aws_cloudfront_origin_access_control.this[0].id"
        in (web_origin["origin_access_control_id"]["references"])
    )
    call = configured(prod_plan, "media_triage")["module_calls"]["web"]
    assert "module.http_api.api_endpoint" in call["expressions"]["api_endpoint"]["references"]

    (default,) = after["default_cache_behavior"]
    assert default["target_origin_id"] == "web-bucket"
    assert default["viewer_protocol_policy"] == "redirect-to-https"
    assert set(default["allowed_methods"]) == {"GET", "HEAD"}
    (api,) = after["ordered_cache_behavior"]
    assert (api["path_pattern"], api["target_origin_id"]) == ("/api/*", "http-api")
    assert set(api["allowed_methods"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
        "POST",
        "PATCH",
        "DELETE",
    }
    assert api["cache_policy_id"] == CACHING_DISABLED
    assert api["origin_request_policy_id"] == ALL_VIEWER_EXCEPT_HOST
    assert api["viewer_protocol_policy"] == "https-only"
    # Both behaviours send the security headers (the policy's id is known once it exists).
    expressions = configured_resource(
        prod_plan, "aws_cloudfront_distribution.this", "media_triage", "web"
    )["expressions"]
    for behaviour in ("default_cache_behavior", "ordered_cache_behavior"):
        (block,) = expressions[behaviour]
        assert (
            "aws_cloudfront_response_headers_policy.this[0].id"
            in (block["response_headers_policy_id"]["references"])
        ), behaviour
    assert dist["unknown"]["default_cache_behavior"][0]["response_headers_policy_id"] is True


@pytest.mark.slow
def test_prod_security_headers_forbid_inline_code_and_third_parties(
    prod_plan: dict[str, Any],
) -> None:
    policy = only(prod_plan, "aws_cloudfront_response_headers_policy")["after"]
    (security,) = policy["security_headers_config"]
    (csp,) = security["content_security_policy"]
    assert csp["override"] is True
    assert csp["content_security_policy"] == expected_csp(" ".join(PROD_MEDIA_ORIGINS))
    parsed = directives(csp["content_security_policy"])
    assert "'unsafe-inline'" not in csp["content_security_policy"]
    assert "'unsafe-eval'" not in csp["content_security_policy"]
    assert parsed["script-src"] == ["'self'"]
    assert parsed["connect-src"] == ["'self'", *PROD_MEDIA_ORIGINS]
    (hsts,) = security["strict_transport_security"]
    assert hsts["access_control_max_age_sec"] >= 31536000
    assert (hsts["include_subdomains"], hsts["override"]) == (True, True)
    assert security["referrer_policy"][0]["referrer_policy"] == "no-referrer"
    assert security["content_type_options"][0]["override"] is True
    assert security["frame_options"][0]["frame_option"] == "DENY"
    (custom,) = policy["custom_headers_config"]
    assert [i["header"] for i in custom["items"]] == ["Permissions-Policy"]
    # CloudFront sends them: no _site/headers.json for an emulator.
    assert not [o for o in planned(prod_plan, "aws_s3_object") if "headers" in o]


@pytest.mark.slow
def test_prod_media_bucket_cors_is_exactly_the_distribution_origin(
    prod_plan: dict[str, Any],
) -> None:
    bucket_cors = only(prod_plan, "aws_s3_bucket_cors_configuration")
    (rule,) = bucket_cors["after"]["cors_rule"]
    assert set(rule["allowed_methods"]) == {"POST", "PUT", "GET", "HEAD"}
    assert rule["expose_headers"] == ["ETag"]
    # The distribution's domain is assigned at create: the plan shows where it comes from.
    assert bucket_cors["unknown"]["cors_rule"][0]["allowed_origins"] is True
    storage = configured(prod_plan, "media_triage")["module_calls"]["storage"]
    assert set(storage["expressions"]["cors_allowed_origins"]["references"]) == {
        "module.web.web_origin",
        "module.web",
        "var.extra_web_origins",
    }
    assert prod_plan["variables"]["extra_web_origins"]["value"] == []
    origin = configured(prod_plan, "media_triage", "web")["outputs"]["web_origin"]
    assert "aws_cloudfront_distribution.this[0].domain_name" in (origin["expression"]["references"])


@pytest.mark.slow
def test_prod_config_json_uses_the_same_origin_api_and_the_functions_limits(
    prod_plan: dict[str, Any],
) -> None:
    config = json.loads(only(prod_plan, "aws_s3_object", ".config")["after"]["content"])
    assert (config["apiBase"], config["env"]) == ("", "prod")
    assert_config_matches_the_functions(config, prod_plan)


# ----------------------------------------------------------------------------- the checks fail


def _plan_of(*resources: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """A hand-written `terraform show -json` with the given (address, type, after)."""
    return {
        "resource_changes": [
            {
                "address": address,
                "mode": "managed",
                "type": rtype,
                "change": {"actions": ["create"], "after": after, "after_unknown": {}},
            }
            for address, rtype, after in resources
        ]
    }


def _role_policy(address: str, *statements: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return address, "aws_iam_role_policy", {"name": "x", "policy": json.dumps(document)}


GOOD_BUCKET = "arn:aws:s3:::media-triage-prod-media"
MP = "module.media_triage.module.media_process.aws_iam_role_policy.this[0]"
TR = "module.media_triage.module.triage_run.aws_iam_role_policy.this[0]"


def test_policy_violations_accept_a_least_privilege_plan() -> None:
    good = _plan_of(
        _role_policy(
            MP,
            {
                "Sid": "R",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{GOOD_BUCKET}/uploads/*",
            },
            {
                "Sid": "W",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": f"{GOOD_BUCKET}/derived/*",
            },
        ),
        _role_policy(
            TR,
            {
                "Sid": "DeliverExecutionLogs",
                "Effect": "Allow",
                "Action": "logs:GetLogDelivery",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/t",
            },
        ),
    )
    assert policy_violations(good) == []


def test_policy_violations_report_every_wildcard_of_a_bad_plan() -> None:
    """A deliberately bad plan: each problem is reported, naming the resource and statement."""
    bucket_policy = {
        "Statement": [
            {
                "Sid": "Public",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{GOOD_BUCKET}/*",
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
            },
        ]
    }
    bad = _plan_of(
        _role_policy(
            TR,
            {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Sid": "AllS3",
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": f"{GOOD_BUCKET}/uploads/*",
            },
            {
                "Sid": "Tables",
                "Effect": "Allow",
                "Action": "dynamodb:Get*",
                "Resource": "arn:aws:dynamodb:*:*:table/*",
            },
            {"Sid": "Not", "Effect": "Allow", "NotAction": "iam:*", "Resource": f"{GOOD_BUCKET}/x"},
            {
                "Sid": "DeliverExecutionLogs",
                "Effect": "Allow",
                "Action": ["logs:GetLogDelivery", "s3:GetObject"],
                "Resource": "*",
            },
        ),
        _role_policy(
            MP,
            {
                "Sid": "ReadDerived",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{GOOD_BUCKET}/derived/*",
            },
            {
                "Sid": "WriteUploads",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{GOOD_BUCKET}/uploads/*",
            },
            {
                "Sid": "DeleteAll",
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": [f"{GOOD_BUCKET}/derived/*", f"{GOOD_BUCKET}/web/*"],
            },
        ),
        (
            "module.storage.aws_s3_bucket_policy.this",
            "aws_s3_bucket_policy",
            {"policy": json.dumps(bucket_policy)},
        ),
        (
            "module.x.aws_iam_role_policy_attachment.admin",
            "aws_iam_role_policy_attachment",
            {"policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        ("module.x.aws_lambda_permission.any", "aws_lambda_permission", {"principal": "*"}),
    )
    # A policy only known after apply cannot be reviewed: refused too.
    unknown = _role_policy("module.y.aws_iam_role_policy.logs")
    unknown[2]["policy"] = None
    bad["resource_changes"].append(
        {
            "address": unknown[0],
            "mode": "managed",
            "type": unknown[1],
            "change": {
                "actions": ["create"],
                "after": unknown[2],
                "after_unknown": {"policy": True},
            },
        }
    )
    problems = "\n".join(policy_violations(bad))
    expected = [
        "statement Admin: wildcard action *",
        "statement Admin: Resource *",
        "statement AllS3: wildcard action s3:*",
        "statement Tables: wildcard action dynamodb:Get*",
        "statement Tables: wildcard in the partition, service, region or account",
        "statement Not: Allow with NotAction",
        "statement DeliverExecutionLogs: Resource * with actions outside its allow-list: "
        "['s3:GetObject']",
        "statement ReadDerived: media-process may only read uploads/*, write derived/* and "
        f"delete in both, not s3:GetObject on {GOOD_BUCKET}/derived/*",
        "statement WriteUploads: media-process may only read uploads/*, write derived/* and "
        f"delete in both, not s3:PutObject on {GOOD_BUCKET}/uploads/*",
        "statement DeleteAll: media-process may only read uploads/*, write derived/* and "
        f"delete in both, not s3:DeleteObject on {GOOD_BUCKET}/web/*",
        "statement Public: allows a public principal (*)",
        "aws_iam_role_policy_attachment.admin: managed policy attachment",
        "aws_lambda_permission.any: invocable by any principal",
        "module.y.aws_iam_role_policy.logs: policy is unknown at plan time",
    ]
    for text in expected:
        assert text in problems, f"not reported: {text}\n{problems}"
    assert "TlsOnly" not in problems  # a Deny on s3:* only takes away


@pytest.mark.parametrize(
    ("resource", "exact"),
    [
        ("arn:aws:s3:::b/uploads/*", True),
        ("arn:aws:states:eu-west-1:1:execution:machine:*", True),
        ("arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/fn:*", True),
        ("arn:aws:lambda:eu-west-1:1:function:fn:*", True),
        ("arn:aws:sqs:eu-west-1:1:queue", True),
        ("*", False),
        ("arn:aws:s3:::*", False),
        ("arn:aws:s3:::media-*", False),
        ("arn:aws:s3:::b/*/thumb.jpg", False),
        ("arn:aws:lambda:eu-west-1:1:function:*", False),
        ("arn:aws:lambda:*:1:function:fn", False),
        ("arn:aws:logs:eu-west-1:1:log-group:*", False),
        ("arn:aws:dynamodb:eu-west-1:1:table/media-?", False),
        ("media-bucket", False),
    ],
)
def test_exact_arns(resource: str, exact: bool) -> None:
    assert (arn_problem(resource) is None) is exact, arn_problem(resource)


def test_every_checkov_skip_is_justified() -> None:
    """`make checkov` (part of `make lint`) skips only checks with a reason right above them."""
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    start = lines.index("skip-check:")
    entries = [n for n in range(start + 1, len(lines)) if lines[n].strip().startswith("- ")]
    assert entries, "the skip list is where the decisions are"
    for n in entries:
        check = lines[n].strip()[2:]
        assert check.startswith(("CKV_", "CKV2_")), check  # CKV2_: graph (multi-resource) checks
        comment = lines[n - 1].strip()
        assert comment.startswith("#"), f"{check} is skipped without a justification"
        assert len(comment.split()) >= 6, f"{check}: say why, not just what"


def _deferred_bucket_policy_plan(
    *statements: dict[str, Any], unknown: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A plan whose bucket policy is unknown at plan time, made from a deferred read of a
    policy document with these statement blocks."""
    address = "module.web.aws_s3_bucket_policy.this"
    plan = _plan_of((address, "aws_s3_bucket_policy", {"policy": None}))
    plan["resource_changes"][0]["change"]["after_unknown"] = {"policy": True}
    plan["resource_changes"].append(
        {
            "address": "module.web.data.aws_iam_policy_document.read[0]",
            "mode": "data",
            "type": "aws_iam_policy_document",
            "change": {
                "actions": ["read"],
                "after": {"statement": list(statements)},
                "after_unknown": unknown
                or {"json": True, "statement": [{"condition": [{"values": [True]}]}]},
            },
        }
    )
    policy_refs = ["data.aws_iam_policy_document.read[0].json"]
    plan["configuration"] = {
        "root_module": {
            "module_calls": {
                "web": {
                    "module": {
                        "resources": [
                            {
                                "address": "aws_s3_bucket_policy.this",
                                "expressions": {"policy": {"references": policy_refs}},
                            }
                        ]
                    }
                }
            }
        }
    }
    return plan


def _read_statement(principal_type: str, principal: str) -> dict[str, Any]:
    return {
        "sid": "Read",
        "effect": "Allow",
        "actions": ["s3:GetObject"],
        "resources": [f"{GOOD_BUCKET}/*"],
        "principals": [{"type": principal_type, "identifiers": [principal]}],
        "condition": [{"test": "StringEquals", "variable": "AWS:SourceArn", "values": [None]}],
    }


def test_a_policy_deferred_only_by_a_condition_value_is_reviewed_from_its_document() -> None:
    good = _deferred_bucket_policy_plan(_read_statement("Service", "cloudfront.amazonaws.com"))
    assert policy_violations(good) == []
    public = _deferred_bucket_policy_plan(_read_statement("*", "*"))
    assert any("statement Read: allows a public principal" in p for p in policy_violations(public))
    wildcard = _read_statement("Service", "cloudfront.amazonaws.com") | {"actions": ["s3:*"]}
    problems = policy_violations(_deferred_bucket_policy_plan(wildcard))
    assert any("wildcard action s3:*" in p for p in problems)
    # An unknown action (not just a condition value) cannot be reviewed: refused.
    unknown_action = _deferred_bucket_policy_plan(
        _read_statement("Service", "cloudfront.amazonaws.com"),
        unknown={"json": True, "statement": [{"actions": True}]},
    )
    assert any("unknown at plan time" in p for p in policy_violations(unknown_action))


def _tf_resources(module: str) -> set[str]:
    text = (ROOT / "terraform" / "modules" / module / "main.tf").read_text()
    return {f"{t}.{n}" for t, n in re.findall(r'^resource "(\w+)" "(\w+)"', text, flags=re.M)}


def _moved(module: str) -> dict[str, str]:
    text = (ROOT / "terraform" / "modules" / module / "main.tf").read_text()
    pairs = re.findall(r"^moved \{\s*from = (\S+)\s*to\s*= (\S+)\s*\}", text, flags=re.M)
    return dict(pairs)


@pytest.mark.parametrize(
    ("caller", "not_used"),
    [("storage", set()), ("web", {"aws_s3_bucket_lifecycle_configuration.this"})],
)
def test_the_private_bucket_moves_each_callers_old_resources_into_the_module(
    caller: str, not_used: set[str]
) -> None:
    """Existing state follows the hardening into modules/private_bucket (moved blocks, no
    destroy/recreate): every bucket resource the caller had moves to the same name under
    module.bucket, and the caller declares none of them itself any more."""
    inner = _tf_resources("private_bucket")
    moved = _moved(caller)
    assert moved == {r: f"module.bucket.{r}" for r in inner - not_used}
    assert not _tf_resources(caller) & inner
