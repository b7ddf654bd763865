"""The emulator's site data plane (the page's local origin) and S3 CORS from the bucket's rules.

The page is served from ``http://localhost:<port>/_aws/site/<bucket>/`` and uploads to presigned
URLs on ``http://127.0.0.1:<port>``: cross-origin, so the media bucket's CORS rules decide, as on
S3 (moto's flask-cors would answer every preflight with ``*``).
"""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest
import requests
from support.emulator import Emulator, http

pytestmark = pytest.mark.integration

PAGE = b"<!doctype html><title>media-triage</title><script src='assets/app-1.js'></script>"
SITE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PAGE_ORIGIN = "http://localhost:8080"


@pytest.fixture(scope="module")
def site(emulator: Emulator) -> str:
    """A site bucket like the web module writes it: index, a hashed asset, _site/headers.json."""
    s3 = emulator.client("s3")
    bucket = f"web-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key="index.html",
        Body=PAGE,
        ContentType="text/html; charset=utf-8",
        CacheControl="no-cache",
    )
    s3.put_object(
        Bucket=bucket,
        Key="assets/app-1.js",
        Body=b"console.log('hi')",
        ContentType="text/javascript",
        CacheControl="public, max-age=31536000, immutable",
    )
    s3.put_object(Bucket=bucket, Key="config.json", Body=b"{}", ContentType="application/json")
    s3.put_object(
        Bucket=bucket,
        Key="_site/headers.json",
        Body=json.dumps(SITE_HEADERS).encode(),
        ContentType="application/json",
    )
    return f"{emulator.url}/_aws/site/{bucket}"


def _has_site_headers(response: requests.Response) -> bool:
    return all(response.headers.get(name) == value for name, value in SITE_HEADERS.items())


def test_site_serves_index_and_assets_with_their_types(site: str) -> None:
    index = http("GET", f"{site}/")
    assert index.status_code == 200
    assert index.content == PAGE
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["cache-control"] == "no-cache"
    assert _has_site_headers(index)

    asset = http("GET", f"{site}/assets/app-1.js")
    assert asset.status_code == 200
    assert asset.headers["content-type"] == "text/javascript"
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert _has_site_headers(asset)

    head = http("HEAD", f"{site}/assets/app-1.js")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(b"console.log('hi')"))
    assert head.content == b""

    # Without the trailing slash the page's relative URLs would resolve one level up.
    bare = http("GET", site, allow_redirects=False)
    assert bare.status_code == 301
    assert bare.headers["location"].endswith("/")
    assert site.endswith(bare.headers["location"][:-1])


def test_site_etag_gives_304(site: str) -> None:
    first = http("GET", f"{site}/assets/app-1.js")
    etag = first.headers["etag"]
    assert etag.startswith('"')
    again = http("GET", f"{site}/assets/app-1.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert _has_site_headers(again)
    other = http("GET", f"{site}/assets/app-1.js", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


def test_site_hides_its_configuration_and_missing_objects(site: str, emulator: Emulator) -> None:
    for path in ("_site/headers.json", "_site/", "_site/other", "nope.html"):
        missing = http("GET", f"{site}/{path}")
        assert missing.status_code == 404, path
        assert missing.headers["content-type"].startswith("text/plain")
        assert _has_site_headers(missing), path  # 404s carry the site's headers too
    unknown = http("GET", f"{emulator.url}/_aws/site/no-such-bucket-{uuid.uuid4().hex[:6]}/")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/plain")


def _raw_get(port: int, target: str) -> bytes:
    """A request line sent as is (requests and curl normalise '..' away)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "tail",
    [
        "assets/../_site/headers.json",
        "assets/%2e%2e/_site/headers.json",
        "assets/%2E%2E/%2E%2E/other/index.html",
        "./index.html",
        "assets//app-1.js",
        "assets%2f..%2f_site%2fheaders.json",
    ],
)
def test_site_path_traversal_is_404(site: str, emulator: Emulator, tail: str) -> None:
    target = site.removeprefix(emulator.url) + "/" + tail
    answer = _raw_get(emulator.port, target)
    status_line = answer.split(b"\r\n", 1)[0]
    assert b" 404 " in status_line, (tail, status_line)
    assert b"nosniff" not in answer.split(b"\r\n\r\n", 1)[1]  # headers.json never leaks


def test_site_allows_only_get_and_head(site: str) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        answer = http(method, f"{site}/index.html")
        assert answer.status_code == 405, method
        assert answer.headers["allow"] == "GET, HEAD"
        assert _has_site_headers(answer)


def test_site_without_headers_object_serves_plain(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    bucket = f"bare-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"hi", ContentType="text/html")
    page = http("GET", f"{emulator.url}/_aws/site/{bucket}/")
    assert (page.status_code, page.content) == (200, b"hi")
    assert "content-security-policy" not in page.headers
    s3.put_object(Bucket=bucket, Key="_site/headers.json", Body=b"[1]")
    broken = http("GET", f"{emulator.url}/_aws/site/{bucket}/")
    assert broken.status_code == 500  # a malformed headers object is loud, not ignored
    assert "headers.json" in broken.text


# --- S3 CORS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(emulator: Emulator) -> str:
    """A bucket with the storage module's kind of rule (exact origin, ETag exposed)."""
    s3 = emulator.client("s3")
    bucket = f"media-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [PAGE_ORIGIN],
                    "AllowedMethods": ["POST", "PUT", "GET", "HEAD"],
                    "AllowedHeaders": ["content-type", "x-amz-*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 300,
                },
                {"AllowedOrigins": ["https://*.example.org"], "AllowedMethods": ["GET"]},
            ]
        },
    )
    return bucket


