// Results polling with If-None-Match: one request at a time (the next one is scheduled only
// after the previous answer), every `minMs` while things change, backing off by `factor` up to
// `maxMs` while the server answers 304. `poke()` brings the next poll forward (an upload just
// finished: its status is worth seeing soon).

import type { Poll } from "./api";
import type { ResultsResponse } from "./types";

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface PollerOptions {
  fetch(etag: string | null): Promise<Poll>;
  /** A new body; return true to stop polling (the job reached a final state). */
  onBody(body: ResultsResponse): boolean;
  /** A failed poll; return true to stop polling (e.g. the session is gone). */
  onError(exc: unknown): boolean;
  timers?: Timers;
  minMs?: number;
  maxMs?: number;
  factor?: number;
}

export class Poller {
  private etag: string | null = null;
  private handle: unknown = null;
  private running = false;
  private inflight = false;
  private stopped = true;
  private pokeWanted = false;
  interval: number;
  private readonly timers: Timers;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly factor: number;

  constructor(private readonly o: PollerOptions) {
    this.timers = o.timers ?? realTimers;
    this.minMs = o.minMs ?? 1000;
    this.maxMs = o.maxMs ?? 5000;
    this.factor = o.factor ?? 1.5;
    this.interval = this.minMs;
  }

  get active(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.interval = this.minMs;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.handle !== null) this.timers.clearTimeout(this.handle);
    this.handle = null;
  }

  /** Poll again soon, at the short interval (never while a poll is in flight). */
  poke(): void {
    if (this.stopped) return;
    this.interval = this.minMs;
    if (this.inflight) {
      this.pokeWanted = true;
      return;
    }
    this.schedule(0);
  }

  /** Forget the ETag: the next poll returns the full body. */
  reset(): void {
    this.etag = null;
  }

  private schedule(ms: number): void {
    if (this.handle !== null) this.timers.clearTimeout(this.handle);
    this.handle = this.timers.setTimeout(() => {
      this.handle = null;
      void this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.inflight) return;
    this.inflight = true;
    this.pokeWanted = false;
    let stop = false;
    try {
      const poll = await this.o.fetch(this.etag);
      this.etag = poll.etag;
      if (poll.body) {
        this.interval = this.minMs;
        stop = this.o.onBody(poll.body);
      } else {
        this.interval = Math.min(this.maxMs, this.interval * this.factor);
      }
    } catch (exc) {
      this.interval = Math.min(this.maxMs, this.interval * this.factor);
      stop = this.o.onError(exc);
    } finally {
      this.inflight = false;
    }
    if (stop) {
      this.stop();
      return;
    }
    if (!this.stopped) this.schedule(this.pokeWanted ? 0 : this.interval);
  }
}
