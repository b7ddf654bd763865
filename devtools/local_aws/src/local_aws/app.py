"""The emulator's WSGI application: moto's server app wrapped in the project's middleware."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from local_aws import (
    __version__,
    apigw,
    ddb_units,
    faults,
    patches,
    s3cors,
    sites,
    stepfunctions,
    transactions,
    usage,
)
from local_aws.lambda_executor import LambdaExecutor
from local_aws.wsgi import Environ, Response, StartResponse, json_response, read_body

LOG = logging.getLogger("local_aws")
CREDENTIAL_REGION_RE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/")
# moto applies DynamoDB writes without a lock; DynamoDB itself makes each item write atomic
# (conditional writes, ADD counters), so writes are serialised here.
DYNAMODB_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
SERVICES = [
    "s3",
    "dynamodb",
    "lambda",
    "stepfunctions",
    "apigatewayv2",
    "iam",
    "sts",
    "logs",
    "ssm",
    "sqs",
    "sns",
]


def _region_of(environ: Environ) -> str:
    match = CREDENTIAL_REGION_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group("region") if match else "us-east-1"


class LocalAwsMiddleware:
    """Answers what moto lacks and passes everything else to moto's dispatcher."""

    def __init__(self, moto_app: Any, executor: LambdaExecutor) -> None:
        self.moto_app = moto_app
        self.executor = executor
        self.http_api = apigw.HttpApiDataPlane(executor)
        self.started = time.time()
        self._dynamodb_lock = threading.Lock()
        self.transactions = transactions.TransactionTokens()
        self.faults = faults.Faults()
        executor.faults = self.faults
        self.usage = usage.Usage()
        executor.usage = self.usage

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith(("/_local_aws/", "/_localstack/")):
            return self._internal(environ, path)(start_response)
        fault = self.faults.take_request_fault(environ)
        if fault is None:
            return self._dispatch(environ, start_response)
        faults.LOG.warning("fault %s: %s %s -> %s", fault.id, fault.when, path, fault.error)
        if fault.when == "after":  # carried out, but the caller never hears of it
            list(self._dispatch(environ, faults.discard))
        return faults.error_response(fault, environ)(start_response)

    def _dispatch(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        target = apigw.target_of(environ)
        if target is not None:
            self.usage.http_api_request()
            return self.http_api(environ, *target)(start_response)

        site = sites.target_of(environ)
        if site is not None:
            return sites.serve(environ, *site)(start_response)

        amz_target = environ.get("HTTP_X_AMZ_TARGET", "")
        if amz_target.startswith("AWSStepFunctions."):
            operation = amz_target.partition(".")[2]
            if operation in stepfunctions.HANDLERS:
                response = stepfunctions.handle(operation, read_body(environ), _region_of(environ))
                if response is not None:
                    return response(start_response)

        operation = amz_target.partition(".")[2]
        if amz_target.startswith("DynamoDB_") and operation in DYNAMODB_WRITES:
            with self._dynamodb_lock:
                patches.IN_LOCKED_WRITE.active = True
                try:
                    return ddb_units.count_write(
                        operation, environ, start_response, self._write, self.usage.dynamodb
                    )
                finally:
                    patches.IN_LOCKED_WRITE.active = False
        if amz_target.startswith("DynamoDB_") and operation in ddb_units.READS:
            return ddb_units.count_read(
                operation, environ, start_response, self.moto_app, self.usage.dynamodb
            )

        return self._moto(environ, start_response)

    def _write(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
            return list(self.transactions(environ, start_response, self.moto_app))
        return list(self.moto_app(environ, start_response))

    def _moto(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """moto's answer; for S3, CORS comes from the bucket's rules (not flask-cors's "*")."""
        app = self.moto_app.get_application(environ)
        if getattr(app, "service", None) != "s3":
            return app(environ, start_response)  # type: ignore[no-any-return]
        if environ.get("REQUEST_METHOD", "").upper() == "OPTIONS":
            bucket, _ = s3cors.bucket_and_key(environ)
            if bucket:
                return s3cors.preflight(environ)(start_response)
            # "OPTIONS /": a browser's preflight for a JSON-protocol service (all of them POST
            # to "/" and moto cannot tell which one without the signature); flask-cors answers.
            return app(environ, start_response)  # type: ignore[no-any-return]
        return self.usage.s3_request(environ, s3cors.with_bucket_cors(environ, start_response), app)

    def _internal(self, environ: Environ, path: str) -> Response:
        routes: dict[str, Callable[[Environ], Response]] = {
            "/_local_aws/health": self._health,
            "/_localstack/health": self._health,
            "/_local_aws/faults": self.faults.endpoint,
            "/_local_aws/usage": self.usage.endpoint,
            "/_local_aws/s3/missing-key-403": _missing_key_403_endpoint,
            "/_local_aws/lambda": lambda _: json_response(200, self.executor.stats()),
            "/_local_aws/lambda/wait-idle": self._wait_idle,
        }
        route = routes.get(path)
        if route is None:
            return json_response(404, {"message": f"unknown internal path {path}"})
        return route(environ)

    def _health(self, _environ: Environ) -> Response:
        return json_response(
            200,
            {
                "status": "ok",
                "version": __version__,
                "edition": "local-aws",
                "uptimeSeconds": round(time.time() - self.started, 3),
                "services": dict.fromkeys(SERVICES, "running"),
            },
        )

    def _wait_idle(self, environ: Environ) -> Response:
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        try:
            timeout = float(query.get("timeout", 30))
        except ValueError:
            timeout = 30.0
        idle = self.executor.wait_idle(timeout)
        return json_response(200 if idle else 408, {"idle": idle, **self.executor.stats()})


def _missing_key_403_endpoint(environ: Environ) -> Response:
    """GET: whether a missing key answers 403; PUT ``{"enabled": true|false|null}`` switches it
    (null: back to LOCAL_AWS_S3_MISSING_KEY_403)."""
    if environ.get("REQUEST_METHOD") == "PUT":
        try:
            enabled = json.loads(read_body(environ) or b"{}").get("enabled")
        except (ValueError, AttributeError):
            enabled = "invalid"
        if enabled not in (True, False, None):
            return json_response(400, {"message": 'PUT {"enabled": true | false | null}'})
        patches.set_missing_key_403(enabled)
    return json_response(200, {"enabled": patches.missing_key_403()})


def build_app(
    port: int, state_dir: Path, concurrency: int | None = None
) -> tuple[LocalAwsMiddleware, LambdaExecutor]:
    """moto's server app + the executor + patches. Sets MOTO_PORT for moto's SFN interpreter."""
    os.environ["MOTO_PORT"] = str(port)
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    executor = LambdaExecutor(
        state_dir,
        f"http://127.0.0.1:{port}",
        concurrency=concurrency,
        log_to_files=os.environ.get("LOCAL_AWS_FUNCTION_LOG_FILES", "1") != "0",
    )
    patches.install(executor)
    stepfunctions.install()
    moto_app = DomainDispatcherApplication(create_backend_app)
    return LocalAwsMiddleware(moto_app, executor), executor
