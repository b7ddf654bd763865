"""Least-privilege checks over a Terraform plan (``terraform show -json <planfile>``).

    terraform -chdir=terraform/envs/prod show -json prod.tfplan | python devtools/tf_policy.py -
    python devtools/tf_policy.py plan.json

Every IAM policy document in the plan (role, user, group and managed policies; bucket, queue and
topic policies) must be known at plan time (reviewable) and, in every Allow statement:
- name exact actions: no ``*``, no ``service:*``, no ``?``; no NotAction / NotResource;
- name exact resources: ARNs without wildcards in the partition, service, region or account and
  with at most one trailing ``/*`` or ``:*`` after a named resource (``<bucket>/uploads/*``,
  ``execution:<machine>:*``); ``Resource "*"`` only in the statements of RESOURCE_STAR_SIDS,
  with only the actions listed there;
- in resource policies, never allow a public principal (``*``).
Managed-policy attachments are refused (their documents are not in the plan). media-process's
S3 access is exactly read of ``uploads/*``, write of ``derived/*`` and delete of both (a
cancelled job's file, issue 13 item 6).

A policy whose JSON is only known after apply is reviewable when it is an
``aws_iam_policy_document`` read deferred to apply only because of a condition value (the web
bucket's ``AWS:SourceArn`` = a CloudFront distribution not created yet): the plan shows that
read with every effect, action, resource and principal known, and the configuration names it as
the source of the policy. Its statements are checked like any other; unknown condition values
can only narrow an Allow. Anything else unknown is refused.

``policy_violations(plan)`` returns the problems as text; the CLI prints them and exits 1.
``tests/unit/test_terraform.py`` runs it over the local and prod plans and over a deliberately
bad plan; ``make deploy-env`` runs it over the real plan before asking to apply.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Statements allowed to use Resource "*": sid -> (the only actions they may hold, why).
RESOURCE_STAR_SIDS: dict[str, tuple[frozenset[str], str]] = {
    "DeliverExecutionLogs": (
        frozenset(
            {
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            }
        ),
        "Step Functions execution logging uses CloudWatch Logs vended-log delivery, whose "
        "actions support no resource-level permissions (AWS documents Resource *)",
    ),
    "WriteTraces": (
        frozenset(
            {
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            }
        ),
        "X-Ray supports no resource-level permissions",
    ),
    "WakeTriage": (
        frozenset({"states:SendTaskSuccess"}),
        "task tokens of service-integration callback tasks cannot be scoped by IAM (the token "
        "names the task; ADR 0007)",
    ),
}

# Resource types whose attribute holds a policy document, and whether it is a resource policy
# (a document with principals).
POLICY_ATTRIBUTES: dict[str, tuple[str, bool]] = {
    "aws_iam_role_policy": ("policy", False),
    "aws_iam_user_policy": ("policy", False),
    "aws_iam_group_policy": ("policy", False),
    "aws_iam_policy": ("policy", False),
    "aws_s3_bucket_policy": ("policy", True),
    "aws_sqs_queue_policy": ("policy", True),
    "aws_sns_topic_policy": ("policy", True),
    "aws_lambda_permission": ("", True),  # not a document: principal checked below
}
MANAGED_ATTACHMENTS = {
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_user_policy_attachment",
    "aws_iam_group_policy_attachment",
}
# The one function whose S3 access is pinned by prefix (SPEC section 4: no recursive triggers).
MEDIA_PROCESS_ADDRESS = "module.media_process."
_UPLOADS = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+/uploads/\*$")
_DERIVED = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+/derived/\*$")
MEDIA_PROCESS_S3 = (
    ("s3:GetObject", _UPLOADS),
    ("s3:PutObject", _DERIVED),
    ("s3:DeleteObject", _UPLOADS),
    ("s3:DeleteObject", _DERIVED),
)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _changes(plan: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(address, type, after, after_unknown) of every resource that exists after the plan."""
    for rc in plan.get("resource_changes", []):
        change = rc.get("change", {})
        after = change.get("after")
        if rc.get("mode") == "data" or after is None:
            continue
        yield rc["address"], rc["type"], after, change.get("after_unknown") or {}


def _wildcard_problem(service: str, rest: str) -> str | None:
    """The problem of the resource part of an ARN that holds a ``*``."""
    stripped = rest[:-1]
    if not stripped.strip("/:"):
        return "every resource"
    if not rest.endswith("*") or "*" in stripped:
        return "wildcard inside the resource name"
    if not stripped.endswith(("/", ":")):
        return "partial-name wildcard"
    named = stripped[:-1]
    if service != "s3":
        # typed resources, "<type>/<name>..." or "<type>:<name>...": a name before the *
        cut = min((i for i in (named.find("/"), named.find(":")) if i >= 0), default=-1)
        named = named[cut + 1 :] if cut >= 0 else ""
    return None if named.strip("/:") else "every resource of a type"


