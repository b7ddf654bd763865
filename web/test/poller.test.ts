import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, type Poll } from "../src/api";
import { Poller } from "../src/poller";
import type { ResultsResponse } from "../src/types";
import { FakeTimers, settle } from "./helpers";

function body(status: string, processed = 0): ResultsResponse {
  return { jobId: "J", sessionId: "S", status: status as ResultsResponse["status"], phase: "processing_files", expectedFileCount: 2, processedCount: processed, files: [] };
}

test("sends the last ETag as If-None-Match and backs off 1 s -> 5 s while nothing changes", async () => {
  const timers = new FakeTimers();
  const etags: Array<string | null> = [];
  const answers: Poll[] = [
    { etag: '"a"', body: body("processing") },
    { etag: '"a"', body: null },
    { etag: '"a"', body: null },
    { etag: '"a"', body: null },
    { etag: '"a"', body: null },
    { etag: '"a"', body: null },
    { etag: '"b"', body: body("processing", 1) },
  ];
  const p = new Poller({
    fetch: async (etag) => {
      etags.push(etag);
      return answers.shift() as Poll;
    },
    onBody: () => false,
    onError: () => false,
    timers,
  });
  p.start();
  const waits: number[] = [];
  for (let i = 0; i < 7; i++) waits.push(await timers.next());
  assert.deepEqual(etags, [null, '"a"', '"a"', '"a"', '"a"', '"a"', '"a"']);
  // first poll at once; after a change 1 s; each 304 stretches the wait (x1.5) up to 5 s
  assert.deepEqual(waits, [0, 1000, 1500, 2250, 3375, 5000, 5000]);
  assert.deepEqual(timers.delays(), [1000]); // a change: back to 1 s
  p.stop();
});

test("never overlaps itself: a poke while a poll is in flight waits for its answer", async () => {
  const timers = new FakeTimers();
  let inflight = 0;
  let max = 0;
  let release: (() => void) | null = null;
  let calls = 0;
  const p = new Poller({
    fetch: async () => {
      calls++;
      inflight++;
      max = Math.max(max, inflight);
      await new Promise<void>((r) => {
        release = r;
      });
      inflight--;
      return { etag: '"x"', body: null };
    },
    onBody: () => false,
    onError: () => false,
    timers,
  });
  p.start();
  await timers.next(); // first poll starts and hangs
  p.poke();
  p.poke();
  assert.deepEqual(timers.delays(), []); // nothing scheduled while in flight
  assert.equal(calls, 1);
  (release as unknown as () => void)();
  await settle();
  assert.deepEqual(timers.delays(), [0]); // the poke is honoured after the answer
  await timers.next();
  assert.equal(calls, 2);
  assert.equal(max, 1);
  p.stop();
});

test("stops when the job reaches a final state, and when the session is gone", async () => {
  const timers = new FakeTimers();
  const p = new Poller({ fetch: async () => ({ etag: '"z"', body: body("complete", 2) }), onBody: (b) => b.status === "complete", onError: () => false, timers });
  p.start();
  await timers.next();
  assert.equal(p.active, false);
  assert.deepEqual(timers.delays(), []);

  const errors: unknown[] = [];
  const q = new Poller({
    fetch: async () => {
      throw new ApiError(403, "forbidden", "no");
    },
    onBody: () => false,
    onError: (e) => {
      errors.push(e);
      return e instanceof ApiError && e.sessionLost;
    },
    timers,
  });
  q.start();
  await timers.next();
  assert.equal(errors.length, 1);
  assert.equal(q.active, false);
});

test("a network error backs off and keeps polling", async () => {
  const timers = new FakeTimers();
  let n = 0;
  const p = new Poller({
    fetch: async () => {
      n++;
      if (n === 1) throw new ApiError(0, "network_error", "offline");
      return { etag: null, body: body("processing") };
    },
    onBody: () => false,
    onError: () => false,
    timers,
  });
  p.start();
  await timers.next();
  assert.deepEqual(timers.delays(), [1500]);
  await timers.next();
  assert.equal(n, 2);
  p.stop();
});
