// Parallel uploads to the presigned targets, the protocol of the CLI's uploader.py:
// a presigned POST sends the target's `fields` then the file last; a multipart plan PUTs every
// part (in parallel, each part retried on its own, parts already done are skipped, so an
// interrupted upload resumes at the part that broke), collects the ETags and calls
// `/multipart/complete`; on giving up it calls `/multipart/abort`. Part URLs are not in the
// plan: they are asked for (`/multipart/parts`) in batches shortly before use, and again when
// they expire (a part S3 refuses with 403 gets one fresh URL). Network errors, stalls, 429 and
// 5xx are retried with exponential backoff; any other answer (S3 refusing the policy) fails
// the file at once. At most `concurrency` files upload at once and at most `partConcurrency`
// parts are in flight over all multipart files.

import { ApiError } from "./api";
import { Limiter, backoffDelay, type Sleep } from "./backoff";
import { TransferError, s3ErrorCode, type Transport } from "./transport";
import type { MultipartPartsResponse, UploadTarget } from "./types";

/** Part URLs asked for at once: the part wanted and the next ones not sent yet. */
export const PART_URL_BATCH = 12;
/** A cached part URL this close to its expiry is asked for again before use. */
export const PART_URL_MARGIN_MS = 120_000;

export interface UploadItem {
  fileId: string;
  file: Blob;
  filename: string;
  contentType: string;
  /** The size declared when the target was planned. */
  size: number;
  target: UploadTarget;
  /** ETags of parts S3 accepted before (an upload continued after a reload). */
  doneParts?: Readonly<Record<string, string>>;
}

export interface UploadListener {
  started(fileId: string): void;
  progress(fileId: string, sent: number): void;
  retrying(fileId: string, attempt: number, code: string): void;
  partDone(fileId: string, partNumber: number, etag: string): void;
  done(fileId: string): void;
  failed(fileId: string, code: string, message: string): void;
}

export interface MultipartApi {
  completeMultipart(
    jobId: string,
    fileId: string,
    uploadId: string,
    parts: ReadonlyArray<readonly [number, string]>,
  ): Promise<void>;
  abortMultipart(jobId: string, fileId: string, uploadId: string): Promise<void>;
  multipartParts(
    jobId: string,
    fileId: string,
    uploadId: string,
    partNumbers: readonly number[],
  ): Promise<MultipartPartsResponse>;
}

export interface UploaderOptions {
  transport: Transport;
  api: MultipartApi;
  jobId: string;
  listener: UploadListener;
  sleep: Sleep;
  concurrency?: number;
  partConcurrency?: number;
  attempts?: number;
  backoffMs?: number;
  random?: () => number;
  /** Clock for part URL expiry (ms since the epoch). */
  now?: () => number;
  partUrlBatch?: number;
}

/** An answer of S3 that is not a success. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`S3 answered ${status} ${code}`);
    this.name = "S3Error";
  }
}

export class UploadFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "UploadFailed";
  }
}

class Cancelled extends Error {}

export function isRetryable(exc: unknown): boolean {
  if (exc instanceof TransferError) return exc.code !== "aborted";
  if (exc instanceof S3Error) return exc.status === 429 || exc.status >= 500;
  if (exc instanceof ApiError) return exc.retryable;
  return false;
}

export function describeError(exc: unknown): [string, string] {
  if (exc instanceof UploadFailed) return [exc.code, exc.message];
  if (exc instanceof TransferError) return [exc.code, exc.message];
  if (exc instanceof S3Error) return [exc.code, exc.message];
  if (exc instanceof ApiError) return [exc.code, exc.message];
  return ["upload_error", String(exc)];
}

/** Byte offset and length of every part of a plan; throws when the file no longer fits it. */
export function partLayout(
  partSize: number,
  partCount: number,
  fileSize: number,
): Map<number, { start: number; length: number }> {
  const last = (partCount - 1) * partSize;
  if (partCount < 1 || partSize < 1 || fileSize <= last || fileSize > last + partSize) {
    throw new UploadFailed("size_changed", "the file no longer matches its multipart plan");
  }
  const out = new Map<number, { start: number; length: number }>();
  for (let n = 1; n <= partCount; n++) {
    const start = (n - 1) * partSize;
    out.set(n, { start, length: Math.min(partSize, fileSize - start) });
  }
  return out;
}

