import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, type Poll } from "../src/api";
import { mergeResults, Poller } from "../src/poller";
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

// ------------------------------------------------------------------ deltas (?since=)

type Row = ResultsResponse["files"][number];

function row(fileId: string, status: Row["status"] = "processing"): Row {
  return { fileId, filename: `${fileId}.jpg`, status };
}

function doc(files: Row[], over: Partial<ResultsResponse> = {}): ResultsResponse {
  return { ...body("processing"), files, delta: false, cursor: "100.1", ...over };
}

test("a delta replaces rows by fileId, adds new ones in fileId order, and takes the rest from the answer", () => {
  const copy = doc([row("a", "valid"), row("c"), row("e")], { processedCount: 1, cursor: "100.1" });
  const answer = doc([row("d"), row("c", "invalid"), row("b")], { delta: true, processedCount: 2, status: "processing", cursor: "200.2" });

  const merged = mergeResults(copy, answer);

  assert.deepEqual(merged, doc([row("a", "valid"), row("b"), row("c", "invalid"), row("d"), row("e")], { processedCount: 2, cursor: "200.2" }));
  // plain code-unit order (the server's FILE#<fileId> sort key), not locale order
  const mixed = mergeResults(doc([row("b")]), doc([row("B"), row("_"), row("0")], { delta: true }));
  assert.deepEqual(mixed?.files.map((f) => f.fileId), ["0", "B", "_", "b"]);
  // the copy is not touched
  assert.deepEqual(copy.files.map((f) => f.fileId), ["a", "c", "e"]);
});

test("a full answer replaces the copy, and a delta with no copy cannot be merged", () => {
  const full = doc([row("z", "valid")], { status: "complete", phase: "done", cursor: undefined });
  assert.equal(mergeResults(doc([row("a"), row("b")]), full), full);
  assert.equal(mergeResults(null, full), full);
  assert.equal(mergeResults(null, doc([row("a")], { delta: true })), null);
});

/** A poller over scripted answers, recording each poll's (ETag, since) and each document handed on. */
function scripted(answers: Poll[], timers: FakeTimers) {
  const asked: Array<[string | null, string | null]> = [];
  const seen: ResultsResponse[] = [];
  const poller = new Poller({
    fetch: async (etag, since) => {
      asked.push([etag, since]);
      return answers.shift() as Poll;
    },
    onBody: (b) => {
      seen.push(b);
      return false;
    },
    onError: () => false,
    timers,
  });
  return { asked, seen, poller };
}

test("sends the last applied answer's cursor as since beside the ETag and hands on the merged document", async () => {
  const timers = new FakeTimers();
  const { asked, seen, poller: p } = scripted(
    [
      { etag: '"1"', body: doc([row("a"), row("b")], { cursor: "c1" }) },
      { etag: '"1"', body: null }, // 304: keeps both
      { etag: '"2"', body: doc([row("b", "valid")], { delta: true, cursor: "c2", processedCount: 1 }) },
      { etag: '"3"', body: doc([row("a", "valid"), row("b", "valid")], { status: "analyzing", phase: "analyzing", processedCount: 2, cursor: undefined }) },
      { etag: '"3"', body: null },
    ],
    timers,
  );
  p.start();
  for (let i = 0; i < 5; i++) await timers.next();
  p.stop();

  assert.deepEqual(asked, [
    [null, null],
    ['"1"', "c1"],
    ['"1"', "c1"],
    ['"2"', "c2"],
    ['"3"', null], // the last answer had no cursor: no since
  ]);
  assert.equal(seen.length, 3);
  assert.deepEqual(seen[1], doc([row("a"), row("b", "valid")], { cursor: "c2", processedCount: 1 }));
});

test("reset() forgets the ETag and the cursor", async () => {
  const timers = new FakeTimers();
  const asked: Array<[string | null, string | null]> = [];
  const p = new Poller({
    fetch: async (etag, since) => {
      asked.push([etag, since]);
      return { etag: '"1"', body: null, ...(asked.length === 1 ? { body: doc([row("a")], { cursor: "c1" }) } : {}) };
    },
    onBody: () => false,
    onError: () => false,
    timers,
  });
  p.start();
  await timers.next();
  p.reset();
  await timers.next();
  p.stop();
  assert.deepEqual(asked, [
    [null, null],
    [null, null],
  ]);
});

test("a delta with no copy to merge into is dropped, with the cursor and ETag, and the next poll is full", async () => {
  const timers = new FakeTimers();
  const { asked, seen, poller: p } = scripted(
    [
      { etag: '"2"', body: doc([row("b")], { delta: true, cursor: "c2" }) }, // no copy yet
      { etag: '"3"', body: doc([row("a"), row("b")], { cursor: "c3" }) },
      { etag: '"3"', body: null },
    ],
    timers,
  );
  p.start();
  for (let i = 0; i < 3; i++) await timers.next();
  p.stop();
  assert.deepEqual(asked, [
    [null, null],
    [null, null], // the stray delta left no cursor or ETag behind
    ['"3"', "c3"],
  ]);
  assert.deepEqual(seen, [doc([row("a"), row("b")], { cursor: "c3" })]);
});
