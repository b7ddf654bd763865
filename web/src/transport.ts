// Transfers to S3 (presigned POST, presigned part PUT) behind an interface: the page uses
// XMLHttpRequest for its upload progress events; tests pass a fake.

export interface TransferRequest {
  method: "POST" | "PUT";
  url: string;
  body: Blob | FormData;
  headers?: Record<string, string>;
  onProgress?: (loaded: number) => void;
  signal?: AbortSignal;
}

export interface TransferResponse {
  status: number;
  etag: string | null;
  text: string;
}

/** No usable answer: the connection broke, stalled or was aborted. */
export class TransferError extends Error {
  constructor(
    readonly code: "network_error" | "timeout" | "aborted",
    message: string,
  ) {
    super(message);
    this.name = "TransferError";
  }
}

export type Transport = (req: TransferRequest) => Promise<TransferResponse>;

/** XHR transport; a transfer with no progress for `stallMs` is aborted as a timeout. */
export function xhrTransport(stallMs = 60_000): Transport {
  return (req) =>
    new Promise<TransferResponse>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      let timedOut = false;
      const arm = (): void => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          timedOut = true;
          xhr.abort();
        }, stallMs);
      };
      const done = (): void => {
        clearTimeout(watchdog);
        req.signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = (): void => xhr.abort();
      xhr.open(req.method, req.url);
      for (const [name, value] of Object.entries(req.headers ?? {})) {
        xhr.setRequestHeader(name, value);
      }
      xhr.upload.addEventListener("progress", (e) => {
        arm();
        req.onProgress?.(e.loaded);
      });
      xhr.addEventListener("load", () => {
        done();
        // only headers CORS exposes are listed: asking for another one logs an error
        const exposed = /^etag:/im.test(xhr.getAllResponseHeaders());
        resolve({ status: xhr.status, etag: exposed ? xhr.getResponseHeader("ETag") : null, text: xhr.responseText });
      });
      xhr.addEventListener("error", () => {
        done();
        reject(new TransferError("network_error", "the connection failed"));
      });
      xhr.addEventListener("abort", () => {
        done();
        if (timedOut) reject(new TransferError("timeout", "the transfer stalled"));
        else reject(new TransferError("aborted", "cancelled"));
      });
      if (req.signal?.aborted) {
        reject(new TransferError("aborted", "cancelled"));
        return;
      }
      req.signal?.addEventListener("abort", onAbort);
      arm();
      xhr.send(req.body);
    });
}

/** `<Code>` of an S3 XML error body, if any. */
export function s3ErrorCode(text: string): string | null {
  const m = /<Code>([^<]{1,100})<\/Code>/.exec(text);
  return m?.[1] ?? null;
}
