"""A bucket served as a web site: ``/_aws/site/<bucket>/<path>`` (the page's local origin).

Stands in for CloudFront in front of a private bucket: objects are read from moto's S3 backend
in-process, with their stored Content-Type and Cache-Control; ``/`` (and any path ending in
``/``) serves ``index.html``; ``ETag`` + ``If-None-Match`` give 304. Every response, errors
included, carries the headers of the bucket's ``_site/headers.json`` (a flat JSON object
written by Terraform's web module from the same value as CloudFront's response headers
policy); ``_site/*`` itself is never served.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from local_aws.s3cors import find_bucket
from local_aws.wsgi import Environ, Response

LOG = logging.getLogger("local_aws.sites")
PATH_PREFIX = "/_aws/site/"
HEADERS_KEY = "_site/headers.json"
PRIVATE_PREFIX = "_site/"
INDEX = "index.html"
# Object metadata passed through as response headers (as S3/CloudFront return them).
OBJECT_HEADERS = (
    "Cache-Control",
    "Content-Encoding",
    "Content-Language",
    "Content-Disposition",
    "Expires",
)
ALLOWED_METHODS = ("GET", "HEAD")


def target_of(environ: Environ) -> tuple[str, str] | None:
    """(bucket, path after the bucket) for a site request, else None."""
    path = environ.get("PATH_INFO", "") or "/"
    if not path.startswith(PATH_PREFIX):
        return None
    bucket, slash, rest = path[len(PATH_PREFIX) :].partition("/")
    return bucket, slash + rest


def _text(status: int, message: str, headers: dict[str, str]) -> Response:
    merged = {"Content-Type": "text/plain; charset=utf-8", **headers}
    return Response(status, (message + "\n").encode(), merged)


def _object(bucket_name: str, key: str) -> Any | None:
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return None
    partition, account_id = owner
    try:
        found = s3_backends[account_id][partition].get_object(bucket_name, key)
    except Exception:  # moto raises for missing keys in some versions
        return None
    if found is None or not hasattr(found, "value"):
        return None  # a delete marker
    return found


def _site_headers(bucket_name: str) -> dict[str, str]:
    """The bucket's ``_site/headers.json`` ({} when absent). Raises ValueError when malformed."""
    stored = _object(bucket_name, HEADERS_KEY)
    if stored is None:
        return {}
    try:
        parsed = json.loads(stored.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{HEADERS_KEY} is not JSON: {exc}") from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ValueError(f'{HEADERS_KEY} must be a flat {{"Header-Name": "value"}} object')
    bad = [k for k, v in parsed.items() if "\n" in k or "\r" in k or "\n" in v or "\r" in v]
    if bad:
        raise ValueError(f"{HEADERS_KEY}: line breaks in header {bad[0]!r}")
    return parsed


def _key_of(path: str) -> str | None:
    """The object key for a site path; None for a path that tries to leave the site."""
    if "\\" in path or "\x00" in path:
        return None
    relative = path.lstrip("/")
    segments = relative.split("/")
    # "." / ".." segments (also percent-encoded ones: PATH_INFO is already decoded) and
    # empty segments in the middle ("a//b") never name an object of the site.
    if any(seg in {".", ".."} for seg in segments) or "" in segments[:-1]:
        return None
    if relative == "" or relative.endswith("/"):
        relative += INDEX
    return relative


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return etag in candidates


def serve(environ: Environ, bucket_name: str, path: str) -> Response:
    """The site's answer to one request, with the site's headers."""
    if find_bucket(bucket_name) is None:
        return _text(404, f"no such site bucket: {bucket_name}", {})
    try:
        extra = _site_headers(bucket_name)
    except ValueError as exc:
        LOG.error("site %s: %s", bucket_name, exc)
        return _text(500, f"site misconfigured: {exc}", {})
    response = _answer(environ, bucket_name, path)
    # The site's headers win over the object's, like a CloudFront response headers policy
    # with override.
    assert isinstance(response.headers, dict)
    lowered = {name.lower() for name in extra}
    response.headers = {
        **{k: v for k, v in response.headers.items() if k.lower() not in lowered},
        **extra,
    }
    return response


def _answer(environ: Environ, bucket_name: str, path: str) -> Response:
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    if method not in ALLOWED_METHODS:
        return _text(405, "method not allowed", {"Allow": ", ".join(ALLOWED_METHODS)})
    if path == "":
        # Relative URLs in index.html (./config.json, assets/...) need the trailing slash.
        location = f"{PATH_PREFIX}{bucket_name}/"
        return _text(301, f"moved to {location}", {"Location": location})
    key = _key_of(path)
    stored = None if key is None or key.startswith(PRIVATE_PREFIX) else _object(bucket_name, key)
    if stored is None:
        return _text(404, "not found", {})

    metadata = {str(k).lower(): str(v) for k, v in dict(stored.metadata).items()}
    etag = str(stored.etag)
    headers: dict[str, str] = {
        "Content-Type": metadata.get("content-type", "binary/octet-stream"),
        "ETag": etag,
        "Last-Modified": str(stored.last_modified_RFC1123),
    }
    for name in OBJECT_HEADERS:
        if name.lower() in metadata:
            headers[name] = metadata[name.lower()]
    if _etag_matches(str(environ.get("HTTP_IF_NONE_MATCH", "")), etag):
        del headers["Content-Type"]
        return Response(304, b"", {**headers, "Content-Length": "0"})
    body: bytes = stored.value
    headers["Content-Length"] = str(len(body))
    return Response(200, b"" if method == "HEAD" else body, headers)
