"""Fault injection: make chosen AWS requests fail, or kill a Lambda worker mid-invocation.

Rules are set through the internal endpoint ``/_local_aws/faults`` (``POST`` a rule or a list of
rules, ``GET`` lists them with their hits, ``DELETE`` clears them) and live in memory until
cleared or used up (``count``, default 1, each firing uses one).

Request rules (``service`` set) answer an AWS request with an error instead of (``when:
"before"``, the default) or after (``when: "after"``: the request is carried out, its answer is
lost) moto's answer::

    {"service": "dynamodb", "operation": "TransactWriteItems",
     "error": "ProvisionedThroughputExceededException", "status": 400, "count": 2,
     "match": {"table": "media-triage-local-sessions"}}
    {"service": "s3", "operation": "PutObject", "keyPrefix": "derived/", "status": 503}

``service`` is the request's signing name (``dynamodb``, ``s3``, ``states``, ``lambda``, ...);
``operation`` the ``X-Amz-Target`` operation (JSON protocols) or the S3 operation told from the
method, key and query (``PutObject``, ``GetObject``, ``HeadObject``, ``UploadPart``, ...);
filters: ``match.table`` (any ``TableName`` of a DynamoDB request, transactions and batches
included), ``match.expression`` (a substring of any of its ``*Expression`` strings, e.g.
``"processedCount"`` for the counting transaction alone), ``bucket``, ``keyPrefix``. The error
is AWS's shape for the protocol (JSON ``__type`` or S3's XML ``<Error>``); ``error`` defaults
from ``status``.

Lambda rules (``lambda`` set: a function name or ARN) kill the worker's process group while it
runs an invocation::

    {"lambda": "media-triage-local-media-process", "kill": "mid-invocation", "count": 1,
     "onLog": "media.type_detected"}

``kill``: ``mid-invocation`` (the invocation fails with ``Runtime.ExitError``, as when Lambda's
runtime dies: out of memory, a crash) or ``timeout`` (fails with ``Sandbox.Timedout``, as when
the function's timeout expires). The kill happens ``afterMs`` ms after the event was handed to
the handler (default 0), or as soon as the function logs a line containing ``onLog``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from local_aws import s3cors
from local_aws.wsgi import Environ, Response, json_response, read_body

LOG = logging.getLogger("local_aws.faults")
SIGNING_NAME_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
QUERY_CREDENTIAL_RE = re.compile(r"^[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request$")
KILL_KINDS = frozenset({"mid-invocation", "timeout"})
DEFAULT_ERRORS = {
    "s3": {500: "InternalError", 503: "SlowDown"},
    "*": {
        400: "ThrottlingException",
        429: "TooManyRequestsException",
        500: "InternalServerError",
        503: "ServiceUnavailable",
    },
}
JSON_ERROR_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#"}


class FaultError(ValueError):
    """A rule the endpoint refuses (400)."""


@dataclass
class Rule:
    """What every rule has: an id, how often it may still fire, how often it fired."""

    id: str
    count: int
    hits: int = 0

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def consume(self) -> bool:
        """Use one firing; False when the rule is used up. Callers hold the Faults lock."""
        if self.count <= 0:
            return False
        self.count -= 1
        self.hits += 1
        return True


@dataclass
class RequestFault(Rule):
    service: str = ""
    operation: str | None = None
    status: int = 500
    error: str = ""
    message: str = ""
    when: str = "before"
    table: str | None = None
    expression: str | None = None
    bucket: str | None = None
    key_prefix: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "operation": self.operation,
            "status": self.status,
            "error": self.error,
            "when": self.when,
            "match": {
                k: v
                for k, v in (
                    ("table", self.table),
                    ("expression", self.expression),
                    ("bucket", self.bucket),
                    ("keyPrefix", self.key_prefix),
                )
                if v is not None
            },
            "remaining": self.count,
            "hits": self.hits,
        }


@dataclass
class LambdaFault(Rule):
    function: str = ""
    kill: str = "mid-invocation"
    after_ms: int = 0
    on_log: str | None = None

    def matches(self, name: str, arn: str) -> bool:
        return self.function in {name, arn} or arn.startswith(f"{self.function}:")

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lambda": self.function,
            "kill": self.kill,
            "afterMs": self.after_ms,
            "onLog": self.on_log,
            "remaining": self.count,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class Request:
    """What the rules look at in one AWS request."""

    service: str
    operation: str
    environ: Environ = field(repr=False)

    def tables(self) -> set[str]:
        return _tables_of(read_body(self.environ))

    def expressions(self) -> set[str]:
        return _expressions_of(read_body(self.environ))


class Faults:
    """The rules in force (thread-safe); the middleware and the Lambda executor consult it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RequestFault] = []
        self._lambdas: list[LambdaFault] = []

    # ------------------------------------------------------------------ rules

    def add(self, *specs: Any) -> list[Rule]:
        """Parse and install rules, all or none (FaultError says what is wrong)."""
        rules = [parse_rule(spec) for spec in specs]
        with self._lock:
            for rule in rules:
                if isinstance(rule, LambdaFault):
                    self._lambdas.append(rule)
                elif isinstance(rule, RequestFault):
                    self._requests.append(rule)
        return rules

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._requests) + len(self._lambdas)
            self._requests, self._lambdas = [], []
        return cleared

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            rules: list[RequestFault | LambdaFault] = [*self._requests, *self._lambdas]
            return [rule.describe() for rule in rules]

    # ------------------------------------------------------------------ AWS requests

    def take_request_fault(self, environ: Environ) -> RequestFault | None:
        """The first live rule matching this request, one firing used; None (cheaply) when
        no request rule is set."""
        if not self._requests:
            return None
        service = signing_name(environ)
        if not service:
            return None
        request = Request(service, operation_of(environ, service), environ)
        with self._lock:
            for rule in self._requests:
                if rule.count > 0 and _request_matches(rule, request) and rule.consume():
                    return rule
        return None

    # ------------------------------------------------------------------ Lambda

    def lambda_faults(self, name: str, arn: str) -> list[LambdaFault]:
        """Live kill rules of this function (armed per invocation; a firing uses one)."""
        if not self._lambdas:
            return []
        with self._lock:
            return [r for r in self._lambdas if r.count > 0 and r.matches(name, arn)]

    def fire(self, rule: LambdaFault) -> bool:
        with self._lock:
            return rule.consume()

    # ------------------------------------------------------------------ the endpoint

    def endpoint(self, environ: Environ) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "GET":
            return json_response(200, {"faults": self.describe()})
        if method == "DELETE":
            return json_response(200, {"cleared": self.clear()})
        if method != "POST":
            allow = {"Allow": "GET, POST, DELETE"}
            return json_response(405, {"message": "GET, POST or DELETE"}, allow)
        try:
            body = json.loads(read_body(environ) or b"null")
        except ValueError as exc:
            return json_response(400, {"message": f"not JSON: {exc}"})
        specs = body if isinstance(body, list) else [body]
        if isinstance(body, dict) and "rules" in body:
            specs = body["rules"] if isinstance(body["rules"], list) else [body["rules"]]
        try:
            rules = self.add(*specs)
        except FaultError as exc:
            return json_response(400, {"message": str(exc)})
        return json_response(201, {"faults": [rule.describe() for rule in rules]})


