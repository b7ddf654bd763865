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
sys.path.insert(0, str(ROOT / "devtools"))

import tf_emulator_plan  # noqa: E402 - devtools/ is not a package
from tf_policy import RESOURCE_STAR_SIDS, arn_problem, policy_violations  # noqa: E402

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
        COMMON_ENV | {"FILE_TTL_HOURS", "PROCESSING_DEADLINE_SECONDS", "STATE_MACHINE_ARN"},
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


def plan_local(workspace: Path, endpoint: str, name: str, *variables: str) -> dict[str, Any]:
    env_dir, data_dir = initialised(workspace, "local", backend=True)
    return plan_json(
        env_dir,
        data_dir,
        workspace / name,
        f"-var=endpoint={endpoint}",
        f"-var=artifacts_dir={workspace / 'build'}",
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
PROD_ORIGINS = ["https://media-triage.example.com"]  # terraform/envs/prod/terraform.tfvars


@pytest.fixture(scope="module")
def prod_plan(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> dict[str, Any]:
    """terraform/envs/prod with its terraform.tfvars, planned against moto through the same
    override `make plan-env ENV=prod EMULATOR=1` writes (local backend, provider endpoints)."""
    return plan_prod(tmp_path_factory, moto_endpoint)


JWT = '{issuer = "https://id.example.com/", audience = ["media-triage"]}'


@pytest.fixture(scope="module")
def prod_jwt_plan(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> dict[str, Any]:
    return plan_prod(tmp_path_factory, moto_endpoint, f"-var=api_jwt_authorizer={JWT}")


def plan_prod(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, *variables: str
) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("prod")
    env_dir = tf_emulator_plan.prepare("prod", moto_endpoint, work, source=ROOT)
    assert (env_dir / "emulator_override.tf").is_file()
    (work / "build").mkdir()
    for fn in FUNCTIONS:
        write_stub_zip(work / "build" / f"{fn}.zip", fn)
    data_dir = work / ".tfdata"
    tf("init", "-input=false", "-no-color", cwd=env_dir, data_dir=data_dir)
    return plan_json(
        env_dir,
        data_dir,
        work / "prod",
        f"-var=artifacts_dir={work / 'build'}",
        f"-var=media_process_image_uri={tf_emulator_plan.PLACEHOLDER_IMAGE}",
        f"-var=alarm_sns_topic_arn={PROD_TOPIC}",
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
    assert "x-identity-token" in cors["allow_headers"]
    assert "authorization" in cors["allow_headers"]  # the session token still travels there
    before = only(prod_plan, "aws_apigatewayv2_api")["after"]["cors_configuration"][0]
    assert "x-identity-token" not in before["allow_headers"]


@pytest.mark.slow
def test_a_jwt_in_the_session_tokens_header_is_refused_at_plan(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str
) -> None:
    bad = JWT.replace("}", ', identity_source = "$request.header.Authorization"}')
    with pytest.raises(pytest.fail.Exception, match="carries the session token"):
        plan_prod(tmp_path_factory, moto_endpoint, f"-var=api_jwt_authorizer={bad}")


def all_policies(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """address -> document of every IAM role policy and bucket policy (known at plan time)."""
    out = {}
    for rtype in ("aws_iam_role_policy", "aws_s3_bucket_policy"):
        for address, res in planned(plan, rtype).items():
            assert res["unknown"].get("policy") is not True, f"{address}: unknown at plan"
            out[address] = json.loads(res["after"]["policy"])
    return out


@pytest.mark.slow
def test_prod_plan_has_no_policy_violations(prod_plan: dict[str, Any]) -> None:
    # Every policy is known at plan time: the role policies of the three functions (logs,
    # least-privilege, media-process's DLQ grant), the state machine's and the bucket policy.
    policies = all_policies(prod_plan)
    assert len(policies) == 9
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
    }
    # ...and nothing else that touches S3 in any of its policies.
    for address, document in all_policies(prod_plan).items():
        if "module.media_process." in address and not address.endswith("this[0]"):
            assert not any(a.startswith("s3:") for a, _ in grants(document)), address


@pytest.mark.slow
def test_prod_bucket_blocks_public_access_enforces_tls_and_encrypts(
    prod_plan: dict[str, Any],
) -> None:
    block = only(prod_plan, "aws_s3_bucket_public_access_block")["after"]
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls")
    assert all(block[k] is True for k in (*flags, "restrict_public_buckets"))
    sse = only(prod_plan, "aws_s3_bucket_server_side_encryption_configuration")["after"]
    algorithm = sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
    assert algorithm in {"AES256", "aws:kms"}
    policy = json.loads(only(prod_plan, "aws_s3_bucket_policy")["after"]["policy"])
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] in ("*", {"AWS": "*"})
    assert as_list(deny["Action"]) == ["s3:*"]
    assert set(as_list(deny["Resource"])) == {PROD_BUCKET, f"{PROD_BUCKET}/*"}
    assert not [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert only(prod_plan, "aws_s3_bucket")["after"]["force_destroy"] is False


@pytest.mark.slow
def test_prod_api_is_throttled_and_cors_is_limited_to_the_configured_origins(
    prod_plan: dict[str, Any],
) -> None:
    stage = only(prod_plan, "aws_apigatewayv2_stage")["after"]
    (settings,) = stage["default_route_settings"]
    assert (settings["throttling_burst_limit"], settings["throttling_rate_limit"]) == (200, 100)
    (cors,) = only(prod_plan, "aws_apigatewayv2_api")["after"]["cors_configuration"]
    assert cors["allow_origins"] == PROD_ORIGINS
    (bucket_cors,) = only(prod_plan, "aws_s3_bucket_cors_configuration")["after"]["cors_rule"]
    assert bucket_cors["allowed_origins"] == PROD_ORIGINS
    assert "*" not in cors["allow_origins"] + bucket_cors["allowed_origins"]
    assert stage["access_log_settings"], "the API logs every request"


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
    assert 1024 <= fn["memory_size"] <= 4096
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
    assert not planned(plan, "aws_ssm_parameter")


@pytest.mark.slow
def test_local_with_a_key_keeps_it_in_ssm_and_triages_with_gemini_inline(
    keyed_plan: dict[str, Any],
) -> None:
    name = "/media-triage/local/gemini-api-key"
    param = only(keyed_plan, "aws_ssm_parameter")["after"]
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
    assert not planned(prod_plan, "aws_ssm_parameter"), "the key is never managed by Terraform"


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
        "statement ReadDerived: media-process may only read uploads/* and write derived/*, "
        f"not s3:GetObject on {GOOD_BUCKET}/derived/*",
        f"statement WriteUploads: media-process may only read uploads/* and write derived/*, "
        f"not s3:PutObject on {GOOD_BUCKET}/uploads/*",
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
        assert check.startswith("CKV_"), check
        comment = lines[n - 1].strip()
        assert comment.startswith("#"), f"{check} is skipped without a justification"
        assert len(comment.split()) >= 6, f"{check}: say why, not just what"