def arn_problem(resource: str) -> str | None:
    """Why a Resource entry is not an exact ARN, or None."""
    parts = resource.split(":", 5)
    if resource == "*":
        problem: str | None = "Resource *"
    elif len(parts) != 6 or parts[0] != "arn":
        problem = "not an ARN"
    elif any(ch in field for field in parts[1:5] for ch in "*?"):
        problem = "wildcard in the partition, service, region or account"
    elif "?" in parts[5]:
        problem = "wildcard"
    elif not parts[5]:
        problem = "no resource"
    else:
        problem = _wildcard_problem(parts[2], parts[5]) if "*" in parts[5] else None
    if problem is None or resource == "*":
        return problem
    return f"{problem}: {resource}"


def _statement_problems(where: str, statement: dict[str, Any], resource_policy: bool) -> list[str]:
    sid = statement.get("Sid") or "(no Sid)"
    at = f"{where}: statement {sid}"
    if statement.get("Effect", "Allow") != "Allow":
        return []  # Deny statements only take away (e.g. DenyInsecureTransport on s3:*)
    problems = [
        f"{at}: Allow with {key}"
        for key in ("NotAction", "NotResource", "NotPrincipal")
        if key in statement
    ]
    actions = [str(a) for a in _as_list(statement.get("Action"))]
    if not actions and "NotAction" not in statement:
        problems.append(f"{at}: no Action")
    problems += [f"{at}: wildcard action {a}" for a in actions if "*" in a or "?" in a]
    if resource_policy:
        principal = statement.get("Principal")
        values = (
            [principal]
            if isinstance(principal, str)
            else [v for p in (principal or {}).values() for v in _as_list(p)]
        )
        if "*" in values:
            problems.append(f"{at}: allows a public principal (*)")
        return problems
    resources = [str(r) for r in _as_list(statement.get("Resource"))]
    if not resources and "NotResource" not in statement:
        problems.append(f"{at}: no Resource")
    for resource in resources:
        if resource == "*" and sid in RESOURCE_STAR_SIDS:
            allowed, _why = RESOURCE_STAR_SIDS[sid]
            extra = sorted(set(actions) - allowed)
            if extra:
                problems.append(f"{at}: Resource * with actions outside its allow-list: {extra}")
            continue
        problem = arn_problem(resource)
        if problem:
            problems.append(f"{at}: {problem}")
    return problems


def _media_process_s3_problems(where: str, document: dict[str, Any]) -> list[str]:
    problems = []
    for statement in _as_list(document.get("Statement")):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        for action in map(str, _as_list(statement.get("Action"))):
            if not action.startswith("s3:"):
                continue
            for resource in map(str, _as_list(statement.get("Resource"))):
                if not any(a == action and p.match(resource) for a, p in MEDIA_PROCESS_S3):
                    problems.append(
                        f"{where}: statement {statement.get('Sid') or '(no Sid)'}: media-process "
                        "may only read uploads/*, write derived/* and delete in both, "
                        f"not {action} on {resource}"
                    )
    return problems


def _strip_keys(address: str) -> str:
    """The configuration address of a resource instance: no count/for_each keys."""
    return re.sub(r'\[(?:"[^"]*"|[0-9]+)\]', "", address)