# ---------------------------------------------------------------------------- parsing


def _int(spec: dict[str, Any], name: str, default: int, minimum: int) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FaultError(f"{name} must be an integer >= {minimum}")
    return value


def _str(spec: dict[str, Any], name: str) -> str | None:
    value = spec.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise FaultError(f"{name} must be a non-empty string")
    return value


def parse_rule(spec: Any) -> Rule:
    """A rule from its JSON form; FaultError says what is wrong."""
    if not isinstance(spec, dict):
        raise FaultError("a rule is a JSON object")
    rule_id = uuid.uuid4().hex[:12]
    count = _int(spec, "count", 1, 1)
    if "lambda" in spec:
        function = _str(spec, "lambda")
        kill = spec.get("kill", "mid-invocation")
        if kill not in KILL_KINDS:
            raise FaultError(f"kill must be one of {sorted(KILL_KINDS)}")
        extra = set(spec) - {"lambda", "kill", "count", "afterMs", "onLog"}
        if extra:
            raise FaultError(f"unknown fields of a lambda rule: {sorted(extra)}")
        return LambdaFault(
            id=rule_id,
            count=count,
            function=function or "",
            kill=kill,
            after_ms=_int(spec, "afterMs", 0, 0),
            on_log=_str(spec, "onLog"),
        )
    service = _str(spec, "service")
    if service is None:
        raise FaultError('a rule needs "service" (an AWS request) or "lambda" (a function)')
    extra = set(spec) - {
        "service",
        "operation",
        "status",
        "error",
        "message",
        "count",
        "when",
        "match",
        "bucket",
        "keyPrefix",
    }
    if extra:
        raise FaultError(f"unknown fields of a request rule: {sorted(extra)}")
    status = _int(spec, "status", 500, 400)
    if status > 599:
        raise FaultError("status must be a 4xx or 5xx code")
    error = _str(spec, "error") or default_error(service, status)
    when = spec.get("when", "before")
    if when not in {"before", "after"}:
        raise FaultError('when must be "before" or "after"')
    match = spec.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"table", "expression", "bucket", "keyPrefix"}:
        raise FaultError("match takes table, expression, bucket, keyPrefix")
    merged = {**match, **{k: spec[k] for k in ("bucket", "keyPrefix") if k in spec}}
    return RequestFault(
        id=rule_id,
        count=count,
        service=service.lower(),
        operation=_str(spec, "operation"),
        status=status,
        error=error,
        message=_str(spec, "message") or f"injected fault ({error})",
        when=when,
        table=_str(merged, "table"),
        expression=_str(merged, "expression"),
        bucket=_str(merged, "bucket"),
        key_prefix=_str(merged, "keyPrefix"),
    )


