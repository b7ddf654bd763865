"""Host-process Lambda executor: runs a function's deployed zip in warm subprocess workers.

* The zip (moto's stored code bytes) is unpacked once per CodeSha256 under
  ``<state-dir>/code/<sha>``.
* A :class:`WorkerPool` per (function, code sha, handler, environment) keeps up to N warm
  workers (``LOCAL_AWS_LAMBDA_CONCURRENCY``, default 4). A worker imports the handler once and
  then serves invocations one at a time over pipes, like a Lambda execution environment.
* Workers run ``sys.executable -I -S``: the emulator's site-packages are not importable, only
  the unpacked zip is. Packaging mistakes fail here as they would on Lambda.
* The function's Timeout is enforced by killing the worker; handler errors come back as Lambda's
  ``{"errorMessage", "errorType", "stackTrace"}`` payload with ``FunctionError: Unhandled``.
* Asynchronous invocations (``InvocationType=Event``, S3 notifications) are queued per function
  and retried like Lambda's async invoke (2 retries unless the function's event invoke config
  says otherwise; delay ``LOCAL_AWS_ASYNC_RETRY_DELAY``, default 1 s).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from local_aws._worker import LOG_SENTINEL
from local_aws.faults import Faults, LambdaFault
from local_aws.usage import Usage

LOG = logging.getLogger("local_aws.lambda")
WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
# Variables of the emulator's own environment a worker inherits (everything else is Lambda's).
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME", "LD_LIBRARY_PATH", "SSL_CERT_FILE")
TAIL_LOG_BYTES = 4096
MAX_EVENT_AGE_SECONDS = 6 * 3600.0  # how long Lambda keeps an async event queued


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class FunctionSpec:
    """An immutable snapshot of what is needed to run one function version."""

    name: str
    arn: str
    region: str
    account_id: str
    handler: str
    timeout: int
    memory_size: int
    code_sha: str
    environment: tuple[tuple[str, str], ...]
    version: str = "$LATEST"
    runtime: str = "python3.12"
    code_bytes: bytes = field(default=b"", repr=False, compare=False, hash=False)
    max_async_retries: int | None = field(default=None, compare=False, hash=False)

    @property
    def pool_key(self) -> tuple[Any, ...]:
        return (
            self.arn,
            self.code_sha,
            self.handler,
            self.timeout,
            self.memory_size,
            self.environment,
        )

    @classmethod
    def from_moto(cls, fn: Any) -> FunctionSpec:
        """Snapshot a ``moto.awslambda.models.LambdaFunction``."""
        env = fn.environment_vars or {}
        retries: int | None = None
        for cfg in getattr(fn, "event_invoke_config", []) or []:
            value = getattr(cfg, "config", {}).get("MaximumRetryAttempts")
            if value is not None:
                retries = int(value)
        version = str(fn.version)
        return cls(
            name=fn.function_name,
            arn=fn.function_arn,
            region=fn.region,
            account_id=fn.account_id,
            handler=fn.handler or "",
            timeout=int(fn.timeout or 3),
            memory_size=int(fn.memory_size or 128),
            code_sha=getattr(fn, "code_digest", "") or "",
            environment=tuple(sorted((str(k), str(v)) for k, v in env.items())),
            version="$LATEST" if version in {"1", "$LATEST"} else version,
            runtime=fn.run_time or "python3.12",
            code_bytes=getattr(fn, "code_bytes", b"") or b"",
            max_async_retries=retries,
        )


@dataclass
class InvokeResult:
    """What one invocation produced: payload bytes plus Lambda's FunctionError, if any."""

    payload: bytes
    request_id: str
    function_error: str | None = None
    logs: str = ""
    duration_ms: float = 0.0

    @property
    def error_type(self) -> str | None:
        if not self.function_error:
            return None
        try:
            value = json.loads(self.payload).get("errorType")
        except (ValueError, AttributeError):
            return None
        return str(value) if value is not None else None

    def log_tail_b64(self) -> str:
        return base64.b64encode(self.logs.encode("utf-8")[-TAIL_LOG_BYTES:]).decode("ascii")


def _error_payload(message: str, error_type: str, request_id: str = "") -> bytes:
    body: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if request_id:
        body["requestId"] = request_id
    return json.dumps(body).encode("utf-8")