/** Presigned part URLs of one multipart upload, asked for on demand: the part wanted and the
 * next ones not sent yet, `batch` at a time, shortly before they are sent. A cached URL within
 * `marginMs` of its expiry is asked for again; `expire` drops one S3 refused, with every URL
 * of the same answer. One call at a time per file: parts that want a URL meanwhile wait for it
 * and usually find theirs in its answer. */
export class PartUrls {
  private readonly urls = new Map<number, { url: string; expires: number }>();
  private readonly unsent: Set<number>;
  private pending: Promise<void> | null = null;

  constructor(
    private readonly api: MultipartApi,
    private readonly jobId: string,
    private readonly fileId: string,
    private readonly uploadId: string,
    private readonly todo: readonly number[],
    private readonly now: () => number,
    private readonly batch = PART_URL_BATCH,
    private readonly marginMs = PART_URL_MARGIN_MS,
  ) {
    this.unsent = new Set(todo);
  }

  private fresh(n: number): boolean {
    const c = this.urls.get(n);
    return c !== undefined && c.expires - this.now() > this.marginMs;
  }

  async get(n: number): Promise<string> {
    while (this.pending) await this.pending;
    const cached = this.urls.get(n);
    if (cached && this.fresh(n)) return cached.url;
    const at = this.todo.indexOf(n);
    const later = at < 0 ? [] : this.todo.slice(at + 1).filter((m) => this.unsent.has(m) && !this.fresh(m));
    const wanted = [n, ...later.slice(0, Math.max(1, Math.min(this.batch, 100)) - 1)];
    const call = this.api.multipartParts(this.jobId, this.fileId, this.uploadId, wanted).then((resp) => {
      const expires = Date.parse(resp.expiresAt);
      for (const p of resp.parts) this.urls.set(p.partNumber, { url: p.url, expires });
    });
    this.pending = call.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      this.pending = null;
    });
    await call;
    const got = this.urls.get(n);
    if (!got) throw new UploadFailed("bad_response", `no URL for part ${n} in the answer`);
    return got.url; // fresh from the API: used even when its expiry is near
  }

  expire(n: number): void {
    const dropped = this.urls.get(n);
    if (!dropped) return;
    for (const [m, c] of [...this.urls]) if (c.expires === dropped.expires) this.urls.delete(m);
  }

  sent(n: number): void {
    this.unsent.delete(n);
    this.urls.delete(n);
  }
}

