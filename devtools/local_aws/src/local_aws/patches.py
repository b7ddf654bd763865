"""Monkeypatches of moto 5.2.5 that route every Lambda invocation to the host executor.

* ``LambdaFunction.invoke`` (direct Invoke, ``invoke-async``, Step Functions tasks, which come
  back over HTTP, event source mappings, SNS/EventBridge targets) and
  ``LambdaFunction._invoke_lambda`` (moto's Docker path) run the zip through
  :class:`~local_aws.lambda_executor.LambdaExecutor`.
* ``InvocationType=Event`` and S3 bucket notifications are queued on the executor's async pool,
  so ``PutObject``/``CompleteMultipartUpload``/POST uploads return immediately.
* Step Functions executes state machines for real (moto's ASL interpreter).
* ``LOCAL_AWS_S3_MISSING_KEY_403=1``: HEAD/GET of a missing key answers 403 (see
  :func:`patch_missing_key_403`).
"""

from __future__ import annotations

import base64
import calendar
import fnmatch
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus
from xml.sax.saxutils import escape

from local_aws.lambda_executor import FunctionSpec, LambdaExecutor, TooManyRequests

_INSTALLED: dict[str, LambdaExecutor] = {}
# Set while the middleware holds its DynamoDB write lock: a synchronous invocation from inside a
# write (moto delivers DynamoDB stream records to event source mappings synchronously) is queued
# instead, so a handler writing back to DynamoDB cannot deadlock on that lock.
IN_LOCKED_WRITE = threading.local()


def executor() -> LambdaExecutor:
    try:
        return _INSTALLED["executor"]
    except KeyError:
        raise RuntimeError("local_aws.patches.install() was not called") from None


def _header(headers: Any, name: str, default: str = "") -> str:
    if headers is None:
        return default
    value = headers.get(name)
    if value is None and isinstance(headers, Mapping):
        lowered = name.lower()
        for key, item in headers.items():
            if str(key).lower() == lowered:
                value = item
                break
    return default if value is None else str(value)


def _payload_bytes(body: Any) -> bytes:
    if body is None or body == "":
        return b"{}"
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def _too_many_requests(message: str) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError("TooManyRequestsException", message)
    error.code = 429
    return error


def _patched_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    payload = _payload_bytes(body)
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type", "RequestResponse")
    spec = FunctionSpec.from_moto(self)
    if invocation_type == "RequestResponse" and getattr(IN_LOCKED_WRITE, "active", False):
        invocation_type = "Event"
    if invocation_type == "Event":
        request_id = executor().invoke_async(spec, payload)
        response_headers["x-amzn-RequestId"] = request_id
        return b""
    if invocation_type == "DryRun":
        return b""
    try:
        result = executor().invoke(spec, payload)
    except TooManyRequests as exc:
        raise _too_many_requests(str(exc)) from exc
    response_headers["x-amzn-RequestId"] = result.request_id
    response_headers["X-Amz-Executed-Version"] = spec.version
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = result.log_tail_b64()
    _save_cloudwatch_logs(self, result.logs)
    return result.payload


def _patched_invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    result = executor().invoke(FunctionSpec.from_moto(self), _payload_bytes(event))
    return result.payload.decode("utf-8"), result.function_error is not None, result.logs


def _save_cloudwatch_logs(fn: Any, logs: str) -> None:
    """Copy an invocation's log lines into /aws/lambda/<name> if that log group exists."""
    if not logs:
        return
    try:
        backend = fn.logs_backend
        if fn.logs_group_name not in backend.groups:
            return
        stamp = time.gmtime()
        stream = (
            f"{stamp.tm_year}/{stamp.tm_mon:02d}/{stamp.tm_mday:02d}/[$LATEST]{uuid.uuid4().hex}"
        )
        backend.create_log_stream(fn.logs_group_name, stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in logs.splitlines() if line]
        if events:
            backend.put_log_events(fn.logs_group_name, stream, events)
    except Exception:  # noqa: S110 - logs are best effort, as on AWS
        pass


