// A typed client of the HTTP API over an injectable `fetch` (tests pass a fake).
// Like the CLI's ApiClient: calls are repeated with exponential backoff on network errors,
// 429 and 5xx; init and POST /uploads are repeated because they carry an Idempotency-Key
// (a repeat returns the same job / the same files).

import type {
  FileSpec,
  InitRequest,
  InitResponse,
  JobView,
  MediaResponse,
  MultipartPartsResponse,
  ResultsResponse,
  UploadTarget,
  UploadsResponse,
} from "./types";
import { backoffDelay, type Sleep } from "./backoff";

export const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Worth repeating: no answer at all (status 0), throttled, or a server error. */
  get retryable(): boolean {
    return this.status === 0 || RETRY_STATUSES.has(this.status);
  }

  /** The token is not (or no longer) good for this job: the page shows "session expired". */
  get sessionLost(): boolean {
    return this.status === 401 || this.status === 403 || this.status === 404;
  }
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ApiOptions {
  fetch: FetchLike;
  sleep: Sleep;
  random?: () => number;
  retries?: number;
  backoffMs?: number;
}

export interface Poll {
  etag: string | null;
  /** The answer as sent (a delta when `body.delta`); null: 304, nothing changed. */
  body: ResultsResponse | null;
}

async function errorFrom(resp: Response): Promise<ApiError> {
  let code = `http_${resp.status}`;
  let message = resp.statusText || "";
  try {
    const body: unknown = await resp.json();
    const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (err && typeof err === "object") {
      if (typeof err.code === "string") code = err.code;
      if (typeof err.message === "string") message = err.message;
    }
  } catch {
    // not JSON: keep the HTTP status as the code
  }
  return new ApiError(resp.status, code, message, resp.headers.get("x-request-id"));
}

interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  ok?: readonly number[];
  retries?: number;
}

export class ApiClient {
  token: string | null = null;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly random: () => number;

  constructor(
    readonly base: string,
    private readonly opts: ApiOptions,
  ) {
    this.retries = opts.retries ?? 4;
    this.backoffMs = opts.backoffMs ?? 500;
    this.random = opts.random ?? Math.random;
  }

  async call(method: string, path: string, o: CallOptions = {}): Promise<Response> {
    const ok = o.ok ?? [200, 201, 202, 204];
    const attempts = 1 + (o.retries ?? this.retries);
    const headers: Record<string, string> = { Accept: "application/json", ...o.headers };
    if (this.token) headers["Authorization"] = `Bearer ${this.token}`;
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    for (let attempt = 1; ; attempt++) {
      let error: ApiError;
      try {
        const resp = await this.opts.fetch(`${this.base}${path}`, {
          method,
          headers,
          body: o.body === undefined ? null : JSON.stringify(o.body),
          cache: "no-store",
          credentials: "omit",
          referrerPolicy: "no-referrer",
        });
        if (ok.includes(resp.status)) return resp;
        error = await errorFrom(resp);
      } catch (exc) {
        if (exc instanceof ApiError) throw exc;
        error = new ApiError(0, "network_error", String(exc));
      }
      if (!error.retryable || attempt >= attempts) throw error;
      await this.opts.sleep(backoffDelay(attempt, this.backoffMs, this.random));
    }
  }

  private async json<T>(resp: Response): Promise<T> {
    const data: unknown = await resp.json();
    if (!data || typeof data !== "object") {
      throw new ApiError(resp.status, "bad_response", "expected a JSON object");
    }
    return data as T;
  }

  async init(req: InitRequest, idempotencyKey: string): Promise<InitResponse> {
    const resp = await this.call("POST", "/api/triage/init", {
      body: req,
      headers: { "Idempotency-Key": idempotencyKey },
      ok: [202],
    });
    const out = await this.json<InitResponse>(resp);
    this.token = out.sessionToken;
    return out;
  }

  async addUploads(jobId: string, files: FileSpec[], idempotencyKey: string): Promise<UploadTarget[]> {
    const resp = await this.call("POST", `/api/triage/${jobId}/uploads`, {
      body: { files },
      headers: { "Idempotency-Key": idempotencyKey },
    });
    return (await this.json<UploadsResponse>(resp)).uploads;
  }

  /** Presigned PUTs for some parts of a multipart upload (at most 100 per call). */
  async multipartParts(
    jobId: string,
    fileId: string,
    uploadId: string,
    partNumbers: readonly number[],
  ): Promise<MultipartPartsResponse> {
    const resp = await this.call("POST", `/api/triage/${jobId}/multipart/parts`, {
      body: { fileId, uploadId, partNumbers },
    });
    return this.json<MultipartPartsResponse>(resp);
  }

  async setExpectedCount(jobId: string, count: number): Promise<JobView> {
    const resp = await this.call("PATCH", `/api/triage/${jobId}`, {
      body: { expectedFileCount: count },
    });
    return this.json<JobView>(resp);
  }

  /** GET results, conditional on `etag`; with `since` (the cursor of the last body applied)
   * the server may answer only the file rows changed since then (`delta: true`). */
  async results(jobId: string, etag: string | null, since: string | null = null): Promise<Poll> {
    const query = since === null ? "" : `?since=${encodeURIComponent(since)}`;
    const resp = await this.call("GET", `/api/triage/${jobId}/results${query}`, {
      headers: etag ? { "If-None-Match": etag } : {},
      ok: [200, 304],
    });
    const newEtag = resp.headers.get("ETag") ?? etag;
    if (resp.status === 304) return { etag: newEtag, body: null };
    return { etag: newEtag, body: await this.json<ResultsResponse>(resp) };
  }

  async cancel(jobId: string): Promise<JobView> {
    return this.json<JobView>(await this.call("DELETE", `/api/triage/${jobId}`, { retries: 1 }));
  }

  async retry(jobId: string): Promise<JobView> {
    return this.json<JobView>(
      await this.call("POST", `/api/triage/${jobId}/retry`, { ok: [200, 202] }),
    );
  }

  async completeMultipart(
    jobId: string,
    fileId: string,
    uploadId: string,
    parts: ReadonlyArray<readonly [number, string]>,
  ): Promise<void> {
    const sorted = [...parts].sort((a, b) => a[0] - b[0]);
    await this.call("POST", `/api/triage/${jobId}/multipart/complete`, {
      body: { fileId, uploadId, parts: sorted.map(([partNumber, etag]) => ({ partNumber, etag })) },
    });
  }

  async abortMultipart(jobId: string, fileId: string, uploadId: string): Promise<void> {
    await this.call("POST", `/api/triage/${jobId}/multipart/abort`, {
      body: { fileId, uploadId },
    });
  }

  async media(jobId: string, fileId: string): Promise<MediaResponse> {
    return this.json<MediaResponse>(
      await this.call("GET", `/api/triage/${jobId}/files/${fileId}/media`),
    );
  }
}
