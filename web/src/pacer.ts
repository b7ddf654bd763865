// "Limit upload speed": one budget shared by every transfer of the page (ADR 0016).
//
// A browser cannot slow one XHR/fetch body down (a streamed request body needs HTTP/2 and is
// not in every browser), so the page paces admission: each transfer (a presigned POST of a
// file, or one multipart part) reserves its bytes from the budget before it starts and starts
// only when the budget has them: start = max(now, end of the previous reservation), and the
// reservation ends `bytes / rate` later. Transfers still run at the link's speed, so the rate
// holds on average: over a window of T seconds the bytes sent are within one transfer of
// rate x T (a whole file up to the 100 MiB multipart threshold, else a 16 MiB part; at
// 20 Mbit/s a 3.5 MB photo is 1.4 s of budget), not within 20 ms as in the CLI, which paces
// the body itself.

import type { TransferRequest, Transport } from "./transport";

export type PaceSleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export class Pacer {
  private nextFree = 0; // ms: when the budget reserved so far is used up
  private bytesPerMs: number | null = null;

  constructor(
    private readonly now: () => number,
    private readonly sleep: PaceSleep,
    bytesPerSecond: number | null = null,
  ) {
    this.setRate(bytesPerSecond);
  }

  /** Bytes per second, or null for no limit. A new rate applies to transfers not started yet. */
  setRate(bytesPerSecond: number | null): void {
    this.bytesPerMs = bytesPerSecond && bytesPerSecond > 0 ? bytesPerSecond / 1000 : null;
  }

  get rate(): number | null {
    return this.bytesPerMs === null ? null : this.bytesPerMs * 1000;
  }

  /** Reserve `bytes` and return how many ms to wait before sending them (0: at once). */
  reserve(bytes: number): number {
    if (this.bytesPerMs === null) return 0;
    const now = this.now();
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + bytes / this.bytesPerMs;
    return start - now;
  }

  /** Wait for the budget of `bytes`. */
  async admit(bytes: number, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(bytes);
    if (wait > 0) await this.sleep(wait, signal);
  }
}

/** Bytes a request body will send (a form: its blobs and strings; the boundaries are noise). */
export function bodySize(body: Blob | FormData): number {
  if (body instanceof Blob) return body.size;
  let total = 0;
  for (const [, value] of body.entries()) {
    total += typeof value === "string" ? value.length : value.size;
  }
  return total;
}

/** `inner`, each transfer admitted by `pacer` before it starts. */
export function pacedTransport(inner: Transport, pacer: Pacer): Transport {
  return async (req: TransferRequest) => {
    await pacer.admit(bodySize(req.body), req.signal);
    return inner(req);
  };
}

/** "20" (Mbit/s, as typed in the page) -> bytes per second; empty, 0 or nonsense -> null. */
export function mbitToBytes(text: string): number | null {
  const value = Number(text.trim().replace(",", "."));
  return Number.isFinite(value) && value > 0 ? (value * 1_000_000) / 8 : null;
}

/** A sleep that an abort ends early (the transfer then fails as "aborted" in the transport). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done);
  });
}
