"""What the emulator served, in the units AWS bills: ``/_local_aws/usage`` (``make cost``).

``GET`` returns the tally since the last reset, ``DELETE`` returns it and starts a new one:

- ``lambda``: per function, invocations, billed milliseconds (the handler's run, as Lambda's
  ``Billed Duration``, plus the init of cold starts, which Lambda bills too), its configured
  memory and the bytes its log lines came to (CloudWatch Logs ingestion);
- ``dynamodb``: per table, requests and read/write request units, computed here as DynamoDB
  bills them (moto's ``ConsumedCapacity`` is a constant): a write costs 1 WRU per KB of the
  larger of the item before and after (x2 in a transaction; a failed condition still costs);
  a ``GetItem`` 1 RRU per 4 KB of the whole item (0.5 eventually consistent); a ``Query`` or
  ``Scan`` 1 RRU per 4 KB of all the items it returned, summed first (whole items, looked up:
  a projection does not make a read cheaper; items a filter dropped are not seen here, so a
  filtered read is counted low);
- ``s3``: per bucket, requests by price class (``tier1``: PUT, COPY, POST, LIST, multipart
  parts; ``tier2``: GET, HEAD; ``free``: DELETE, aborts) and the bytes presigned GETs sent
  (``presigned_get_bytes``: browsers and Gemini fetch with presigned URLs, but so does ffmpeg in
  MediaProcess, in the region: the emulator cannot tell them apart, so this is not the transfer
  out; `make cost` counts that where the bytes arrive);
- ``http_api``: requests to the HTTP API data plane.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from local_aws import faults, s3cors
from local_aws.wsgi import Environ, Response, StartResponse, json_response

S3_TIER1 = frozenset(
    {
        "PutObject",
        "CopyObject",
        "PostObject",
        "ListObjects",
        "ListObjectsV2",
        "UploadPart",
        "UploadPartCopy",
        "CreateMultipartUpload",
        "CompleteMultipartUpload",
        "ListParts",
        "CreateBucket",
    }
)
S3_FREE = frozenset({"DeleteObject", "DeleteObjects", "AbortMultipartUpload", "DeleteBucket"})


def _zero() -> dict[str, float]:
    return defaultdict(float)


class Usage:
    """The tally (thread-safe). The executor and the middleware report into it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.lambdas: dict[str, dict[str, float]] = defaultdict(_zero)
        self.tables: dict[str, dict[str, float]] = defaultdict(_zero)
        self.buckets: dict[str, dict[str, float]] = defaultdict(_zero)
        self.http_api = 0

    def snapshot(self, reset: bool = False) -> dict[str, Any]:
        with self._lock:
            out = {
                "lambda": {k: dict(v) for k, v in self.lambdas.items()},
                "dynamodb": {k: dict(v) for k, v in self.tables.items()},
                "s3": {k: dict(v) for k, v in self.buckets.items()},
                "http_api": {"requests": self.http_api},
            }
            if reset:
                self._reset()
        return out

    def endpoint(self, environ: Environ) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in {"GET", "DELETE"}:
            return json_response(405, {"message": "GET reads the tally, DELETE resets it"})
        return json_response(200, self.snapshot(reset=method == "DELETE"))

    # ------------------------------------------------------------------ reports

    def invocation(self, function: str, memory_mb: int, run_ms: float, init_ms: float) -> None:
        with self._lock:
            fn = self.lambdas[function]
            fn["invocations"] += 1
            fn["memory_mb"] = memory_mb
            fn["billed_ms"] += math.ceil(run_ms) + math.ceil(init_ms)
            fn["init_ms"] += math.ceil(init_ms)
            fn["cold_starts"] += 1 if init_ms > 0 else 0

    def log_bytes(self, function: str, count: int) -> None:
        with self._lock:
            self.lambdas[function]["log_bytes"] += count

    def http_api_request(self) -> None:
        with self._lock:
            self.http_api += 1

    def dynamodb(self, table: str, rru: float = 0.0, wru: float = 0.0) -> None:
        with self._lock:
            t = self.tables[table]
            t["requests"] += 1
            t["rru"] += rru
            t["wru"] += wru

    def s3(self, bucket: str, operation: str, bytes_out: int = 0) -> None:
        tier = "free" if operation in S3_FREE else "tier1" if operation in S3_TIER1 else "tier2"
        with self._lock:
            b = self.buckets[bucket or "-"]
            b[tier] += 1
            b[f"op:{operation or 'other'}"] += 1
            b["presigned_get_bytes"] += bytes_out

    # ------------------------------------------------------------------ S3

    def s3_request(
        self, environ: Environ, start_response: StartResponse, app: Callable[..., Iterable[bytes]]
    ) -> Iterable[bytes]:
        """Serve an S3 request through ``app`` and count it (with a presigned GET's bytes)."""
        operation = faults.s3_operation(environ)
        bucket, _ = s3cors.bucket_and_key(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        presigned = "X-Amz-Signature" in query or "Signature" in query  # SigV4 or SigV2
        ok: list[bool] = [False]

        def keep_status(status: str, headers: Any, exc_info: Any = None) -> Any:
            ok[0] = status.startswith("2")
            return start_response(status, headers, exc_info)

        body = list(app(environ, keep_status))
        sent = sum(map(len, body)) if presigned and operation == "GetObject" and ok[0] else 0
        self.s3(bucket, operation, sent)
        return body
