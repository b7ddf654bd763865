"""A fake Gemini API on loopback, speaking the REST shape the google-genai SDK uses.

    with FakeGemini(latency=0.0) as fake:
        client = make_client("test-key", base_url=fake.base_url, ...)
        fake.script(Reply(status=429), Reply())       # then: answers
        ...
        fake.calls[0].file_ids, fake.calls[0].media, fake.calls[0].schema

``POST /{v1,v1beta}/models/{model}:generateContent`` is answered with a ``candidates[0]``
whose text is the JSON verdict list for the files named in the request (``fileId: <id>`` text
parts), or with a scripted reply: an HTTP error in Google's error shape, a delay (a hung call),
model text that is not JSON, omitted files, unknown or repeated ids. Every request is recorded
for assertions. Reusable by e2e tests (``python tests/support/fake_gemini.py --port 0`` serves too).

``usageMetadata`` is counted the way Gemini documents it (ai.google.dev/gemini-api/docs/tokens):
text about 4 characters per token (system instruction, parts and the response schema); an image
258 tokens when both sides are at most 384 px, else 258 per 768x768 tile; video 263 tokens per
second (the duration from the file's ``type: video (N s)`` line). With ``fetch_urls`` media given
by URL is fetched, as Gemini fetches it (the emulator then counts the presigned GETs), and an
image's tiles come from its real size; without, a URL image counts one tile. Output: the
answer's characters / 4; ``thoughtsTokenCount`` only when a reply scripts thinking
(``Reply(thoughts=N)``).
``usage`` records what each answer reported.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.request import urlopen

_FILE_ID = re.compile(r"^fileId: (\S+)$", re.MULTILINE)
_FILENAME = re.compile(r"^filename: (.*)$", re.MULTILINE)
_DURATION = re.compile(r"^type: video \((\d+) s\)$", re.MULTILINE)
CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 258  # an image up to 384 px a side, and each 768x768 tile of a larger one
SMALL_IMAGE_PX, TILE_PX = 384, 768
VIDEO_TOKENS_PER_SECOND = 263
_PATH = re.compile(r"^/(v1|v1beta|v1alpha)/models/([^/:]+):generateContent$")
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Call:
    """One request the SDK sent."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def model(self) -> str:
        match = _PATH.match(self.path)
        return match.group(2) if match else ""

    @property
    def parts(self) -> list[dict[str, Any]]:
        return [p for c in self.body.get("contents", []) for p in c.get("parts", [])]

    @property
    def texts(self) -> list[str]:
        return [p["text"] for p in self.parts if "text" in p]

    @property
    def file_ids(self) -> list[str]:
        return [m for t in self.texts for m in _FILE_ID.findall(t)]

    @property
    def filenames(self) -> dict[str, str]:
        out = {}
        for text in self.texts:
            ids, names = _FILE_ID.findall(text), _FILENAME.findall(text)
            out.update(zip(ids, names, strict=False))
        return out

    @property
    def media(self) -> list[dict[str, str]]:
        """``{"kind": "uri"|"inline", "mime": ..., "uri"?: ...}`` per media part, in order."""
        out = []
        for part in self.parts:
            data = part.get("fileData") or part.get("file_data")
            if data is not None:
                uri = data.get("fileUri") or data.get("file_uri")
                mime = data.get("mimeType") or data.get("mime_type")
                out.append({"kind": "uri", "mime": mime, "uri": uri})
            inline = part.get("inlineData") or part.get("inline_data")
            if inline is not None:
                mime = inline.get("mimeType") or inline.get("mime_type")
                out.append({"kind": "inline", "mime": mime, "size": str(len(inline["data"]))})
        return out

    @property
    def generation_config(self) -> dict[str, Any]:
        return dict(self.body.get("generationConfig") or {})

    @property
    def schema(self) -> dict[str, Any] | None:
        cfg = self.generation_config
        return cfg.get("responseSchema") or cfg.get("responseJsonSchema")


@dataclass
class Reply:
    """What to answer one request with (defaults: a verdict for every file, after latency)."""

    status: int = 200
    delay: float | None = None  # None: the server's latency
    text: str | None = None  # the model's text verbatim (e.g. invalid JSON)
    omit: frozenset[str] = frozenset()  # fileIds left out of the answer
    extra: list[dict[str, Any]] = field(default_factory=list)  # appended entries
    message: str = "fake error"
    raw_body: bytes | None = None  # the HTTP body verbatim (not even the envelope)
    thoughts: int = 0  # thinking tokens to report (billed as output)


def default_judge(file_id: str, filename: str) -> dict[str, Any]:
    """Discard files whose name says what is wrong with them; keep the others."""
    name = filename.lower()
    for issue in ("dark", "blurry", "overexposed", "accidental"):
        if issue in name:
            return {
                "fileId": file_id,
                "verdict": "discard",
                "reason": f"The shot is {issue}.",
                "score": 15,
                "issues": [issue],
            }
    return {
        "fileId": file_id,
        "verdict": "keep",
        "reason": "Sharp and well lit.",
        "score": 85,
        "issues": [],
    }


