"""DynamoDB ``TransactWriteItems`` idempotency by ``ClientRequestToken``, as DynamoDB does it.

botocore fills ``ClientRequestToken`` in on every ``TransactWriteItems`` call and keeps it for
the SDK's own retries. DynamoDB treats a repeat of a token within 10 minutes as the same
transaction: a call identical to one that succeeded returns success again without writing
anything, a different call with that token fails with ``IdempotentParameterMismatchException``.
moto ignores the token, so an SDK retry after a lost answer (a 500 or a dropped connection
after the commit) ran the transaction again and failed its conditions: a caller that guards a
counter with a condition (ADR 0003) saw "already counted" on the local stack where AWS says
"done". Called under the middleware's DynamoDB write lock: no two writes run at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from local_aws.wsgi import Environ, Response, StartResponse, json_response, read_body

TOKEN_SECONDS = 600.0  # DynamoDB: a token is valid for 10 minutes after the first call


@dataclass(frozen=True)
class _Done:
    at: float
    digest: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class TransactionTokens:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._done: dict[str, _Done] = {}

    def __call__(
        self,
        environ: Environ,
        start_response: StartResponse,
        app: Callable[[Environ, StartResponse], Iterable[bytes]],
    ) -> Iterable[bytes]:
        """Answer a repeated token from memory; else run ``app`` and remember a success."""
        token, digest = _token_and_digest(read_body(environ))
        if token is None:
            return app(environ, start_response)
        now = self._clock()
        with self._lock:
            self._done = {k: v for k, v in self._done.items() if now - v.at < TOKEN_SECONDS}
            done = self._done.get(token)
        if done is not None:
            if done.digest != digest:
                return json_response(
                    400,
                    {
                        "__type": "com.amazonaws.dynamodb.v20120810#"
                        "IdempotentParameterMismatchException",
                        "message": "The request uses the same client token as a previous, "
                        "but non-identical request.",
                    },
                    {"Content-Type": "application/x-amz-json-1.0"},
                )(start_response)
            return Response(done.status, done.body, done.headers)(start_response)
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = int(status.split(maxsplit=1)[0]), list(headers)
            return start_response(status, headers, exc_info)

        body = b"".join(app(environ, capture))
        if seen.get("status") == 200:
            kept = [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]
            with self._lock:
                self._done[token] = _Done(now, digest, 200, kept, body)
        return [body]


def _token_and_digest(body: bytes) -> tuple[str | None, str]:
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None, ""
    if not isinstance(request, dict) or not isinstance(request.get("ClientRequestToken"), str):
        return None, ""
    token = request.pop("ClientRequestToken")
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode("utf-8")).hexdigest()
    return str(token), digest