def _configured_resources(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Configuration address (module.a.module.b.type.name) -> its configuration block."""
    out: dict[str, dict[str, Any]] = {}

    def walk(module: dict[str, Any], prefix: str) -> None:
        for resource in module.get("resources", []):
            out[prefix + resource["address"]] = resource
        for name, call in module.get("module_calls", {}).items():
            walk(call.get("module", {}), f"{prefix}module.{name}.")

    walk(plan.get("configuration", {}).get("root_module", {}), "")
    return out


def _statement_from_block(block: dict[str, Any]) -> dict[str, Any]:
    """An IAM JSON statement from an aws_iam_policy_document ``statement`` block (conditions
    left out: see the module docstring)."""
    statement: dict[str, Any] = {"Effect": block.get("effect") or "Allow"}
    if block.get("sid"):
        statement["Sid"] = block["sid"]
    for key, attribute in (
        ("Action", "actions"),
        ("NotAction", "not_actions"),
        ("Resource", "resources"),
        ("NotResource", "not_resources"),
    ):
        if block.get(attribute):
            statement[key] = sorted(block[attribute])
    for key, attribute in (("Principal", "principals"), ("NotPrincipal", "not_principals")):
        blocks = block.get(attribute) or []
        if not blocks:
            continue
        if any(p.get("type") == "*" for p in blocks):
            statement[key] = "*"
        else:
            statement[key] = {p["type"]: sorted(p["identifiers"]) for p in blocks}
    return statement


def _known_but_conditions(unknown: Any) -> bool:
    """Whether an after_unknown tree of statement blocks marks nothing unknown outside
    ``condition`` blocks."""
    if isinstance(unknown, dict):
        return all(k == "condition" or _known_but_conditions(v) for k, v in unknown.items())
    if isinstance(unknown, list):
        return all(_known_but_conditions(v) for v in unknown)
    return unknown is not True


def _deferred_read(plan: dict[str, Any], address: str, attribute: str) -> dict[str, Any] | None:
    """The change of the one ``aws_iam_policy_document`` read, deferred to apply, that the
    attribute of the resource at ``address`` is made from (per the configuration)."""
    config = _configured_resources(plan).get(_strip_keys(address))
    if config is None:
        return None
    references = config.get("expressions", {}).get(attribute, {}).get("references", [])
    module_prefix = _strip_keys(address)[: -len(config["address"])]
    sources = {
        module_prefix + r.rsplit(".", 1)[0].split("[")[0]
        for r in references
        if r.startswith("data.aws_iam_policy_document.") and r.endswith((".json", ".minified_json"))
    }
    # A conditional may pick among documents; those known at plan time are no planned read.
    reads = [
        rc["change"]
        for rc in plan.get("resource_changes", [])
        if rc.get("mode") == "data"
        and _strip_keys(rc["address"]) in sources
        and rc.get("change", {}).get("actions") == ["read"]
    ]
    return reads[0] if len(reads) == 1 else None


def _document_of_read(change: dict[str, Any]) -> dict[str, Any] | None:
    """The IAM document of a deferred policy-document read: its merged-in source documents
    (JSON known at plan time) and its statements (known apart from condition values)."""
    after, unknown = change.get("after") or {}, change.get("after_unknown") or {}
    for opaque in ("override_policy_documents", "source_json", "override_json"):
        if after.get(opaque) or any_unknown_in(unknown.get(opaque)):
            return None  # overrides replace statements by Sid: not reviewable one by one
    if any_unknown_in(unknown.get("source_policy_documents")) or not _known_but_conditions(
        unknown.get("statement")
    ):
        return None
    statements: list[Any] = []
    try:
        for source in after.get("source_policy_documents") or []:
            statements += _as_list(json.loads(source).get("Statement"))
    except (TypeError, ValueError, AttributeError):
        return None
    statements += [_statement_from_block(b) for b in after.get("statement") or []]
    return {"Version": "2012-10-17", "Statement": statements}


def deferred_policy_document(
    plan: dict[str, Any], address: str, attribute: str = "policy"
) -> dict[str, Any] | None:
    """The document of a policy attribute unknown at plan time, from the deferred
    ``aws_iam_policy_document`` read it comes from, when that read is known apart from its
    condition values; None when it cannot be reviewed."""
    change = _deferred_read(plan, address, attribute)
    return None if change is None else _document_of_read(change)


def any_unknown_in(unknown: Any) -> bool:
    """Whether an after_unknown subtree marks anything unknown."""
    if isinstance(unknown, dict):
        return any(any_unknown_in(v) for v in unknown.values())
    if isinstance(unknown, list):
        return any(any_unknown_in(v) for v in unknown)
    return unknown is True


def policy_violations(plan: dict[str, Any]) -> list[str]:
    """Every least-privilege problem of the plan's IAM and resource policies (empty: none)."""
    problems: list[str] = []
    for address, rtype, after, unknown in _changes(plan):
        if rtype in MANAGED_ATTACHMENTS:
            problems.append(
                f"{address}: managed policy attachment {after.get('policy_arn')} (its document "
                "is not in the plan: use an inline least-privilege policy)"
            )
            continue
        if rtype == "aws_iam_role" and after.get("managed_policy_arns"):
            problems.append(f"{address}: managed_policy_arns {after['managed_policy_arns']}")
        if rtype == "aws_lambda_permission":
            if after.get("principal") == "*":
                problems.append(f"{address}: invocable by any principal (*)")
            continue
        if rtype not in POLICY_ATTRIBUTES:
            continue
        attribute, resource_policy = POLICY_ATTRIBUTES[rtype]
        text = after.get(attribute)
        if unknown.get(attribute) is True or not text:
            deferred = deferred_policy_document(plan, address, attribute)
            if deferred is None:
                problems.append(
                    f"{address}: {attribute} is unknown at plan time (cannot be reviewed)"
                )
                continue
            document = deferred
        else:
            try:
                document = json.loads(text)
            except (TypeError, ValueError):
                problems.append(f"{address}: {attribute} is not a JSON policy document")
                continue
        for statement in _as_list(document.get("Statement")):
            problems += _statement_problems(address, statement, resource_policy)
        if rtype == "aws_iam_role_policy" and MEDIA_PROCESS_ADDRESS in address:
            problems += _media_process_s3_problems(address, document)
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[0] == "-" else Path(argv[0]).read_text()
    problems = policy_violations(json.loads(text))
    for problem in problems:
        print(f"POLICY: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} least-privilege problem(s) in the plan.", file=sys.stderr)
        return 1
    print("policy check: every IAM and resource policy in the plan is least privilege.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
