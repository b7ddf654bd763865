import type { Timers } from "../src/poller";
import type { TransferRequest, TransferResponse } from "../src/transport";

/** Timers that run only when the test says so. */
export class FakeTimers implements Timers {
  now = 0;
  private seq = 0;
  readonly pending = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Delays of the timers now pending, soonest first. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  /** Run the next timer (advancing the clock to it), then let promises settle. */
  async next(): Promise<number> {
    const entries = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at);
    const first = entries[0];
    if (!first) throw new Error("no timer pending");
    const [id, t] = first;
    this.pending.delete(id);
    const waited = t.at - this.now;
    this.now = t.at;
    t.fn();
    await settle();
    return waited;
  }
}

export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export interface Call {
  req: TransferRequest;
  resolve(resp: Partial<TransferResponse>): void;
  reject(err: unknown): void;
}

/** A transport whose transfers stay open until the test answers them. */
export class ManualTransport {
  readonly calls: Call[] = [];
  inflight = 0;
  maxInflight = 0;

  readonly send = (req: TransferRequest): Promise<TransferResponse> =>
    new Promise<TransferResponse>((resolve, reject) => {
      this.inflight++;
      this.maxInflight = Math.max(this.maxInflight, this.inflight);
      const done = (): void => {
        this.inflight--;
      };
      this.calls.push({
        req,
        resolve: (r) => {
          done();
          resolve({ status: 204, etag: null, text: "", ...r });
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
    });
}

/** sessionStorage stand-in. */
export class MemoryStorage {
  private readonly m = new Map<string, string>();
  get length(): number {
    return this.m.size;
  }
  key(i: number): string | null {
    return [...this.m.keys()][i] ?? null;
  }
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, String(v));
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 304 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
