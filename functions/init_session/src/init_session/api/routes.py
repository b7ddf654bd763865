"""The route table: one entry per endpoint of SPEC section 3. ``init_session.api.http`` matches and
validates against it, ``init_session.api.openapi`` documents it, so neither can miss a route."""

from __future__ import annotations

from init_session import jobs, multipart, results, start, tokens, uploads
from init_session.api import openapi, views
from init_session.api.models import (
    CancelResponse,
    InitRequest,
    InitResponse,
    JobView,
    MediaResponse,
    MultipartAbortRequest,
    MultipartAbortResponse,
    MultipartCompleteRequest,
    MultipartCompleteResponse,
    MultipartPartsRequest,
    MultipartPartsResponse,
    PatchJobRequest,
    ResultsQuery,
    ResultsResponse,
    RetryResponse,
    UploadsRequest,
    UploadsResponse,
)
from init_session.api.routing import Call, Reply, Route
from media_triage_shared.logging import bind_ids


def _init(c: Call) -> Reply:
    key = tokens.idempotency_key(c.headers.get("idempotency-key"))
    created = start.init_session(c.body, key, c.client, c.svc, c.now)
    bind_ids(session_id=created.session_id, job_id=created.job_id)
    return Reply(202, created)


def _uploads(c: Call) -> Reply:
    key = tokens.idempotency_key(c.headers.get("idempotency-key"))
    return Reply(200, uploads.add_uploads(c.the_job, c.body, key, c.svc, c.now))


def _parts(c: Call) -> Reply:
    return Reply(200, multipart.multipart_parts(c.the_job, c.body, c.svc, c.now))


def _complete(c: Call) -> Reply:
    return Reply(200, multipart.complete_multipart(c.the_job, c.body, c.svc))


def _abort(c: Call) -> Reply:
    return Reply(200, multipart.abort_multipart(c.the_job, c.body, c.svc))


def _patch(c: Call) -> Reply:
    return Reply(200, views.job_view(jobs.patch_job(c.the_job, c.body, c.svc, c.now)))


def _cancel(c: Call) -> Reply:
    return Reply(200, views.cancel_view(jobs.cancel(c.the_job, c.svc)))


def _results(c: Call) -> Reply:
    """A poll whose ETag matches costs the job row the auth read anyway (ADR 0019): no Query.
    One with a cursor gets only the rows changed since, where that is correct (ADR 0022)."""
    job = results.settle_orphan(c.the_job, c.svc, c.now)
    expiry = c.svc.cfg.thumbnail_expiry_seconds
    etag = views.results_etag(job, expiry, c.now)
    headers = {"etag": etag, "cache-control": "private, no-cache"}
    if views.weak_match(c.headers.get("if-none-match"), etag):
        return Reply(304, None, headers)
    window = views.url_window(job, expiry, c.now)
    since = results.delta_from(job, views.parse_cursor(c.query.since), window)
    snap = results.snapshot(job, c.svc, since)
    return Reply(
        200, views.results_view(snap, c.svc.store, expiry, views.cursor(job, window)), headers
    )


def _media(c: Call) -> Reply:
    found = results.media(c.the_job, c.params["fileId"], c.svc, c.now)
    bind_ids(file_id=found.file_id)
    # Every field is always present (null = no such object), unlike the other bodies.
    return Reply(
        200, found.model_dump(mode="json", by_alias=True), {"cache-control": "private, no-store"}
    )


def _retry(c: Call) -> Reply:
    return Reply(202, views.retry_view(jobs.retry(c.the_job, c.client, c.svc, c.now)))


def _openapi(c: Call) -> Reply:
    return Reply(200, openapi.document(ROUTES), {"cache-control": "public, max-age=300"})


