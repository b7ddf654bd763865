"""S3 CORS as S3 does it: preflights and response headers from the bucket's CORS rules.

moto's server wraps every service in flask-cors (``Access-Control-Allow-Origin: *`` on every
response, any preflight answered 200), so with moto alone any CORS rule "passes" and a browser
test proves nothing about the bucket's configuration. For S3 requests the middleware answers
``OPTIONS`` here and replaces the CORS headers of moto's responses with the ones computed from
the first matching rule (none when no rule matches or the bucket has no CORS configuration).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from local_aws.wsgi import Environ, Response, StartResponse

# A virtual-hosted-style S3 host: <bucket>.s3.<anything> or <bucket>.s3-<region>.<anything>.
VIRTUAL_HOST_RE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3[.-]", re.I)
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_BUCKET = "CORSResponse: Bucket not found"


@dataclass(frozen=True)
class Rule:
    """One CORSRule of a bucket (moto's ``CorsRule``, normalised)."""

    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    expose: tuple[str, ...]
    max_age: str | None

    @classmethod
    def of(cls, rule: Any) -> Rule:
        def strings(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            if isinstance(value, str):
                return (value,)
            return tuple(str(v) for v in value)

        max_age = getattr(rule, "max_age_seconds", None)
        return cls(
            origins=strings(rule.allowed_origins),
            methods=tuple(m.upper() for m in strings(rule.allowed_methods)),
            headers=strings(rule.allowed_headers),
            expose=strings(rule.exposed_headers),
            max_age=None if max_age in (None, "") else str(max_age),
        )


@lru_cache(maxsize=256)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """A CORS pattern (``*`` matches any run of characters) as an anchored regex."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(regex, re.I if ignore_case else 0)


def _matches(value: str, patterns: Iterable[str], ignore_case: bool = False) -> bool:
    return any(_wildcard(p, ignore_case).fullmatch(value) for p in patterns)


def origin_allowed(rule: Rule, origin: str) -> bool:
    return _matches(origin, rule.origins)


def find_bucket(name: str) -> Any | None:
    """moto's FakeBucket of that name, in whichever account holds it."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account_id = owner
    backend = s3_backends[account_id][partition]
    return backend.buckets.get(name)


def bucket_and_key(environ: Environ) -> tuple[str, str]:
    """(bucket, key) of an S3 request, path-style or virtual-hosted-style ('' when absent)."""
    path = environ.get("PATH_INFO", "") or "/"
    host = str(environ.get("HTTP_HOST", "")).rsplit(":", 1)[0]
    virtual = VIRTUAL_HOST_RE.match(host)
    if virtual:
        return virtual.group("bucket"), path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def rules_of(bucket: Any) -> list[Rule]:
    return [Rule.of(rule) for rule in getattr(bucket, "cors", None) or []]


def match_rule(
    rules: Sequence[Rule], origin: str, method: str, request_headers: Sequence[str] = ()
) -> Rule | None:
    """The first rule allowing this origin, method and every requested header (S3's order)."""
    for rule in rules:
        if not origin_allowed(rule, origin) or method.upper() not in rule.methods:
            continue
        if all(_matches(h, rule.headers, ignore_case=True) for h in request_headers):
            return rule
    return None


def _allow_origin(rule: Rule, origin: str) -> dict[str, str]:
    # S3 answers "*" for a rule whose origin is exactly "*", else the request's origin (and
    # then allows credentials).
    if "*" in rule.origins:
        return {"Access-Control-Allow-Origin": "*"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"}


def actual_headers(rule: Rule, origin: str) -> dict[str, str]:
    """CORS headers S3 adds to a non-preflight response whose Origin matched ``rule``."""
    headers = _allow_origin(rule, origin)
    headers["Access-Control-Allow-Methods"] = ", ".join(rule.methods)
    if rule.expose:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
    if rule.max_age is not None:
        headers["Access-Control-Max-Age"] = rule.max_age
    headers["Vary"] = VARY
    return headers


def _error(status: int, code: str, message: str, extra: dict[str, str]) -> Response:
    request_id = uuid.uuid4().hex[:16].upper()
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{fields}"
        f"<RequestId>{request_id}</RequestId><HostId>local-aws</HostId></Error>"
    ).encode()
    return Response(
        status, body, {"Content-Type": "application/xml", "x-amz-request-id": request_id}
    )


def preflight(environ: Environ) -> Response:
    """S3's answer to ``OPTIONS`` on a bucket or object, from the bucket's CORS rules."""
    origin = str(environ.get("HTTP_ORIGIN", ""))
    method = str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "")).upper()
    requested = [
        h.strip().lower()
        for h in str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")).split(",")
        if h.strip()
    ]
    bucket_name, key = bucket_and_key(environ)
    if not origin:
        return _error(
            400, "BadRequest", "Insufficient information. Origin request header needed.", {}
        )
    if not method:
        return _error(403, "AccessForbidden", "Invalid Access-Control-Request-Method: null", {})
    details = {"Method": method, "ResourceType": "OBJECT" if key else "BUCKET"}
    bucket = find_bucket(bucket_name) if bucket_name else None
    if bucket is None:
        return _error(403, "AccessForbidden", NO_BUCKET, details)
    rules = rules_of(bucket)
    if not rules:
        return _error(403, "AccessForbidden", NOT_ENABLED, details)
    rule = match_rule(rules, origin, method, requested)
    if rule is None:
        return _error(403, "AccessForbidden", NOT_ALLOWED, details)
    headers = _allow_origin(rule, origin)
    headers["Access-Control-Allow-Methods"] = ", ".join(rule.methods)
    if requested:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    if rule.expose:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
    if rule.max_age is not None:
        headers["Access-Control-Max-Age"] = rule.max_age
    headers["Vary"] = VARY
    return Response(200, b"", headers)


def response_headers(environ: Environ) -> dict[str, str]:
    """The CORS headers of a non-preflight S3 response ({} without Origin or a matching rule)."""
    origin = str(environ.get("HTTP_ORIGIN", ""))
    if not origin:
        return {}
    bucket_name, _ = bucket_and_key(environ)
    bucket = find_bucket(bucket_name) if bucket_name else None
    if bucket is None:
        return {}
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    rule = match_rule(rules_of(bucket), origin, method)
    return actual_headers(rule, origin) if rule is not None else {}


def with_bucket_cors(environ: Environ, start_response: StartResponse) -> StartResponse:
    """A start_response that drops moto's/flask-cors's CORS headers and adds the bucket's."""
    cors = response_headers(environ)

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        kept = [
            (name, value)
            for name, value in headers
            if not name.lower().startswith("access-control-")
            and not (name.lower() == "vary" and value.strip().lower() == "origin")
        ]
        kept.extend(cors.items())
        if exc_info is not None:
            return start_response(status, kept, exc_info)
        return start_response(status, kept)

    return start