class FakeGemini:
    def __init__(
        self,
        latency: float = 0.0,
        judge: Callable[[str, str], dict[str, Any]] = default_judge,
        api_key: str | None = None,
        responder: Callable[[Call], Reply | None] | None = None,
        fetch_urls: bool = False,
    ) -> None:
        self.fetch_urls = fetch_urls
        self.fetched_bytes = 0  # media fetched by URL (fetch_urls): S3's transfer out
        self.latency = latency
        self.judge = judge
        self.responder = responder  # per-request decisions (None: the script, then Reply())
        self.api_key = api_key
        self.calls: list[Call] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.max_in_flight = 0
        self.usage: list[dict[str, int]] = []  # the usageMetadata of every answer
        self._in_flight = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that time out and hang up are part of the scenarios

        self._server = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------ behaviour

    def script(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; later ones get ``Reply()``."""
        with self._lock:
            self._script.extend(replies)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply()

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length)
        call = Call(req.path, dict(req.headers.items()), json.loads(raw or b"{}"), time.monotonic())
        with self._lock:
            self.calls.append(call)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            reply = (self.responder(call) if self.responder else None) or self._next_reply()
            self._sleep(self.latency if reply.delay is None else reply.delay)
            if not _PATH.match(req.path):
                status, body = 404, self._error(404, f"no route {req.path}")
            elif self.api_key is not None and req.headers.get("x-goog-api-key") != self.api_key:
                status, body = (
                    400,
                    self._error(400, "API key not valid. Please pass a valid API key."),
                )
            elif reply.status != 200:
                status, body = reply.status, self._error(reply.status, reply.message)
            else:
                status, body = 200, reply.raw_body or self._answer(call, reply)
            self._send(req, status, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout)
        finally:
            with self._lock:
                self._in_flight -= 1

    @staticmethod
    def _error(status: int, message: str) -> bytes:
        return json.dumps(
            {
                "error": {
                    "code": status,
                    "message": message,
                    "status": _STATUS.get(status, "UNKNOWN"),
                }
            }
        ).encode()

    def _answer(self, call: Call, reply: Reply) -> bytes:
        if reply.text is not None:
            text = reply.text
        else:
            names = call.filenames
            entries = [
                self.judge(fid, names.get(fid, ""))
                for fid in call.file_ids
                if fid not in reply.omit
            ]
            text = json.dumps({"verdicts": [*entries, *reply.extra]})
        return json.dumps(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": self._usage(call, text, reply.thoughts),
                "modelVersion": call.model,
                "responseId": f"fake-{len(self.calls)}",
            }
        ).encode()

    def _usage(self, call: Call, answer: str, thoughts: int) -> dict[str, int]:
        fetch = self._fetch if self.fetch_urls else None
        prompt, output = prompt_tokens(call, fetch=fetch), text_tokens(answer)
        usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": output,
            "totalTokenCount": prompt + output + thoughts,
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        with self._lock:
            self.usage.append(usage)
        return usage

    def _fetch(self, uri: str) -> bytes:
        body = _fetch(uri)
        with self._lock:
            self.fetched_bytes += len(body)
        return body

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=UTF-8")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
        req.wfile.flush()


def main() -> None:  # pragma: no cover - a manual / e2e helper
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeGemini(latency=args.latency).start(args.port)
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------- token counting


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def image_tokens(width: int, height: int) -> int:
    if width <= SMALL_IMAGE_PX and height <= SMALL_IMAGE_PX:
        return IMAGE_TOKENS
    return IMAGE_TOKENS * math.ceil(width / TILE_PX) * math.ceil(height / TILE_PX)


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return None


def _fetch(uri: str) -> bytes:
    try:
        with urlopen(uri, timeout=30) as resp:
            return bytes(resp.read())
    except Exception:
        return b""


def _b64(data: str) -> bytes:
    """The SDK sends url-safe base64 without padding; accept the standard alphabet too."""
    data = data.replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def media_tokens(mime: str, data: bytes, seconds: int | None) -> int:
    if mime.startswith("video/"):
        return VIDEO_TOKENS_PER_SECOND * max(1, seconds or 1)
    size = _image_size(data)
    return image_tokens(*size) if size else IMAGE_TOKENS


def prompt_tokens(call: Call, *, fetch: Callable[[str], bytes] | None = None) -> int:
    """Input tokens of a request: its text (system instruction, parts, schema) and media."""
    system = call.body.get("systemInstruction") or call.body.get("system_instruction") or {}
    texts = [p.get("text", "") for p in system.get("parts", [])]
    schema = call.schema
    tokens = text_tokens("".join(texts) + (json.dumps(schema) if schema else ""))
    seconds: int | None = None
    for part in call.parts:
        if "text" in part:
            tokens += text_tokens(part["text"])
            found = _DURATION.search(part["text"])
            seconds = int(found.group(1)) if found else None
            continue
        inline = part.get("inlineData") or part.get("inline_data")
        data = part.get("fileData") or part.get("file_data")
        if inline is not None:
            mime = inline.get("mimeType") or inline.get("mime_type") or ""
            tokens += media_tokens(mime, _b64(str(inline.get("data", ""))), seconds)
        elif data is not None:
            mime = data.get("mimeType") or data.get("mime_type") or ""
            uri = str(data.get("fileUri") or data.get("file_uri") or "")
            body = fetch(uri) if fetch is not None and uri.startswith("http") else b""
            tokens += media_tokens(mime, body, seconds)
    return tokens
