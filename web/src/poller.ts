// Results polling with If-None-Match: one request at a time (the next one is scheduled only
// after the previous answer), every `minMs` while things change, backing off by `factor` up to
// `maxMs` while the server answers 304. `poke()` brings the next poll forward (an upload just
// finished: its status is worth seeing soon).
//
// Deltas: the poller keeps the last document it applied and that answer's `cursor` beside the
// ETag, and sends both on the next poll. An answer with `delta: true` holds only the file rows
// changed since then; `mergeResults` folds it into the copy, so `onBody` always gets the whole
// document, exactly what a full answer would have been.

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

/** Plain code-unit order, as the server orders the rows (sort key `FILE#<fileId>`, ASCII ids). */
function byFileId(a: { fileId: string }, b: { fileId: string }): number {
  return a.fileId < b.fileId ? -1 : a.fileId > b.fileId ? 1 : 0;
}

/**
 * The whole document after `answer`, given the last one applied (`copy`). A full answer
 * (`delta` false or absent) is the document. A delta keeps the copy's rows, replaces each one
 * whose `fileId` the answer carries, adds the answer's other rows and orders them by `fileId`;
 * every other field comes from the answer. Null: a delta with no copy to merge into.
 */
export function mergeResults(copy: ResultsResponse | null, answer: ResultsResponse): ResultsResponse | null {
  if (!answer.delta) return answer;
  if (copy === null) return null;
  const rows = new Map(copy.files.map((f) => [f.fileId, f]));
  for (const f of answer.files) rows.set(f.fileId, f);
  return { ...answer, delta: false, files: [...rows.values()].sort(byFileId) };
}

export interface PollerOptions {
  /** One conditional poll: the last ETag and the last applied answer's cursor (`?since=`). */
  fetch(etag: string | null, since: string | null): Promise<Poll>;
  /** A new document (always whole: deltas are merged first); return true to stop polling (the
   * job reached a final state). */
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
  private cursor: string | null = null;
  private copy: ResultsResponse | null = null;
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

  /** Forget the ETag and the cursor: the next poll returns the full body. (The copy stays: a
   * delta already in flight was asked for against it.) */
  reset(): void {
    this.etag = null;
    this.cursor = null;
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
      const poll = await this.o.fetch(this.etag, this.cursor);
      if (poll.body) {
        this.interval = this.minMs;
        // null: a delta with no copy to merge into (a client bug). Not applied, and its ETag
        // and cursor not kept (none are set without a copy), so the next poll asks for it all.
        const doc = mergeResults(this.copy, poll.body);
        if (doc !== null) {
          this.copy = doc;
          this.etag = poll.etag;
          this.cursor = doc.cursor ?? null;
          stop = this.o.onBody(doc);
        }
      } else {
        this.etag = poll.etag; // a 304 keeps the cursor too
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
