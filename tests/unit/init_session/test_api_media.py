"""GET /api/triage/{jobId}/files/{fileId}/media: one file's presigned URLs for the page's full
view of it, decided from the file row (what MediaProcess recorded), through the HTTP layer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from support.api import T0, Api, spec

from init_session import results, tokens
from media_triage_shared import keys
from media_triage_shared.models import FileError, FileStatus, JobStatus, MediaType, iso

FIELDS = {
    "fileId",
    "filename",
    "mediaType",
    "thumbnailUrl",
    "displayUrl",
    "proxyUrl",
    "originalUrl",
    "expiresAt",
}


@pytest.fixture
def api() -> Api:
    return Api()


def _get(api: Api, job: dict[str, Any], file_id: str, token: str | None = None) -> Any:
    return api.call(
        "GET",
        f"/api/triage/{job['jobId']}/files/{file_id}/media",
        token=job["sessionToken"] if token is None else token,
    )


def _media(api: Api, job: dict[str, Any], file_id: str) -> dict[str, Any]:
    resp = _get(api, job, file_id)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == FIELDS  # every field always present, null when there is no object
    return dict(body)


def _key(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _derived(job: dict[str, Any], file_id: str, name: str) -> str:
    return keys.derived_key(job["sessionId"], job["jobId"], file_id, name)


def _land(api: Api, job: dict[str, Any], file_id: str, **fields: Any) -> None:
    api.land(job["sessionId"], job["jobId"], file_id, **fields)


def test_photo_with_display_jpg(api: Api) -> None:
    job = api.init(1, [spec("IMG_0001.heic", ct="image/heic")])
    upload = job["uploads"][0]
    fid = upload["fileId"]
    display = _derived(job, fid, "display.jpg")
    _land(api, job, fid, mime_type="image/heic", display_key=display, converted=True)

    body = _media(api, job, fid)
    assert body["fileId"] == fid
    assert body["filename"] == "IMG_0001.heic"
    assert body["mediaType"] == "photo"
    assert _key(body["thumbnailUrl"]) == _derived(job, fid, "thumb.jpg")
    assert _key(body["displayUrl"]) == display
    assert body["proxyUrl"] is None
    assert _key(body["originalUrl"]) == upload["key"]
    original = _query(body["originalUrl"])
    assert original["response-content-type"] == "image/heic"  # detected, not the claimed type
    assert original["response-content-disposition"] == 'inline; filename="IMG_0001.heic"'
    for name in ("thumbnailUrl", "displayUrl", "originalUrl"):
        assert _query(body[name])["X-Amz-Expires"] == "3600"
    assert body["expiresAt"] == iso(T0 + timedelta(seconds=3600))
    assert _get(api, job, fid).headers["cache-control"] == "private, no-store"


def test_browser_viewable_photo_without_display_is_shown_as_its_original(api: Api) -> None:
    job = api.init(1, [spec("small.png", ct="image/png")])
    upload = job["uploads"][0]
    _land(api, job, upload["fileId"], mime_type="image/png")

    body = _media(api, job, upload["fileId"])
    assert _key(body["displayUrl"]) == upload["key"]
    assert body["displayUrl"] == body["originalUrl"]
    assert _query(body["originalUrl"])["response-content-type"] == "image/png"
    assert body["proxyUrl"] is None


@pytest.mark.parametrize(
    ("status", "mime_type", "error"),
    [
        # a duplicate HEIC: MediaProcess skips its display.jpg, and browsers cannot show HEIC
        (FileStatus.DUPLICATE, "image/heic", None),
        # an invalid JPEG (a decompression bomb) is never offered as the picture to show
        (FileStatus.INVALID, "image/jpeg", FileError(code="too_many_pixels", message="m")),
    ],
)
def test_no_display_url_when_the_browser_cannot_or_should_not_show_the_original(
    api: Api, status: FileStatus, mime_type: str, error: FileError | None
) -> None:
    job = api.init(1, [spec()])
    fid = job["uploads"][0]["fileId"]
    _land(api, job, fid, status=status, mime_type=mime_type, error=error)

    body = _media(api, job, fid)
    assert body["displayUrl"] is None
    assert _key(body["originalUrl"]) == job["uploads"][0]["key"]  # the user's own file stays
    assert _query(body["originalUrl"])["response-content-disposition"].startswith("inline;")


def test_video_with_proxy(api: Api) -> None:
    job = api.init(2, [spec("clip.mov", ct="video/quicktime"), spec("long.mp4", ct="video/mp4")])
    clip, long = job["uploads"]
    proxy = _derived(job, clip["fileId"], "proxy.mp4")
    video = {"media_type": MediaType.VIDEO, "duration_seconds": 12.5}
    _land(api, job, clip["fileId"], mime_type="video/quicktime", proxy_key=proxy, **video)
    _land(api, job, long["fileId"], mime_type="video/mp4", **video)  # proxy skipped (deadline)

    body = _media(api, job, clip["fileId"])
    assert body["mediaType"] == "video"
    assert _key(body["proxyUrl"]) == proxy
    assert body["displayUrl"] is None
    assert _key(body["thumbnailUrl"]) == _derived(job, clip["fileId"], "thumb.jpg")
    assert _key(body["originalUrl"]) == clip["key"]
    original = _query(body["originalUrl"])
    assert original["response-content-type"] == "video/quicktime"
    assert original["response-content-disposition"] == 'inline; filename="clip.mov"'

    no_proxy = _media(api, job, long["fileId"])
    assert no_proxy["proxyUrl"] is None
    assert _key(no_proxy["originalUrl"]) == long["key"]


def test_while_uploading_nothing_and_while_processing_only_the_original(api: Api) -> None:
    job = api.init(1, [spec()])
    upload = job["uploads"][0]
    fid = upload["fileId"]

    uploading = _media(api, job, fid)
    assert uploading["mediaType"] is None
    assert all(uploading[f] is None for f in FIELDS if f.endswith("Url"))

    row = api.files.get_file(job["jobId"], fid)
    assert row is not None
    assert api.files.start_processing(row.model_copy(update={"status": FileStatus.PROCESSING}))
    processing = _media(api, job, fid)
    assert _key(processing["originalUrl"]) == upload["key"]
    # the type is not known yet: served as bytes to download, never as the claimed type
    original = _query(processing["originalUrl"])
    assert original["response-content-type"] == "application/octet-stream"
    assert original["response-content-disposition"].startswith("attachment;")
    assert [f for f in FIELDS if f.endswith("Url") and processing[f]] == ["originalUrl"]


def test_unrecognised_content_is_an_attachment_and_a_vanished_original_has_no_url(
    api: Api,
) -> None:
    job = api.init(2, [spec("page.jpg", ct="text/html"), spec("gone.jpg")])
    junk, gone = job["uploads"]
    _land(
        api,
        job,
        junk["fileId"],
        status=FileStatus.INVALID,
        media_type=None,
        thumbnail_key=None,
        error=FileError(code="unsupported_type", message="HTML: not a supported photo"),
    )
    _land(
        api,
        job,
        gone["fileId"],
        status=FileStatus.INVALID,
        media_type=None,
        thumbnail_key=None,
        error=FileError(code="missing", message="the uploaded file is gone"),
    )

    body = _media(api, job, junk["fileId"])
    assert body["mediaType"] is None
    original = _query(body["originalUrl"])
    assert original["response-content-type"] == "application/octet-stream"  # never text/html
    assert original["response-content-disposition"] == 'attachment; filename="page.jpg"'
    assert all(body[f] is None for f in ("thumbnailUrl", "displayUrl", "proxyUrl"))

    assert all(_media(api, job, gone["fileId"])[f] is None for f in FIELDS if f.endswith("Url"))


def test_a_cancelled_jobs_files_have_no_urls(api: Api) -> None:
    job = api.init(1, [spec()])
    fid = job["uploads"][0]["fileId"]
    _land(api, job, fid, mime_type="image/jpeg")
    api.set_job(job["sessionId"], job["jobId"], JobStatus.CANCELLED)

    body = _media(api, job, fid)
    assert body["filename"] == "IMG_0001.jpg"
    assert all(body[f] is None for f in FIELDS if f.endswith("Url"))


def test_never_presigns_outside_the_files_own_prefixes(api: Api) -> None:
    job, other = api.init(1, [spec()]), api.init(1, [spec()])
    fid, other_fid = job["uploads"][0]["fileId"], other["uploads"][0]["fileId"]
    _land(
        api,
        job,
        fid,
        mime_type="image/heic",
        thumbnail_key=_derived(other, other_fid, "thumb.jpg"),
        display_key=_derived(job, other_fid, "display.jpg"),  # right job, wrong file
    )
    body = _media(api, job, fid)
    assert (body["thumbnailUrl"], body["displayUrl"]) == (None, None)

    row = api.files.get_file(job["jobId"], fid)
    assert row is not None
    api.files.rows[(job["jobId"], fid)] = row.model_copy(
        update={"original_key": other["uploads"][0]["key"]}
    )
    assert _get(api, job, fid).status_code == 404


def test_unknown_file_or_a_file_of_another_job_is_not_found(api: Api) -> None:
    job, other = api.init(1, [spec()]), api.init(1, [spec()])
    unknown = _get(api, job, "0" * 32)
    assert unknown.status_code == 404
    assert unknown.error["code"] == "not_found"
    elsewhere = _get(api, job, other["uploads"][0]["fileId"])
    assert elsewhere.status_code == 404
    assert elsewhere.json() == unknown.json()

    bad = _get(api, job, "a.b")
    assert bad.status_code == 400
    assert bad.error["details"][0]["field"] == "path.fileId"


def test_another_sessions_token_cannot_tell_the_file_exists(api: Api) -> None:
    job, other = api.init(1, [spec()]), api.init(1, [spec()])
    fid = job["uploads"][0]["fileId"]
    _land(api, job, fid, mime_type="image/jpeg")
    presigned = api.store.presigned

    cross = _get(api, job, fid, token=other["sessionToken"])
    ghost = api.call(
        "GET", f"/api/triage/{'0' * 32}/files/{fid}/media", token=other["sessionToken"]
    )
    assert cross.status_code == ghost.status_code == 404
    assert cross.json() == ghost.json()
    assert api.call("GET", f"/api/triage/{job['jobId']}/files/{fid}/media").status_code == 401
    forged = f"{job['sessionId']}.{tokens.new_token('x').split('.')[1]}"
    assert _get(api, job, fid, token=forged).status_code == 403
    assert api.store.presigned == presigned  # nothing was signed for them


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ("IMG_0001.jpg", 'inline; filename="IMG_0001.jpg"'),
        ("../../a\x00b.jpg", 'inline; filename="ab.jpg"'),
        (
            'Été "1".jpg',
            "inline; filename=\"_t_ _1_.jpg\"; filename*=UTF-8''%C3%89t%C3%A9%20%221%22.jpg",
        ),
        ("\x01", 'inline; filename="file"'),
    ],
)
def test_content_disposition_keeps_the_original_name_safely(filename: str, header: str) -> None:
    assert results.content_disposition("inline", filename) == header
