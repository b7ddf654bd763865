"""Lambda runtime worker: one warm Python process per concurrent execution environment.

Started by :mod:`local_aws.lambda_executor` as ``python -I -S -u _worker.py CODE_DIR HANDLER``:
isolated mode (no ``PYTHON*`` variables, no script directory on ``sys.path``) and no ``site``
(so the emulator's virtualenv is not importable). Only the standard library may be used here,
and ``CODE_DIR`` (the unpacked deployment zip) is the only import root added, exactly like
``/var/task`` on Lambda.

Protocol (newline-delimited JSON):

* stdin  -> worker: ``{"requestId", "payload" (JSON text), "deadlineMs", "functionArn", ...}``
* worker -> stdout: first ``{"type": "ready"}`` or ``{"type": "init_error", "error": {...}}``,
  then one ``{"type": "result", "ok": bool, "result"|"error": ...}`` per request.

The handler's own ``print`` output and logging go to stderr (fd 1 is re-pointed at fd 2 before
the handler is imported); after each invocation a sentinel line marks the end of its logs.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import IO, Any

LOG_SENTINEL = "\x1elocal-aws-end "


class LambdaContext:
    """The subset of Lambda's context object that handlers use."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["requestId"]
        self.function_name: str = request["functionName"]
        self.function_version: str = request.get("functionVersion", "$LATEST")
        self.invoked_function_arn: str = request["functionArn"]
        self.memory_limit_in_mb: int = int(request.get("memoryLimitInMb", 128))
        self.log_group_name: str = request.get("logGroupName", "")
        self.log_stream_name: str = request.get("logStreamName", "")
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms: int = int(request["deadlineMs"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _error(
    exc: BaseException,
    error_type: str | None = None,
    message: str | None = None,
    skip_frames: int = 0,
) -> dict[str, Any]:
    tb = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(tb),
    }


def _send(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode("utf-8") + b"\n")
    out.flush()


def _load_handler(spec: str) -> Any:
    module_name, _, func_name = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{spec}': not enough values to unpack")
    module_name = module_name.replace("/", ".")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, func_name)
    except AttributeError:
        raise AttributeError(f"Handler '{func_name}' missing on module '{module_name}'") from None


def _init_error(exc: BaseException, spec: str) -> dict[str, Any]:
    module_name = spec.rpartition(".")[0]
    if isinstance(exc, SyntaxError):
        return _error(
            exc, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        )
    if isinstance(exc, ImportError):
        return _error(
            exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    if isinstance(exc, AttributeError) and str(exc).startswith("Handler "):
        return _error(exc, "Runtime.HandlerNotFound")
    return _error(exc)


def _install_logging(request_filter: _RequestIdFilter) -> None:
    """Like Lambda's Python runtime: a root handler so ``setLevel(INFO)`` makes logs appear."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    logging.Formatter.converter = time.gmtime
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def main() -> None:
    code_dir, handler_spec = sys.argv[1], sys.argv[2]
    # Protocol channels are private duplicates; the handler sees /dev/null on stdin and its
    # stdout shares the log pipe with stderr.
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.path.insert(0, code_dir)
    request_filter = _RequestIdFilter()
    _install_logging(request_filter)

    try:
        handler = _load_handler(handler_spec)
    except Exception as exc:
        error = _init_error(exc, handler_spec)
        print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        _send(proto_out, {"type": "init_error", "error": error})
        return
    _send(proto_out, {"type": "ready"})

    for line in proto_in:
        request = json.loads(line)
        request_id = request["requestId"]
        request_filter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = request.get("traceId", "")
        context = LambdaContext(request)
        reply: dict[str, Any]
        try:
            event = json.loads(request["payload"])
            result = handler(event, context)
            try:
                reply = {"type": "result", "ok": True, "result": json.dumps(result)}
            except (TypeError, ValueError) as exc:
                reply = {
                    "type": "result",
                    "ok": False,
                    "error": _error(
                        exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}"
                    ),
                }
        except Exception as exc:
            error = _error(exc, skip_frames=1)  # not this runtime's own frame
            error["requestId"] = request_id
            print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
            traceback.print_exc()
            reply = {"type": "result", "ok": False, "error": error}
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stderr.write(f"{LOG_SENTINEL}{request_id}\n")
        sys.stderr.flush()
        _send(proto_out, reply)


if __name__ == "__main__":
    main()