def _enrich_s3_event(event_body: Any) -> Any:
    """Fill in the record fields moto leaves out (AWS's S3 event message structure 2.1)."""
    try:
        for record in event_body.get("Records", []):
            record.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault(
                "responseElements",
                {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
            )
            s3 = record.get("s3", {})
            s3.get("bucket", {}).setdefault("ownerIdentity", {"principalId": "LOCAL"})
            obj = s3.get("object", {})
            obj.setdefault("sequencer", f"{time.time_ns():016X}")
            if "key" in obj:
                # moto encodes "/" too; S3 form-encodes the key but keeps its slashes.
                obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
    except AttributeError:
        pass
    return event_body


def _s3_invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """Replacement of ``moto.s3.notifications._invoke_awslambda``: asynchronous, like S3."""
    try:
        from moto.awslambda.utils import get_backend

        fn = get_backend(account_id, region_name).get_function(fn_arn)
    except Exception:
        return
    payload = json.dumps(_enrich_s3_event(event_body)).encode("utf-8")
    executor().invoke_async(FunctionSpec.from_moto(fn), payload)


# What the bucket-policy conditions see: the emulator stands in for S3's HTTPS endpoint (clients
# use plain http only because it is loopback), so the usual "deny insecure transport" policy
# must not deny.
REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _condition_holds(condition: dict[str, Any]) -> bool:
    """Evaluate a policy Condition against REQUEST_CONTEXT; unknown keys/operators: False."""
    for operator, pairs in condition.items():
        op = operator.removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
        if_exists = op.endswith("IfExists")
        op = op.removesuffix("IfExists")
        for key, expected in (pairs or {}).items():
            values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            actual = REQUEST_CONTEXT.get(str(key).lower())
            if actual is None:
                if if_exists:
                    continue
                return False
            if op == "Bool":
                ok = actual in {v.lower() for v in values}
            elif op in {"StringEquals", "StringEqualsIgnoreCase"}:
                ok = actual.lower() in {v.lower() for v in values}
            elif op in {"StringNotEquals", "StringNotEqualsIgnoreCase"}:
                ok = actual.lower() not in {v.lower() for v in values}
            elif op == "StringLike":
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif op == "StringNotLike":
                ok = not any(fnmatch.fnmatchcase(actual, v) for v in values)
            else:
                return False
            if not ok:
                return False
    return True


def _bucket_get_permission(self: Any, action: str, resource: str) -> Any:
    """moto ignores unsupported condition operators (``Bool``), so a conditional Deny such as
    ``aws:SecureTransport = false`` denied every request. Keep only the statements whose
    conditions hold for REQUEST_CONTEXT, then let moto evaluate the rest."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    raw = self.policy.decode() if isinstance(self.policy, bytes) else str(self.policy)
    try:
        document = json.loads(raw)
        statements = document.get("Statement", [])
    except (ValueError, AttributeError):
        return PermissionResult.NEUTRAL
    if isinstance(statements, dict):
        statements = [statements]
    kept = [
        {k: v for k, v in statement.items() if k != "Condition"}
        for statement in statements
        if isinstance(statement, dict) and _condition_holds(statement.get("Condition") or {})
    ]
    if not kept:
        return PermissionResult.NEUTRAL
    policy = json.dumps({"Version": document.get("Version", "2012-10-17"), "Statement": kept})
    return IAMPolicy(policy).is_action_permitted(action, resource)


_S3_STATE = threading.local()


def _patch_multipart_notifications() -> None:
    """moto's CompleteMultipartUpload notifies ObjectCreated:Put *and* :CompleteMultipartUpload;
    S3 sends only the latter. Drop the Put event while a multipart upload completes."""
    from moto.s3 import notifications
    from moto.s3.models import S3Backend

    if getattr(S3Backend.complete_multipart_upload, "_local_aws", False):
        return
    original_complete = S3Backend.complete_multipart_upload
    original_send = notifications.send_event
    put_event = notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT

    def complete_multipart_upload(self: Any, *args: Any, **kwargs: Any) -> Any:
        _S3_STATE.completing = True
        try:
            return original_complete(self, *args, **kwargs)
        finally:
            _S3_STATE.completing = False

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        if event_name == put_event and getattr(_S3_STATE, "completing", False):
            return
        original_send(account_id, event_name, bucket, key)

    complete_multipart_upload._local_aws = True  # type: ignore[attr-defined]
    setattr(S3Backend, "complete_multipart_upload", complete_multipart_upload)  # noqa: B010
    notifications.send_event = send_event


def _patch_list_object_versions_encoding() -> None:
    """moto ignores ``encoding-type=url`` on ListObjectVersions and returns raw keys. The AWS
    provider asks for URL encoding when it empties a ``force_destroy`` bucket and decodes the
    keys it gets back, so a key with ``+`` or ``%`` decoded to a different key, was "deleted"
    without effect, and ``terraform destroy`` looped for ever. Encode as S3 does."""
    from urllib.parse import quote

    from moto.s3.responses import S3Response

    original = S3Response.list_object_versions
    if getattr(original, "_local_aws", False):
        return

    def list_object_versions(self: Any) -> Any:
        if self.querystring.get("encoding-type", [None])[0] != "url":
            return original(self)
        serialize = self.serialized

        def serialized(action_result: Any) -> Any:
            result = action_result.result
            for entry in [*result.get("Versions", []), *result.get("DeleteMarkers", [])]:
                entry["Key"] = quote(entry["Key"])
            for entry in result.get("CommonPrefixes", []):
                entry["Prefix"] = quote(entry["Prefix"])
            for field in ("Prefix", "KeyMarker", "NextKeyMarker", "Delimiter"):
                if result.get(field):
                    result[field] = quote(result[field])
            result["EncodingType"] = "url"
            return serialize(action_result)

        self.serialized = serialized
        try:
            return original(self)
        finally:
            del self.serialized

    list_object_versions._local_aws = True  # type: ignore[attr-defined]
    setattr(S3Response, "list_object_versions", list_object_versions)  # noqa: B010


Refusal = tuple[int, str, str]


def _condition_violation(condition: Any, values: dict[str, str], size: int) -> Refusal | None:
    failed = (
        403,
        "AccessDenied",
        f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}",
    )
    if isinstance(condition, dict):
        ok = all(values.get(name.lower()) == want for name, want in condition.items())
        return None if ok else failed
    if condition[0] == "content-length-range":
        if size > int(condition[2]):
            return 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
        if size < int(condition[1]):
            return 400, "EntityTooSmall", "Your proposed upload is smaller than the minimum size"
        return None
    actual = values.get(str(condition[1]).lstrip("$").lower(), "")
    checks: dict[str, Callable[[str], bool]] = {
        "eq": lambda want: actual == want,
        "starts-with": actual.startswith,
    }
    if condition[0] not in checks:
        return 400, "InvalidPolicyDocument", f"Invalid Policy: unknown condition {condition[0]}"
    return None if checks[condition[0]](condition[2]) else failed


def post_policy_violation(
    policy_b64: str, fields: dict[str, str], bucket: str, size: int, now: float | None = None
) -> Refusal | None:
    """Check a browser-based upload (presigned POST) against its policy document as S3 does:
    expiration, exact-match / ``eq`` / ``starts-with`` conditions on the form fields, and
    ``content-length-range``. Returns (status, code, message) of the refusal, or None. The
    signature itself is not verified (the emulator accepts any credentials)."""
    try:
        policy = json.loads(base64.b64decode(policy_b64))
        expires = calendar.timegm(
            time.strptime(policy["expiration"].split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S")
        )
    except (ValueError, KeyError, TypeError):
        return 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."
    if (now if now is not None else time.time()) > expires:
        return 403, "AccessDenied", "Invalid according to Policy: Policy expired."
    values = {k.lower(): v for k, v in fields.items()} | {"bucket": bucket}
    for condition in policy.get("conditions", []):
        refused = _condition_violation(condition, values, size)
        if refused is not None:
            return refused
    return None


def _post_upload_answer(
    response: Any, bucket_name: str, form: Mapping[str, str], result: Any
) -> Any:
    """S3's answer to a successful POST upload: ``ETag`` and ``Location`` headers (moto sent
    neither; a browser reads ``ETag`` when the CORS rule exposes it) and, for
    ``success_action_status=201``, the ``PostResponse`` document."""
    if not (isinstance(result, tuple) and len(result) == 3) or "key" not in form:
        return result
    status, headers, body = result
    if not 200 <= int(status) < 300:
        return result
    key_name = form["key"]
    stored = response.backend.get_object(bucket_name, key_name)
    if stored is None:
        return result
    host = response.headers.get("host") or "127.0.0.1"
    location = f"http://{host}/{bucket_name}/{quote(key_name)}"
    headers = {**dict(headers), "ETag": stored.etag, "Location": location}
    if int(status) == 201:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
            f"<Location>{escape(location)}</Location><Bucket>{escape(bucket_name)}</Bucket>"
            f"<Key>{escape(key_name)}</Key><ETag>{escape(stored.etag)}</ETag></PostResponse>"
        )
        headers["Content-Type"] = "application/xml"
    return status, headers, body


def _patch_post_policy() -> None:
    """moto stores a presigned POST without looking at its policy; S3 refuses uploads that break
    it (a different key, content type or a size outside content-length-range)."""
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post
    if getattr(original, "_local_aws", False):
        return

    def bucket_response_post(self: Any, request: Any, bucket_name: str) -> Any:
        form = {k: v[0] for k, v in self.querystring.items() if v}
        if "policy" in {k.lower() for k in form} and not self.is_delete_keys():
            policy = next(v for k, v in form.items() if k.lower() == "policy")
            body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
            refused = post_policy_violation(policy, form, bucket_name, len(body))
            if refused is not None:
                status, code, message = refused
                xml = (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
                )
                return status, {"Content-Type": "application/xml"}, xml
        result = original(self, request, bucket_name)
        return _post_upload_answer(self, bucket_name, form, result)

    bucket_response_post._local_aws = True  # type: ignore[attr-defined]
    setattr(S3Response, "_bucket_response_post", bucket_response_post)  # noqa: B010


def _patch_stop_during_callback() -> None:
    """StopExecution of an execution sleeping in a ``.waitForTaskToken`` task: AWS aborts it at
    once. moto 5.2.5 marks it stopped but leaves the task waiting until its timeout, and the
    timeout's error then overwrites the stop, so the execution ends ``FAILED``
    (``States.Timeout``) tens of seconds later. Wake the execution's callback waiters on stop,
    and keep a stopped execution stopped (``ABORTED``)."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    set_stop, set_error = Environment.set_stop, Environment.set_error

    def stop(self: Any, stop_date: Any, cause: str | None, error: str | None) -> None:
        set_stop(self, stop_date=stop_date, cause=cause, error=error)
        for endpoint in list(self.callback_pool_manager._pool.values()):
            endpoint.interrupt_all()

    def fail(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return  # the error of a task cut short by the stop
        set_error(self, error)

    setattr(Environment, "set_stop", stop)  # noqa: B010
    setattr(Environment, "set_error", fail)  # noqa: B010


MISSING_KEY_403 = "LOCAL_AWS_S3_MISSING_KEY_403"
# Set at run time by ``PUT /_local_aws/s3/missing-key-403`` (None: the environment decides), so a
# test module can switch it on the stack it shares with the others instead of deploying its own.
_missing_key_403_override: list[bool | None] = [None]


def missing_key_403() -> bool:
    """Whether a missing key answers 403: the run-time switch, else the environment."""
    override = _missing_key_403_override[0]
    return os.environ.get(MISSING_KEY_403) == "1" if override is None else override


def set_missing_key_403(enabled: bool | None) -> None:
    _missing_key_403_override[0] = enabled


def patch_missing_key_403() -> None:
    """With ``LOCAL_AWS_S3_MISSING_KEY_403=1`` in the emulator's environment (read per request;
    ``PUT /_local_aws/s3/missing-key-403 {"enabled": true|false|null}`` overrides it at run time),
    HEAD and GET of a missing key in an existing bucket answer 403 ``AccessDenied`` instead of
    404 ``NoSuchKey``: what S3 answers a caller without ``s3:ListBucket`` (it will not say
    whether a key it may not list exists). A missing bucket stays 404 ``NoSuchBucket``."""
    from moto.s3.exceptions import MissingKey
    from moto.s3.responses import S3Response

    head, get = S3Response.head_object, S3Response.get_object
    if getattr(head, "_local_aws", False):
        return
    denied = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    )

    def head_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        status, headers, body = head(self, *args, **kwargs)
        if status == 404 and missing_key_403() and "x-amz-delete-marker" not in headers:
            return 403, headers, ""  # a HEAD has no body: boto3 sees code "403"
        return status, headers, body

    def get_object(self: Any) -> Any:
        try:
            return get(self)
        except MissingKey:
            if not missing_key_403():
                raise
            return 403, {"Content-Type": "application/xml"}, denied

    head_object._local_aws = True  # type: ignore[attr-defined]
    setattr(S3Response, "head_object", head_object)  # noqa: B010
    setattr(S3Response, "get_object", get_object)  # noqa: B010


def install(lambda_executor: LambdaExecutor) -> None:
    """Apply the patches (idempotent; the executor of the last call wins)."""
    _INSTALLED["executor"] = lambda_executor

    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config
    from moto.s3 import notifications

    setattr(LambdaFunction, "invoke", _patched_invoke)  # noqa: B010 - mypy: method-assign
    setattr(LambdaFunction, "_invoke_lambda", _patched_invoke_lambda)  # noqa: B010
    notifications._invoke_awslambda = _s3_invoke_awslambda
    _patch_multipart_notifications()
    _patch_list_object_versions_encoding()
    _patch_post_policy()
    _patch_stop_during_callback()
    patch_missing_key_403()
    from moto.s3.models import FakeBucket

    setattr(FakeBucket, "get_permission", _bucket_get_permission)  # noqa: B010
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
