"""Minimal WSGI helpers shared by the middleware pieces."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


@dataclass
class Response:
    """A complete response: status, body and headers (a list allows repeated names)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] | list[tuple[str, str]] = field(default_factory=dict)

    def header_list(self) -> list[tuple[str, str]]:
        items = list(self.headers.items()) if isinstance(self.headers, dict) else list(self.headers)
        if not any(name.lower() == "content-length" for name, _ in items):
            items.append(("Content-Length", str(len(self.body))))
        return items

    def __call__(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{self.status} {reason}", self.header_list())
        return [self.body]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    merged = {"Content-Type": "application/json"}
    merged.update(headers or {})
    return Response(status, json.dumps(body).encode("utf-8"), merged)


def read_body(environ: Environ) -> bytes:
    """The request body (and put it back so a wrapped app can read it again)."""
    import io

    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        body: bytes = stream.read()
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body