def _preflight(
    emulator: Emulator, bucket: str, origin: str, method: str, headers: str | None = None
) -> requests.Response:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        request_headers["Access-Control-Request-Headers"] = headers
    return http("OPTIONS", f"{emulator.url}/{bucket}/uploads/a.jpg", headers=request_headers)


def test_s3_preflight_allowed_by_the_matching_rule(emulator: Emulator, media: str) -> None:
    allowed = _preflight(emulator, media, PAGE_ORIGIN, "PUT", "Content-Type, X-Amz-Meta-Name")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert allowed.headers["access-control-allow-methods"] == "POST, PUT, GET, HEAD"
    assert allowed.headers["access-control-allow-headers"] == "content-type, x-amz-meta-name"
    assert allowed.headers["access-control-expose-headers"] == "ETag"
    assert allowed.headers["access-control-max-age"] == "300"
    assert "Origin" in allowed.headers["vary"]

    wildcard = _preflight(emulator, media, "https://photos.example.org", "GET")
    assert wildcard.status_code == 200
    assert wildcard.headers["access-control-allow-origin"] == "https://photos.example.org"
    assert wildcard.headers["access-control-allow-methods"] == "GET"
    assert "access-control-expose-headers" not in wildcard.headers


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("http://evil.example", "PUT", None),  # origin in no rule
        ("http://localhost:8081", "POST", None),  # another port is another origin
        (PAGE_ORIGIN, "DELETE", None),  # method in no rule
        (PAGE_ORIGIN, "PUT", "content-type, authorization"),  # a header the rule does not allow
        ("https://photos.example.org", "PUT", None),  # the wildcard rule allows GET only
    ],
)
def test_s3_preflight_denied_by_the_rules(
    emulator: Emulator, media: str, origin: str, method: str, headers: str | None
) -> None:
    denied = _preflight(emulator, media, origin, method, headers)
    assert denied.status_code == 403
    assert "<Code>AccessForbidden</Code>" in denied.text
    assert "CORSResponse" in denied.text
    assert not [h for h in denied.headers if h.lower().startswith("access-control-")]


def test_s3_preflight_without_cors_configuration_is_403(emulator: Emulator) -> None:
    """The test that flask-cors's global ``*`` fails: it answers every preflight 200."""
    s3 = emulator.client("s3")
    bucket = f"nocors-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    denied = _preflight(emulator, bucket, PAGE_ORIGIN, "PUT")
    assert denied.status_code == 403
    assert "CORS is not enabled for this bucket" in denied.text
    assert "access-control-allow-origin" not in denied.headers

    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"})
    actual = http("GET", url, headers={"Origin": PAGE_ORIGIN})
    assert actual.status_code == 200
    assert not [h for h in actual.headers if h.lower().startswith("access-control-")]
    no_origin = http("GET", url)
    assert "access-control-allow-origin" not in no_origin.headers


