"""The Terraform: formatted, valid for every env root, and least privilege in the plan.

The roots are initialised (offline, through the provider mirror of terraform/cli.tfrc) in a
temporary copy of terraform/ and statemachine/, so the repository gets no .terraform/ or lock
file. The plan tests plan terraform/envs/local against a bare moto server (only STS is called
while planning) and read `terraform show -json`: every function's IAM policy is fully known
at plan time, so least privilege is proven here without deploying anything.
"""

from __future__ import annotations

import json
import os
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

ROOT = Path(__file__).resolve().parents[2]
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

CONTRACT_ROUTES = {
    "POST /api/triage/init",
    "POST /api/triage/{jobId}/uploads",
    "POST /api/triage/{jobId}/multipart/complete",
    "POST /api/triage/{jobId}/multipart/abort",
    "PATCH /api/triage/{jobId}",
    "DELETE /api/triage/{jobId}",
    "GET /api/triage/{jobId}/results",
    "POST /api/triage/{jobId}/retry",
    "GET /api/openapi.json",
    "$default",
}
COMMON_ENV = {"MEDIA_BUCKET", "SESSIONS_TABLE", "FILES_TABLE", "LOG_LEVEL", "APP_ENV"}
FUNCTIONS = {
    # role -> (handler, environment variables the contract requires)
    "media_process": (
        "media_process.handler.handler",
        COMMON_ENV | {"FILE_TTL_HOURS", "PROCESSING_DEADLINE_SECONDS"},
    ),
    "init_session": (
        "init_session.handler.handler",
        COMMON_ENV | {"STATE_MACHINE_ARN", "MULTIPART_THRESHOLD_BYTES", "STALL_TIMEOUT_SECONDS"},
    ),
    "triage_run": ("triage_run.handler.handler", COMMON_ENV | {"GEMINI_MODEL"}),
}

# Every (action, resource) each role may use: nothing more, nothing less.
EXPECTED_GRANTS: dict[str, set[tuple[str, str]]] = {
    "media_process": {
        ("s3:GetObject", UPLOADS),
        ("s3:PutObject", DERIVED),
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
# Statements AWS documents with Resource "*" (the actions have no resource-level permissions).
RESOURCE_STAR_SIDS = {"DeliverExecutionLogs", "WriteTraces"}


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
    return root


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


@pytest.fixture(scope="module")
def plan(workspace: Path, moto_endpoint: str) -> dict[str, Any]:
    env_dir, data_dir = initialised(workspace, "local", backend=True)
    out = workspace / "local.tfplan"
    tf(
        "plan",
        "-input=false",
        "-no-color",
        "-lock=false",
        f"-out={out}",
        f"-state={workspace / 'plan.tfstate'}",
        f"-var=endpoint={moto_endpoint}",
        f"-var=artifacts_dir={workspace / 'build'}",
        "-var=object_expiration_days=1",
        cwd=env_dir,
        data_dir=data_dir,
    )
    shown = tf("show", "-json", str(out), cwd=env_dir, data_dir=data_dir)
    result: dict[str, Any] = json.loads(shown.stdout)
    return result


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
    for role, policy in policies.items():
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{role}: wildcard action {action}"
            if statement.get("Sid") in RESOURCE_STAR_SIDS:
                continue
            for resource in as_list(statement["Resource"]):
                assert resource != "*", f"{role}: Resource * in {statement.get('Sid')}"


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


@pytest.mark.slow
def test_bucket_is_private_encrypted_short_lived_and_browser_uploadable(
    plan: dict[str, Any],
) -> None:
    assert only(plan, "aws_s3_bucket")["after"]["bucket"] == f"{P}-media"
    block = only(plan, "aws_s3_bucket_public_access_block")["after"]
    assert all(
        block[k]
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    ownership = only(plan, "aws_s3_bucket_ownership_controls")["after"]
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    sse = only(plan, "aws_s3_bucket_server_side_encryption_configuration")["after"]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == (
        "AES256"
    )
    (rule,) = only(plan, "aws_s3_bucket_lifecycle_configuration")["after"]["rule"]
    assert rule["status"] == "Enabled"
    assert rule["expiration"][0]["days"] == 1
    assert rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1
    (cors,) = only(plan, "aws_s3_bucket_cors_configuration")["after"]["cors_rule"]
    assert {"POST", "PUT"} <= set(cors["allowed_methods"])
    assert "ETag" in cors["expose_headers"]


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
