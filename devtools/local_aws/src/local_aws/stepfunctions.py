"""Step Functions: operations moto 5.2.5 lacks but the Terraform AWS provider calls, and AWS's
timestamp formats in moto's ASL interpreter.

Operations are dispatched by the ``X-Amz-Target: AWSStepFunctions.<Op>`` header (JSON 1.0).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from local_aws.wsgi import Response

DEFAULT_ACCOUNT = "123456789012"


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status, json.dumps(body).encode("utf-8"), {"Content-Type": "application/x-amz-json-1.0"}
    )


def _error(status: int, error_type: str, message: str) -> Response:
    return _json(status, {"__type": error_type, "message": message})


def _diagnostic(code: str, message: str, location: str = "") -> dict[str, str]:
    diagnostic = {"severity": "ERROR", "code": code, "message": message}
    if location:
        diagnostic["location"] = location
    return diagnostic


def validate_definition(definition: str) -> list[dict[str, str]]:
    """Diagnostics of an ASL definition (empty when valid)."""
    try:
        document = json.loads(definition)
    except (TypeError, ValueError) as exc:
        return [_diagnostic("INVALID_JSON_DESCRIPTION", f"Invalid JSON: {exc}")]
    if not isinstance(document, dict):
        return [
            _diagnostic("SCHEMA_VALIDATION_FAILED", "The definition must be a JSON object.", "/")
        ]
    diagnostics = []
    states = document.get("States")
    if "StartAt" not in document:
        diagnostics.append(
            _diagnostic("SCHEMA_VALIDATION_FAILED", "These fields are required: [StartAt]", "/")
        )
    if not isinstance(states, dict) or not states:
        diagnostics.append(
            _diagnostic("SCHEMA_VALIDATION_FAILED", "These fields are required: [States]", "/")
        )
    elif "StartAt" in document and document["StartAt"] not in states:
        diagnostics.append(
            _diagnostic(
                "MISSING_TRANSITION_TARGET",
                f"Missing 'Next' target: {document['StartAt']}",
                "/StartAt",
            )
        )
    if diagnostics:
        return diagnostics
    try:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

        AmazonStateLanguageParser.parse(definition)
    except Exception as exc:
        return [_diagnostic("SCHEMA_VALIDATION_FAILED", f"{type(exc).__name__}: {exc}"[:1000])]
    return []


def _validate(body: dict[str, Any], _region: str) -> Response:
    definition = body.get("definition")
    if not isinstance(definition, str):
        return _error(
            400, "ValidationException", "1 validation error detected: definition must not be null"
        )
    diagnostics = validate_definition(definition)
    return _json(
        200,
        {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False},
    )


def _epoch(value: Any) -> Any:
    return value.timestamp() if hasattr(value, "timestamp") else value


def _backend_for_arn(arn: str, region: str) -> Any:
    from moto.stepfunctions.responses import get_backend

    parts = arn.split(":")
    if len(parts) > 4 and parts[3] and parts[4]:
        return get_backend(parts[4], parts[3])
    return get_backend(DEFAULT_ACCOUNT, region)


def _list_versions(body: dict[str, Any], region: str) -> Response:
    arn = str(body.get("stateMachineArn", ""))
    try:
        machine = _backend_for_arn(arn, region).describe_state_machine(arn)
    except Exception as exc:
        return _error(
            400, "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}' ({exc})"
        )
    versions = sorted(getattr(machine, "versions", {}).items(), reverse=True)
    return _json(
        200,
        {
            "stateMachineVersions": [
                {
                    "stateMachineVersionArn": version.arn,
                    "creationDate": _epoch(version.creation_date),
                }
                for _, version in versions
            ]
        },
    )


HANDLERS: dict[str, Callable[[dict[str, Any], str], Response]] = {
    "ValidateStateMachineDefinition": _validate,
    "ListStateMachineVersions": _list_versions,
}


def handle(operation: str, body: bytes, region: str) -> Response | None:
    """The response of an operation handled here, or None to let moto answer."""
    handler = HANDLERS.get(operation)
    if handler is None:
        return None
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return _error(400, "SerializationException", "Could not parse the request body as JSON")
    return handler(parsed if isinstance(parsed, dict) else {}, region)


# ---------------------------------------------------------------------------------- timestamps

RFC3339_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def aws_timestamp(value: datetime.datetime) -> str:
    """AWS's context-object format: UTC, milliseconds, ``Z`` (``2026-11-28T12:34:37.553Z``)."""
    value = value.astimezone(datetime.UTC) if value.tzinfo else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(value: Any) -> datetime.datetime | None:
    """An RFC 3339 timestamp as Step Functions accepts it (upper-case ``T``, ``Z`` or an
    offset, optional fractional seconds) as an aware UTC datetime; None if it is not one."""
    if not isinstance(value, str):
        return None
    match = RFC3339_RE.match(value)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    try:
        parsed = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    if fraction:
        parsed = parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    offset = datetime.timedelta(0)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return parsed.replace(tzinfo=datetime.timezone(offset)).astimezone(datetime.UTC)


class _AwsDatetime(datetime.datetime):
    """``datetime`` whose ``isoformat()`` is AWS's context-object format."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return aws_timestamp(self)


def install() -> None:
    """Make moto's interpreter use AWS's timestamps: ``$$.State.EnteredTime`` and
    ``$$.Execution.StartTime`` as ``...T12:34:37.553Z`` strings, and Timestamp* comparisons
    on any RFC 3339 timestamp (moto parsed only ``%Y-%m-%dT%H:%M:%SZ``, so comparing
    EnteredTime - which it formatted as ``+00:00`` with microseconds - was always false)."""
    from moto.stepfunctions.parser.asl.component.state import state as state_module
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.is_operator import (  # noqa: E501
        IsTimestamp,
    )
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    setattr(IsTimestamp, "string_to_timestamp", staticmethod(parse_timestamp))  # noqa: B010
    # state.py's only use of its ``datetime`` module is EnteredTime's ``now(...).isoformat()``.
    shim = SimpleNamespace(datetime=_AwsDatetime, timezone=datetime.timezone)
    setattr(state_module, "datetime", shim)  # noqa: B010
    original = ExecutionWorker._get_evaluation_environment
    if getattr(original, "_local_aws", False):
        return

    def _get_evaluation_environment(self: Any) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        start = execution.get("StartTime")
        if isinstance(start, datetime.datetime):
            execution["StartTime"] = aws_timestamp(start)
        return env

    _get_evaluation_environment._local_aws = True  # type: ignore[attr-defined]
    setattr(ExecutionWorker, "_get_evaluation_environment", _get_evaluation_environment)  # noqa: B010