def _cors_of(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-")}


def test_s3_actual_requests_get_cors_headers_only_from_a_matching_rule(
    emulator: Emulator, media: str
) -> None:
    s3 = emulator.client("s3")
    post = s3.generate_presigned_post(
        Bucket=media,
        Key="uploads/a.jpg",
        Fields={"Content-Type": "image/jpeg"},
        Conditions=[{"Content-Type": "image/jpeg"}],
        ExpiresIn=60,
    )

    def upload(origin: str, **fields: str) -> requests.Response:
        return requests.post(
            post["url"],
            data={**post["fields"], **fields},
            files={"file": ("a.jpg", b"jpeg")},
            headers={"Origin": origin},
            timeout=30,
        )

    posted = upload(PAGE_ORIGIN)
    assert posted.status_code == 204
    assert posted.headers["etag"] == s3.head_object(Bucket=media, Key="uploads/a.jpg")["ETag"]
    assert posted.headers["location"].endswith(f"/{media}/uploads/a.jpg")
    assert _cors_of(posted)["access-control-allow-origin"] == PAGE_ORIGIN
    assert _cors_of(posted)["access-control-expose-headers"] == "ETag"

    created = upload(PAGE_ORIGIN, success_action_status="201")
    assert created.status_code == 201
    assert "<PostResponse>" in created.text
    assert "<Key>uploads/a.jpg</Key>" in created.text

    foreign = upload("http://evil.example")
    assert foreign.status_code == 204  # S3 stores it; only the browser is kept from reading
    assert _cors_of(foreign) == {}

    upload_id = s3.create_multipart_upload(Bucket=media, Key="uploads/big.bin")["UploadId"]
    part_url = s3.generate_presigned_url(
        "upload_part",
        Params={"Bucket": media, "Key": "uploads/big.bin", "UploadId": upload_id, "PartNumber": 1},
    )
    part = http("PUT", part_url, data=b"x" * 1024, headers={"Origin": PAGE_ORIGIN})
    assert part.status_code == 200
    assert part.headers["etag"].startswith('"')
    assert _cors_of(part)["access-control-allow-origin"] == PAGE_ORIGIN
    assert _cors_of(part)["access-control-expose-headers"] == "ETag"
    s3.abort_multipart_upload(Bucket=media, Key="uploads/big.bin", UploadId=upload_id)

    # The wildcard rule allows GET from *.example.org, not PUT.
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": media, "Key": "uploads/a.jpg"}
    )
    got = http("GET", get_url, headers={"Origin": "https://x.example.org"})
    assert _cors_of(got)["access-control-allow-origin"] == "https://x.example.org"
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": media, "Key": "uploads/b.jpg"}
    )
    put = http("PUT", put_url, data=b"x", headers={"Origin": "https://x.example.org"})
    assert put.status_code == 200
    assert _cors_of(put) == {}


def test_http_api_and_other_services_keep_their_cors(emulator: Emulator) -> None:
    """Only S3 changed: a JSON-protocol preflight ("OPTIONS /") is still answered by moto."""
    answer = http(
        "OPTIONS",
        f"{emulator.url}/",
        headers={"Origin": PAGE_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 200
    assert answer.headers.get("access-control-allow-origin") in {PAGE_ORIGIN, "*"}


CHROMIUM = Path("/usr/bin/chromium")
BROWSER_JS = """
async function put(url) {
  try {
    const headers = {"Content-Type": "text/plain"};
    const r = await fetch(url, {method: "PUT", body: "hi", headers});
    return "ok " + r.status + " etag=" + r.headers.get("ETag");
  } catch (e) {
    return "blocked";
  }
}
(async () => {
  const urls = await (await fetch("./urls.json")).json();
  document.getElementById("allowed").textContent = await put(urls.allowed);
  document.getElementById("denied").textContent = await put(urls.denied);
})();
"""


def test_browser_uploads_cross_origin_only_where_the_bucket_allows(emulator: Emulator) -> None:
    """Debian's Chromium on a page from the site data plane (http://localhost:<port>) PUTs to
    presigned URLs on http://127.0.0.1:<port>: allowed and ETag readable with the bucket's rule,
    blocked by the browser without one."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
    from playwright.sync_api import expect, sync_playwright

    s3 = emulator.client("s3")
    suffix = uuid.uuid4().hex[:8]
    site_bucket, allowed, denied = f"b-site-{suffix}", f"b-ok-{suffix}", f"b-no-{suffix}"
    for bucket in (site_bucket, allowed, denied):
        s3.create_bucket(Bucket=bucket)
    page_origin = f"http://localhost:{emulator.port}"
    s3.put_bucket_cors(
        Bucket=allowed,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [page_origin],
                    "AllowedMethods": ["PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )

    def put_url(bucket: str) -> str:
        params = {"Bucket": bucket, "Key": "a.txt", "ContentType": "text/plain"}
        return str(s3.generate_presigned_url("put_object", Params=params))

    html = b'<!doctype html><p id="allowed">?</p><p id="denied">?</p><script src="app.js"></script>'
    objects = {
        "index.html": (html, "text/html; charset=utf-8"),
        "app.js": (BROWSER_JS.encode(), "text/javascript"),
        "urls.json": (
            json.dumps({"allowed": put_url(allowed), "denied": put_url(denied)}).encode(),
            "application/json",
        ),
        "_site/headers.json": (
            json.dumps(
                {
                    "Content-Security-Policy": (
                        f"default-src 'self'; script-src 'self'; connect-src 'self' {emulator.url}"
                    )
                }
            ).encode(),
            "application/json",
        ),
    }
    for key, (body, content_type) in objects.items():
        s3.put_object(Bucket=site_bucket, Key=key, Body=body, ContentType=content_type)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{page_origin}/_aws/site/{site_bucket}/")
            # Locators, not wait_for_function: the CSP (no 'unsafe-eval') refuses string eval.
            expect(page.locator("#denied")).not_to_have_text("?", timeout=15000)
            allowed_text = page.text_content("#allowed")
            denied_text = page.text_content("#denied")
        finally:
            browser.close()
    etag = s3.head_object(Bucket=allowed, Key="a.txt")["ETag"]
    assert allowed_text == f"ok 200 etag={etag}"
    assert denied_text == "blocked"
    assert s3.list_objects_v2(Bucket=denied)["KeyCount"] == 0  # the preflight stopped it