class CodeCache:
    """Unpacked deployment packages, keyed by the zip's sha256 (moto's CodeSha256, hex)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def path_for(self, spec: FunctionSpec) -> Path:
        sha = spec.code_sha or hashlib.sha256(spec.code_bytes).hexdigest()
        target = self.root / sha
        if target.is_dir():
            return target
        with self._lock:
            lock = self._locks.setdefault(sha, threading.Lock())
        with lock:
            if target.is_dir():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".{sha}.{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                with zipfile.ZipFile(io.BytesIO(spec.code_bytes)) as archive:
                    for info in archive.infolist():
                        extracted = Path(archive.extract(info, staging))
                        mode = (info.external_attr >> 16) & 0o777
                        if mode and not info.is_dir():
                            extracted.chmod(mode | 0o400)
                staging.rename(target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target


class FunctionLog:
    """Per-function log sink: the emulator's log (prefixed) and optionally a file."""

    def __init__(
        self, name: str, path: Path | None, on_write: Callable[[str, int], None] | None = None
    ) -> None:
        self.name = name
        self._on_write = on_write  # (function, bytes): CloudWatch Logs ingestion for the usage
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, line: str) -> None:
        LOG.info("[%s] %s", self.name, line)
        if self._on_write is not None:
            self._on_write(self.name, len(line.encode("utf-8")) + 1)
        if self._file is not None:
            with self._lock:
                self._file.write(line + "\n")

    def close(self) -> None:
        if self._file is not None:
            with self._lock:
                self._file.close()
                self._file = None


class WorkerDied(Exception):
    pass