def default_error(service: str, status: int) -> str:
    table = DEFAULT_ERRORS.get(service.lower(), {})
    return (
        table.get(status)
        or DEFAULT_ERRORS["*"].get(status)
        or ("InternalServerError" if status >= 500 else "BadRequest")
    )


# ---------------------------------------------------------------------------- requests


def signing_name(environ: Environ) -> str:
    """The service a SigV4-signed request is for ('' when unsigned: browser uploads, the HTTP
    API data plane, the site)."""
    found = SIGNING_NAME_RE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if found:
        return found.group("service").lower()
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    found = QUERY_CREDENTIAL_RE.match(credential)
    return found.group("service").lower() if found else ""


def operation_of(environ: Environ, service: str) -> str:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.rpartition(".")[2]
    if service == "s3":
        return s3_operation(environ)
    return ""


def s3_operation(environ: Environ) -> str:
    """The S3 operation of a REST request (the ones the project uses; '' for the rest)."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    _, key = s3cors.bucket_and_key(environ)
    copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if not key:
        return {
            "GET": "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects",
            "HEAD": "HeadBucket",
            "PUT": "CreateBucket",
            "DELETE": "DeleteBucket",
            "POST": "DeleteObjects" if "delete" in query else "PostObject",
        }.get(method, "")
    if query.keys() & {"tagging", "acl", "retention", "legal-hold", "attributes"}:
        return ""
    multipart = "uploadId" in query
    by_method = {
        "PUT": ("UploadPartCopy" if copy else "UploadPart")
        if multipart
        else ("CopyObject" if copy else "PutObject"),
        "POST": "CreateMultipartUpload"
        if "uploads" in query
        else ("CompleteMultipartUpload" if multipart else ""),
        "GET": "ListParts" if multipart else "GetObject",
        "HEAD": "HeadObject",
        "DELETE": "AbortMultipartUpload" if multipart else "DeleteObject",
    }
    return by_method.get(method, "")


def _request_matches(rule: RequestFault, request: Request) -> bool:
    if rule.service not in {request.service, "*"}:
        return False
    if rule.operation is not None and rule.operation != request.operation:
        return False
    if rule.bucket is not None or rule.key_prefix is not None:
        bucket, key = s3cors.bucket_and_key(request.environ)
        if rule.bucket is not None and rule.bucket != bucket:
            return False
        if rule.key_prefix is not None and not key.startswith(rule.key_prefix):
            return False
    if rule.expression is not None and not any(
        rule.expression in text for text in request.expressions()
    ):
        return False
    return rule.table is None or rule.table in request.tables()


_DATA_FIELDS = frozenset({"Item", "Key", "Keys", "ExpressionAttributeValues", "ExclusiveStartKey"})


def _request_objects(body: bytes) -> Iterator[dict[str, Any]]:
    """Every JSON object of a DynamoDB request (single, transaction and batch forms), but not
    inside items, keys and values: an attribute may be called TableName or FooExpression."""
    try:
        pending: list[Any] = [json.loads(body or b"{}")]
    except ValueError:
        return
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            yield value
            pending.extend(v for k, v in value.items() if k not in _DATA_FIELDS)


def _tables_of(body: bytes) -> set[str]:
    """Every TableName a DynamoDB JSON request names."""
    tables: set[str] = set()
    for obj in _request_objects(body):
        if isinstance(obj.get("TableName"), str):
            tables.add(obj["TableName"])
        if isinstance(obj.get("RequestItems"), dict):
            tables.update(str(name) for name in obj["RequestItems"])
    return tables


def _expressions_of(body: bytes) -> set[str]:
    """Every ``*Expression`` string of a DynamoDB JSON request."""
    return {
        v
        for obj in _request_objects(body)
        for k, v in obj.items()
        if k.endswith("Expression") and isinstance(v, str)
    }


def error_response(rule: RequestFault, environ: Environ) -> Response:
    """The rule's error in the shape the request's protocol uses."""
    request_id = uuid.uuid4().hex
    if rule.service == "s3":
        headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
        if environ.get("REQUEST_METHOD", "").upper() == "HEAD":
            return Response(rule.status, b"", headers)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(rule.error)}</Code><Message>{escape(rule.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return Response(rule.status, body.encode("utf-8"), headers)
    prefix = JSON_ERROR_PREFIX.get(rule.service, "")
    return json_response(
        rule.status,
        {"__type": f"{prefix}{rule.error}", "message": rule.message},
        {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": rule.error,
        },
    )


def discard(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
    """A WSGI start_response that throws the answer away (``when: "after"``)."""
    return lambda _data: None