JOB = "/api/triage/{jobId}"
ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/api/triage/init",
        "initSession",
        "Start a session: job row, upload targets and the triage execution",
        _init,
        202,
        InitResponse,
        InitRequest,
        auth=False,
        errors=(400, 409, 413, 429, 500),
        description="The optional `Idempotency-Key` header (a random UUID) makes a retried "
        "init return the same session, job, token and upload targets (fresh URLs); the "
        "execution is named after the job, so it never starts twice. The same key with a "
        "different body is a 409.",
    ),
    Route(
        "POST",
        f"{JOB}/uploads",
        "addUploads",
        "Upload targets for more files",
        _uploads,
        200,
        UploadsResponse,
        UploadsRequest,
        errors=(400, 401, 403, 404, 409, 413, 429, 500),
        description="Each target pushes the job's stall deadline forward. Files up to the "
        "multipart threshold get a presigned POST; larger files a multipart plan without URLs "
        "(`/multipart/parts` presigns its parts). The optional `Idempotency-Key` header (a "
        "random UUID per call) makes a retried call return the same files (fresh POSTs) "
        "instead of new ones; the same key for other files is a 409.",
    ),
    Route(
        "POST",
        f"{JOB}/multipart/parts",
        "presignMultipartParts",
        "Presigned PUT URLs for some parts of a multipart upload",
        _parts,
        200,
        MultipartPartsResponse,
        MultipartPartsRequest,
        errors=(400, 401, 403, 404, 409, 413, 429, 500),
        description="At most 100 part numbers per call, each in 1..partCount of the file's "
        "plan. Ask shortly before sending the parts (a few ahead of those in flight) and ask "
        "again for parts whose URLs expired (`expiresAt`; S3 answers 403 after). 404 when "
        "the file has no multipart upload, 409 `upload_id_mismatch` for another uploadId, "
        "409 `job_not_active` once the job moved on.",
    ),
    Route(
        "POST",
        f"{JOB}/multipart/complete",
        "completeMultipartUpload",
        "Finish a multipart upload with the parts' ETags",
        _complete,
        200,
        MultipartCompleteResponse,
        MultipartCompleteRequest,
        errors=(400, 401, 403, 404, 409, 413, 429, 500),
    ),
    Route(
        "POST",
        f"{JOB}/multipart/abort",
        "abortMultipartUpload",
        "Give up a multipart upload (lower expectedFileCount too)",
        _abort,
        200,
        MultipartAbortResponse,
        MultipartAbortRequest,
        errors=(400, 401, 403, 404, 409, 413, 429, 500),
    ),
    Route(
        "PATCH",
        JOB,
        "updateJob",
        "Change expectedFileCount while files are still expected",
        _patch,
        200,
        JobView,
        PatchJobRequest,
        errors=(400, 401, 403, 404, 409, 413, 429, 500),
        description="409 once the job is analyzing or finished. Going below processedCount "
        "starts triage at the next poll.",
    ),
    Route(
        "DELETE",
        JOB,
        "cancelJob",
        "Cancel the job and delete its media",
        _cancel,
        200,
        CancelResponse,
        description="Status becomes `cancelled`, the execution is stopped, in-flight multipart "
        "uploads are aborted and every object under the job's uploads/ and derived/ prefixes "
        "is deleted. Repeating it is harmless.",
    ),
    Route(
        "GET",
        f"{JOB}/results",
        "getResults",
        "Job status, per-file statuses and, once complete, the verdicts",
        _results,
        200,
        ResultsResponse,
        query=ResultsQuery,
        description="Send the last `ETag` as `If-None-Match` to get a 304 while nothing "
        "changed: the ETag comes from the job's version, which every change the body shows "
        "increases, so a 304 reads nothing but the job. Thumbnail URLs are presigned for a "
        "short time; the ETag changes before they expire. Send the last `cursor` as "
        "`?since=` too: while the job is pending or processing, a 200 then holds only the "
        "files that changed (`delta: true`); merge them by fileId. Whenever a delta cannot "
        "be answered (a file was removed, URLs were re-signed, the job moved on, an unknown "
        "cursor), the list is whole (`delta: false`).",
    ),
    Route(
        "GET",
        f"{JOB}/files/{{fileId}}/media",
        "getFileMedia",
        "Presigned URLs to view one file in full: thumbnail, display image, proxy, original",
        _media,
        200,
        MediaResponse,
        description="For the page's full view of a file it opened. Every field is always "
        "present; a URL is null when that object does not exist for the file. Photos: "
        "`displayUrl` is display.jpg when one was made (large or converted photos), else the "
        "original when it is JPEG, PNG, WebP or GIF. Videos: `proxyUrl` is proxy.mp4 when one "
        "was made. `originalUrl` is the upload itself at full resolution, served inline "
        "with its original filename. A file still `uploading` answers 200 with every URL "
        "null; while `processing`, only `originalUrl` is set (and `mediaType` is null): "
        "fetch again once the results show it valid, invalid or duplicate. A cancelled job's "
        "files have no URLs (their objects are deleted). URLs last until `expiresAt`; fetch "
        "again after. An unknown `fileId`, or one of another job, is a 404 `not_found`.",
    ),
    Route(
        "POST",
        f"{JOB}/retry",
        "retryJob",
        "Run triage again after the job failed",
        _retry,
        202,
        RetryResponse,
        errors=(400, 401, 403, 404, 409, 413, 429, 500),
        description="Only a `failed` job; a new execution `<jobId>-r<n>` on the same files.",
    ),
    Route(
        "GET",
        "/api/openapi.json",
        "getOpenApi",
        "This document",
        _openapi,
        200,
        None,
        auth=False,
        errors=(413, 500),
    ),
)