class Worker:
    """One warm subprocess; serves one invocation at a time."""

    def __init__(
        self, spec: FunctionSpec, code_dir: Path, env: dict[str, str], log: FunctionLog
    ) -> None:
        self.spec = spec
        self.log = log
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._log_lock = threading.Lock()
        self._log_buf: list[str] | None = None
        self._log_done = threading.Event()
        # Called with each log line while set (fault injection: kill on a given line).
        self.on_log_line: Callable[[str], None] | None = None
        self.invocations = 0
        self.last_used = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-u", str(WORKER_SCRIPT), str(code_dir), spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(code_dir),
            env=env,
            close_fds=True,
            # Own process group: a timeout also kills what the handler started (ffmpeg, ...).
            start_new_session=True,
        )
        self._threads = [
            threading.Thread(
                target=self._read_replies, name=f"lambda-reply-{spec.name}", daemon=True
            ),
            threading.Thread(target=self._pump_logs, name=f"lambda-log-{spec.name}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_replies(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self._replies.put(json.loads(raw))
            except ValueError:
                LOG.warning("[%s] bad reply from worker: %r", self.spec.name, raw[:200])
        self._replies.put(None)

    def _pump_logs(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            done = False
            if LOG_SENTINEL in line:
                line, _, _ = line.partition(LOG_SENTINEL)
                done = True
            if line or not done:
                self.log.write(line)
                watcher = self.on_log_line
                if watcher is not None:
                    watcher(line)
                with self._log_lock:
                    if self._log_buf is not None:
                        self._log_buf.append(line)
            if done:
                self._log_done.set()
        self._log_done.set()

    def _take_logs(self) -> list[str]:
        with self._log_lock:
            lines, self._log_buf = self._log_buf or [], None
        return lines

    def wait_ready(self, timeout: float) -> dict[str, Any] | None:
        """The worker's first message: ``ready`` or ``init_error`` (None if it died/timed out)."""
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            return None

    def start_logging(self) -> None:
        with self._log_lock:
            self._log_buf = []
        self._log_done.clear()

    def invoke(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Send one request; the reply, or None on timeout. Raises WorkerDied."""
        assert self.proc.stdin is not None
        self.invocations += 1
        try:
            self.proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(str(exc)) from exc
        try:
            reply = self._replies.get(timeout=max(timeout, 0.001))
        except queue.Empty:
            return None
        if reply is None:
            raise WorkerDied(f"exit status {self.proc.wait()}")
        self._log_done.wait(1.0)
        return reply

    def _close(self) -> None:
        """After the process exited: let the reader threads drain, then close the pipes."""
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(2)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()

    def kill_group(self) -> None:
        """SIGKILL the worker's process group, nothing else: the invocation waiting on it sees
        the worker die (fault injection)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def kill(self) -> None:
        if self.proc.poll() is None:
            # The group id is the worker's pid, ours for sure while the worker is alive.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self._close()

    def stop(self) -> None:
        """Graceful stop of an idle worker: EOF on its stdin ends its loop."""
        with contextlib.suppress(Exception):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()
            return
        self._close()


class _ArmedKills:
    """The kill rules of one invocation (fault injection): armed before the event is sent, a
    timer (``afterMs``) or a log watcher (``onLog``) kills the worker's process group."""

    def __init__(self, executor: LambdaExecutor, worker: Worker) -> None:
        self.faults: Faults | None = executor.faults
        self.worker = worker
        self.rules: list[LambdaFault] = []
        self.timers: list[threading.Timer] = []
        self.fired: LambdaFault | None = None
        self._lock = threading.Lock()

    def arm(self) -> None:
        if self.faults is None:
            return
        spec = self.worker.spec
        self.rules = self.faults.lambda_faults(spec.name, spec.arn)
        watched = [rule for rule in self.rules if rule.on_log]
        if watched:
            self.worker.on_log_line = lambda line: self._on_line(line, watched)
        for rule in self.rules:
            if not rule.on_log:
                timer = threading.Timer(rule.after_ms / 1000, self._fire, (rule,))
                timer.daemon = True
                self.timers.append(timer)
                timer.start()

    def _on_line(self, line: str, watched: list[LambdaFault]) -> None:
        for rule in watched:
            if rule.on_log and rule.on_log in line:
                self._fire(rule)

    def _fire(self, rule: LambdaFault) -> None:
        with self._lock:
            if self.fired is not None or self.faults is None or not self.faults.fire(rule):
                return
            self.fired = rule
        LOG.warning(
            "[%s] fault %s: killing the worker (%s)", self.worker.spec.name, rule.id, rule.kill
        )
        self.worker.kill_group()

    def disarm(self) -> None:
        self.worker.on_log_line = None
        for timer in self.timers:
            timer.cancel()


class TooManyRequests(Exception):
    """No execution environment became free in time (Lambda's 429)."""


class WorkerPool:
    """Warm workers of one function configuration; at most ``max_workers`` run at once."""

    def __init__(self, spec: FunctionSpec, executor: LambdaExecutor, max_workers: int) -> None:
        self.spec = spec
        self.executor = executor
        self.max_workers = max(1, max_workers)
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._count = 0
        self.retired = False
        self.closed = False
        self.cold_starts = 0
        self._all: set[Worker] = set()

    def _worker_env(self) -> dict[str, str]:
        spec = self.spec
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_SESSION_TOKEN": "test",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_ENDPOINT_URL": self.executor.endpoint_url,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{spec.name}",
                "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
                "LAMBDA_RUNTIME_DIR": str(WORKER_SCRIPT.parent),
                "_HANDLER": spec.handler,
                "TZ": ":UTC",
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "",
            }
        )
        env.pop("PYTHONDONTWRITEBYTECODE")
        env.update(dict(spec.environment))
        return env

    def _spawn(self) -> Worker:
        code_dir = self.executor.code_cache.path_for(self.spec)
        env = self._worker_env()
        env["LAMBDA_TASK_ROOT"] = str(code_dir)
        env["PYTHONPATH"] = str(code_dir)
        self.cold_starts += 1
        worker = Worker(self.spec, code_dir, env, self.executor.function_log(self.spec.name))
        with self._cond:
            self._all.add(worker)
        return worker

    def acquire(self, wait: float) -> tuple[Worker | None, bool]:
        """An idle worker, or a free slot to start one (None, True); raises TooManyRequests."""
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                if self.closed:
                    raise TooManyRequests("the emulator is shutting down")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker, False
                    self._count -= 1
                    worker.kill()
                if self._count < self.max_workers:
                    self._count += 1
                    return None, True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TooManyRequests(f"Rate Exceeded. (concurrency {self.max_workers})")
                self._cond.wait(remaining)

    def release(self, worker: Worker | None, healthy: bool) -> None:
        with self._cond:
            if worker is not None and healthy and worker.alive and not self.retired:
                worker.last_used = time.monotonic()
                self._idle.append(worker)
            else:
                self._count -= 1
                if worker is not None:
                    self._all.discard(worker)
                    threading.Thread(target=worker.kill, daemon=True).start()
            self._cond.notify()

    def reap(self, max_idle: float) -> None:
        """Stop workers idle for longer than ``max_idle`` seconds (Lambda reclaims them too)."""
        cutoff = time.monotonic() - max_idle
        with self._cond:
            old = [w for w in self._idle if w.last_used < cutoff]
            self._idle = [w for w in self._idle if w.last_used >= cutoff]
            self._count -= len(old)
            self._all.difference_update(old)
            self._cond.notify_all()
        for worker in old:
            worker.stop()

    def retire(self) -> None:
        with self._cond:
            self.retired = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._all.difference_update(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.stop()

    def close(self) -> None:
        """Shutdown: stop idle workers, kill busy ones (their invocations fail at once)."""
        with self._cond:
            self.closed = True
        self.retire()
        with self._cond:
            busy, self._all = list(self._all), set()
        for worker in busy:
            worker.kill()

    def _cold_start(self, request_id: str) -> Worker | InvokeResult:
        """A new worker that imported the handler, or the init error as an invoke result."""
        try:
            worker = self._spawn()
        except (OSError, zipfile.BadZipFile) as exc:
            message = f"Could not unpack or start the function: {exc}"
            return InvokeResult(
                _error_payload(message, "Runtime.InvalidEntrypoint"), request_id, "Unhandled"
            )
        # Init has Lambda's 10 s budget, not the invoke timeout.
        ready = worker.wait_ready(max(10.0, float(self.spec.timeout)))
        if ready is not None and ready.get("type") == "ready":
            return worker
        logs = "\n".join(worker._take_logs())
        worker.kill()
        if ready is not None:
            error = json.dumps(ready.get("error") or {}).encode("utf-8")
        else:
            code = worker.proc.poll()
            reason = "init timed out" if code is None else f"exit status {code}"
            error = _error_payload(
                f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
                "Runtime.ExitError",
            )
        return InvokeResult(error, request_id, "Unhandled", logs)

    def _request(self, request_id: str, payload: bytes, deadline: float) -> dict[str, Any]:
        spec = self.spec
        return {
            "requestId": request_id,
            "payload": payload.decode("utf-8") if payload else "{}",
            "deadlineMs": int(deadline * 1000),
            "functionArn": spec.arn,
            "functionName": spec.name,
            "functionVersion": spec.version,
            "memoryLimitInMb": spec.memory_size,
            "logGroupName": f"/aws/lambda/{spec.name}",
            "logStreamName": f"local/{spec.name}",
        }

    def _run(self, worker: Worker, payload: bytes, request_id: str) -> tuple[InvokeResult, bool]:
        """Run one invocation on a ready worker: (result, worker still usable)."""
        spec = self.spec
        deadline = time.time() + spec.timeout
        worker.start_logging()
        worker.log.write(f"START RequestId: {request_id} Version: {spec.version}")
        armed = _ArmedKills(self.executor, worker)
        try:
            armed.arm()
            reply = worker.invoke(
                self._request(request_id, payload, deadline), deadline - time.time()
            )
        except WorkerDied as exc:
            if armed.fired is not None and armed.fired.kill == "timeout":
                reply = None  # reported as Lambda reports its timeout
            else:
                message = f"RequestId: {request_id} Error: Runtime exited with error: {exc}"
                logs = "\n".join(worker._take_logs())
                return InvokeResult(
                    _error_payload(message, "Runtime.ExitError"), request_id, "Unhandled", logs
                ), False
        finally:
            armed.disarm()
        if reply is None:
            worker.kill()
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            message = f"{stamp} {request_id} Task timed out after {spec.timeout:.2f} seconds"
            worker.log.write(message)
            logs = "\n".join(worker._take_logs())
            return InvokeResult(
                _error_payload(message, "Sandbox.Timedout"), request_id, "Unhandled", logs
            ), False
        logs = "\n".join(worker._take_logs())
        if reply.get("ok"):
            result = str(reply.get("result", "null")).encode("utf-8")
            return InvokeResult(result, request_id, None, logs), True
        error = dict(reply.get("error") or {})
        error.pop("requestId", None)
        return InvokeResult(json.dumps(error).encode("utf-8"), request_id, "Unhandled", logs), True

    def invoke(self, payload: bytes, request_id: str, wait: float) -> InvokeResult:
        started = time.monotonic()
        worker, _ = self.acquire(wait)
        healthy = False
        init_ms = run_ms = 0.0
        try:
            if worker is None:
                cold = time.monotonic()
                started_worker = self._cold_start(request_id)
                init_ms = (time.monotonic() - cold) * 1000
                if isinstance(started_worker, InvokeResult):
                    return started_worker
                worker = started_worker
            running = time.monotonic()
            result, healthy = self._run(worker, payload, request_id)
            run_ms = (time.monotonic() - running) * 1000
            return result
        finally:
            usage = self.executor.usage
            if usage is not None:
                usage.invocation(self.spec.name, self.spec.memory_size, run_ms, init_ms)
            if worker is not None:
                elapsed = (time.monotonic() - started) * 1000
                worker.log.write(f"END RequestId: {request_id}")
                worker.log.write(
                    f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\t"
                    f"Memory Size: {self.spec.memory_size} MB"
                )
            self.release(worker, healthy)


class LambdaExecutor:
    """Runs functions for every invoke path (direct, async, S3, Step Functions, HTTP API)."""

    def __init__(
        self,
        state_dir: Path,
        endpoint_url: str,
        concurrency: int | None = None,
        async_retry_delay: float | None = None,
        log_to_files: bool = True,
    ) -> None:
        self.state_dir = state_dir
        self.endpoint_url = endpoint_url
        self.concurrency = concurrency or _env_int("LOCAL_AWS_LAMBDA_CONCURRENCY", 4)
        self.async_retry_delay = (
            async_retry_delay
            if async_retry_delay is not None
            else _env_float("LOCAL_AWS_ASYNC_RETRY_DELAY", 1.0)
        )
        self.queue_timeout = _env_float("LOCAL_AWS_LAMBDA_QUEUE_TIMEOUT", 300.0)
        self.code_cache = CodeCache(state_dir / "code")
        self._log_dir = state_dir / "logs" if log_to_files else None
        self._lock = threading.Lock()
        self._pools: dict[tuple[Any, ...], WorkerPool] = {}
        self._logs: dict[str, FunctionLog] = {}
        # One queue per function (like Lambda's per-function async queue): a backlog of S3
        # events for one function never holds up another function's events.
        self._async: dict[str, ThreadPoolExecutor] = {}
        self._pending = 0
        self._pending_cond = threading.Condition()
        self._closed = False
        self.idle_seconds = _env_float("LOCAL_AWS_LAMBDA_IDLE_SECONDS", 600.0)
        self._stop_janitor = threading.Event()
        self.faults: Faults | None = None  # fault injection (the middleware sets it)
        self.usage: Usage | None = None  # the billing tally (the middleware sets it)
        threading.Thread(target=self._janitor, name="lambda-janitor", daemon=True).start()

    def function_log(self, name: str) -> FunctionLog:
        with self._lock:
            log = self._logs.get(name)
            if log is None:
                path = self._log_dir / f"{name}.log" if self._log_dir else None
                log = self._logs[name] = FunctionLog(name, path, self._log_written)
            return log

    def _log_written(self, name: str, count: int) -> None:
        if self.usage is not None:
            self.usage.log_bytes(name, count)

    def pool_for(self, spec: FunctionSpec) -> WorkerPool:
        key = spec.pool_key
        stale: list[WorkerPool] = []
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                # A new configuration or code of a function retires its older pools.
                for other_key, other in list(self._pools.items()):
                    if other.spec.arn == spec.arn:
                        stale.append(self._pools.pop(other_key))
                pool = self._pools[key] = WorkerPool(spec, self, self.concurrency)
        for old in stale:
            old.retire()
        return pool

    def invoke(
        self,
        spec: FunctionSpec,
        payload: bytes,
        request_id: str | None = None,
        wait: float | None = None,
    ) -> InvokeResult:
        """A synchronous (RequestResponse) invocation; waits up to ``wait`` s for a free worker
        (default ``LOCAL_AWS_LAMBDA_QUEUE_TIMEOUT``), then raises TooManyRequests."""
        request_id = request_id or str(uuid.uuid4())
        if not spec.code_bytes and not spec.code_sha:
            return InvokeResult(
                _error_payload(
                    "The function has no zip code package to run locally",
                    "Runtime.InvalidEntrypoint",
                ),
                request_id,
                "Unhandled",
            )
        started = time.monotonic()
        wait = self.queue_timeout if wait is None else wait
        result = self.pool_for(spec).invoke(payload, request_id, wait)
        result.duration_ms = (time.monotonic() - started) * 1000
        return result

    def invoke_async(
        self, spec: FunctionSpec, payload: bytes, request_id: str | None = None
    ) -> str:
        """Queue an ``Event`` invocation; returns its request id immediately."""
        request_id = request_id or str(uuid.uuid4())
        retries = spec.max_async_retries if spec.max_async_retries is not None else 2
        with self._pending_cond:
            self._pending += 1
        self._submit(spec, payload, request_id, 0, retries)
        return request_id

    def _submit(
        self, spec: FunctionSpec, payload: bytes, request_id: str, attempt: int, retries: int
    ) -> None:
        if self._closed:
            self._done_one()
            return
        with self._lock:
            async_queue = self._async.get(spec.arn)
            if async_queue is None:
                async_queue = self._async[spec.arn] = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix=f"async-{spec.name}"
                )
        async_queue.submit(self._run_async, spec, payload, request_id, attempt, retries)

    def _run_async(
        self, spec: FunctionSpec, payload: bytes, request_id: str, attempt: int, retries: int
    ) -> None:
        try:
            result = self.invoke(spec, payload, request_id, wait=MAX_EVENT_AGE_SECONDS)
        except Exception as exc:
            LOG.exception("[%s] async invocation %s crashed", spec.name, request_id)
            result = InvokeResult(
                _error_payload(str(exc), type(exc).__name__), request_id, "Unhandled"
            )
        if result.function_error is None:
            self._done_one()
            return
        if attempt < retries and not self._closed:
            LOG.warning(
                "[%s] async invocation %s failed (%s), retry %d/%d in %.1fs",
                spec.name,
                request_id,
                result.error_type,
                attempt + 1,
                retries,
                self.async_retry_delay,
            )
            timer = threading.Timer(
                self.async_retry_delay,
                self._submit,
                (spec, payload, request_id, attempt + 1, retries),
            )
            timer.daemon = True
            timer.start()
            return
        LOG.error(
            "[%s] async invocation %s failed after %d attempt(s): %s",
            spec.name,
            request_id,
            attempt + 1,
            result.payload.decode("utf-8", "replace")[:500],
        )
        self._done_one()

    def _done_one(self) -> None:
        with self._pending_cond:
            self._pending -= 1
            self._pending_cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no asynchronous invocation is queued, running or awaiting a retry."""
        deadline = time.monotonic() + timeout
        with self._pending_cond:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._pending_cond.wait(remaining)
        return True

    def stats(self) -> dict[str, Any]:
        with self._lock:
            pools = list(self._pools.values())
        with self._pending_cond:
            pending = self._pending
        return {
            "pendingAsync": pending,
            "pools": [
                {
                    "function": p.spec.name,
                    "codeSha256": p.spec.code_sha,
                    "workers": p._count,
                    "idle": len(p._idle),
                    "coldStarts": p.cold_starts,
                }
                for p in pools
            ],
        }

    def _janitor(self) -> None:
        while not self._stop_janitor.wait(min(30.0, max(self.idle_seconds / 4, 0.05))):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap(self.idle_seconds)

    def shutdown(self) -> None:
        self._closed = True
        self._stop_janitor.set()
        with self._lock:
            queues, self._async = list(self._async.values()), {}
        for async_queue in queues:
            async_queue.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            logs, self._logs = list(self._logs.values()), {}
        for pool in pools:
            pool.close()
        for log in logs:
            log.close()