export class Uploader {
  private readonly files: Limiter;
  private readonly parts: Limiter;
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly o: UploaderOptions) {
    this.files = new Limiter(Math.max(1, o.concurrency ?? 4));
    this.parts = new Limiter(Math.max(1, o.partConcurrency ?? 4));
    this.attempts = Math.max(1, o.attempts ?? 5);
    this.backoffMs = o.backoffMs ?? 500;
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
  }

  /** Uploads not finished yet (queued or sending). */
  get pending(): number {
    return this.inflight.size;
  }

  get cancelled(): boolean {
    return this.abort.signal.aborted;
  }

  add(items: readonly UploadItem[]): void {
    for (const item of items) {
      const p: Promise<void> = this.files.run(() => this.upload(item)).finally(() => {
        this.inflight.delete(p);
      });
      this.inflight.add(p);
    }
  }

  /** Resolves once every upload added so far has finished (or failed). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  /** Stop everything: transfers in flight are aborted; no failure is reported for them. */
  cancel(): void {
    this.abort.abort();
  }

  private async upload(item: UploadItem): Promise<void> {
    const { listener } = this.o;
    if (this.cancelled) return;
    listener.started(item.fileId);
    try {
      if (item.file.size !== item.size) {
        throw new UploadFailed(
          "size_changed",
          `the file changed since the upload was planned (${item.size} -> ${item.file.size} bytes)`,
        );
      }
      if (item.target.multipart) await this.multipart(item);
      else await this.single(item);
    } catch (exc) {
      if (exc instanceof Cancelled || this.cancelled) return;
      const [code, message] = describeError(exc);
      listener.failed(item.fileId, code, message);
      return;
    }
    listener.done(item.fileId);
  }

  private async retrying<T>(fileId: string, action: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.cancelled) throw new Cancelled();
      try {
        return await action();
      } catch (exc) {
        if (exc instanceof Cancelled || this.cancelled) throw new Cancelled();
        if (!isRetryable(exc) || attempt >= this.attempts) throw exc;
        this.o.listener.retrying(fileId, attempt, describeError(exc)[0]);
        await this.o.sleep(backoffDelay(attempt, this.backoffMs, this.random));
      }
    }
  }

  private counter(fileId: string): (part: number, sent: number) => void {
    const sent = new Map<number, number>();
    return (part, bytes) => {
      sent.set(part, bytes);
      let total = 0;
      for (const v of sent.values()) total += v;
      this.o.listener.progress(fileId, total);
    };
  }

  private async send(
    method: "POST" | "PUT",
    url: string,
    body: Blob | FormData,
    headers: Record<string, string>,
    onProgress: (loaded: number) => void,
  ): Promise<string | null> {
    const resp = await this.o.transport({
      method,
      url,
      body,
      headers,
      onProgress,
      signal: this.abort.signal,
    });
    if (resp.status < 200 || resp.status > 299) {
      throw new S3Error(resp.status, s3ErrorCode(resp.text) ?? `http_${resp.status}`);
    }
    return resp.etag;
  }

  /** One presigned POST (fields first, the file last), or one presigned PUT without a plan. */
  private async single(item: UploadItem): Promise<void> {
    const count = this.counter(item.fileId);
    const t = item.target;
    await this.retrying(item.fileId, async () => {
      count(1, 0);
      const onProgress = (loaded: number): void => count(1, Math.min(loaded, item.size));
      if (!t.url) throw new UploadFailed("upload_error", "the target has no URL");
      if (t.method === "PUT") {
        await this.send("PUT", t.url, item.file, t.headers ?? {}, onProgress);
        return;
      }
      const form = new FormData();
      for (const [name, value] of Object.entries(t.fields ?? {})) form.append(name, value);
      form.append("file", item.file, item.filename);
      await this.send("POST", t.url, form, {}, onProgress);
    });
    count(1, item.size);
  }

  private async multipart(item: UploadItem): Promise<void> {
    const plan = item.target.multipart;
    if (!plan) throw new UploadFailed("upload_error", "no multipart plan");
    const fid = item.fileId;
    const layout = partLayout(plan.partSize, plan.partCount, item.size);
    const count = this.counter(fid);
    const etags = new Map<number, string>();
    let failed = false;
    const todo: number[] = [];
    for (const [n, span] of layout) {
      const known = item.doneParts?.[String(n)];
      if (known) {
        etags.set(n, known);
        count(n, span.length);
      } else {
        todo.push(n);
      }
    }
    const urls = new PartUrls(this.o.api, this.o.jobId, fid, plan.uploadId, todo, this.now, this.o.partUrlBatch);
    const headers = item.target.headers ?? {};
    const sendPart = async (n: number): Promise<void> => {
      const span = layout.get(n);
      if (!span) throw new UploadFailed("upload_error", `no part ${n} in the plan`);
      const put = async (url: string): Promise<string> => {
        count(n, 0);
        const blob = item.file.slice(span.start, span.start + span.length);
        const got = await this.send("PUT", url, blob, headers, (b) => count(n, Math.min(b, span.length)));
        if (!got) throw new S3Error(200, "no_etag");
        return got;
      };
      try {
        const etag = await this.parts.run(() =>
          this.retrying(fid, async () => {
            if (failed) throw new Cancelled();
            try {
              return await put(await urls.get(n));
            } catch (exc) {
              // an expired URL (S3: 403 "Request has expired"): ask for a fresh one, once
              if (!(exc instanceof S3Error) || exc.status !== 403) throw exc;
              urls.expire(n);
              return await put(await urls.get(n));
            }
          }),
        );
        count(n, span.length);
        etags.set(n, etag);
        urls.sent(n);
        this.o.listener.partDone(fid, n, etag);
      } catch (exc) {
        failed = true;
        throw exc;
      }
    };
    const outcomes = await Promise.allSettled(todo.map(sendPart));
    if (this.cancelled) throw new Cancelled();
    const errors = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
    if (errors.length) {
      await this.giveUp(fid, plan.uploadId);
      throw errors.find((e) => !(e instanceof Cancelled)) ?? new UploadFailed("upload_error", "a part failed");
    }
    try {
      await this.o.api.completeMultipart(this.o.jobId, fid, plan.uploadId, [...etags.entries()].sort((a, b) => a[0] - b[0]));
    } catch (exc) {
      await this.giveUp(fid, plan.uploadId);
      throw exc;
    }
  }

  private async giveUp(fileId: string, uploadId: string): Promise<void> {
    try {
      await this.o.api.abortMultipart(this.o.jobId, fileId, uploadId);
    } catch {
      // S3's lifecycle rule drops orphaned parts; the caller lowers the count all the same
    }
  }
}
