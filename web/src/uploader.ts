// Parallel uploads to the presigned targets, the protocol of the CLI's uploader.py:
// a presigned POST sends the target's `fields` then the file last; a multipart plan PUTs every
// part (in parallel, each part retried on its own, parts already done are skipped, so an
// interrupted upload resumes at the part that broke), collects the ETags and calls
// `/multipart/complete`; on giving up it calls `/multipart/abort`. Network errors, stalls,
// 429 and 5xx are retried with exponential backoff; any other answer (S3 refusing the policy,
// an expired URL) fails the file at once. At most `concurrency` files upload at once and at most
// `partConcurrency` parts are in flight over all multipart files.

import { ApiError } from "./api";
import { Limiter, backoffDelay, type Sleep } from "./backoff";
import { TransferError, s3ErrorCode, type Transport } from "./transport";
import type { MultipartPart, UploadTarget } from "./types";

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
  parts: readonly MultipartPart[],
  partSize: number,
  fileSize: number,
): Map<number, { start: number; length: number }> {
  const out = new Map<number, { start: number; length: number }>();
  let offset = 0;
  for (const part of [...parts].sort((a, b) => a.partNumber - b.partNumber)) {
    const length = part.size || Math.min(partSize, fileSize - offset);
    out.set(part.partNumber, { start: offset, length });
    offset += length;
  }
  if (offset !== fileSize) {
    throw new UploadFailed("size_changed", "the file no longer matches its multipart plan");
  }
  return out;
}

export class Uploader {
  private readonly files: Limiter;
  private readonly parts: Limiter;
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly random: () => number;

  constructor(private readonly o: UploaderOptions) {
    this.files = new Limiter(Math.max(1, o.concurrency ?? 4));
    this.parts = new Limiter(Math.max(1, o.partConcurrency ?? 4));
    this.attempts = Math.max(1, o.attempts ?? 5);
    this.backoffMs = o.backoffMs ?? 500;
    this.random = o.random ?? Math.random;
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
    const layout = partLayout(plan.parts, plan.partSize, item.size);
    const count = this.counter(fid);
    const etags = new Map<number, string>();
    let failed = false;
    const todo: MultipartPart[] = [];
    for (const part of plan.parts) {
      const known = item.doneParts?.[String(part.partNumber)];
      if (known) {
        etags.set(part.partNumber, known);
        count(part.partNumber, layout.get(part.partNumber)?.length ?? 0);
      } else {
        todo.push(part);
      }
    }
    const sendPart = async (part: MultipartPart): Promise<void> => {
      const span = layout.get(part.partNumber);
      if (!span) throw new UploadFailed("upload_error", `no part ${part.partNumber} in the plan`);
      try {
        const etag = await this.parts.run(() =>
          this.retrying(fid, async () => {
            if (failed) throw new Cancelled();
            count(part.partNumber, 0);
            const blob = item.file.slice(span.start, span.start + span.length);
            const got = await this.send("PUT", part.url, blob, item.target.headers ?? {}, (n) =>
              count(part.partNumber, Math.min(n, span.length)),
            );
            if (!got) throw new S3Error(200, "no_etag");
            return got;
          }),
        );
        count(part.partNumber, span.length);
        etags.set(part.partNumber, etag);
        this.o.listener.partDone(fid, part.partNumber, etag);
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
