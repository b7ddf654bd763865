import assert from "node:assert/strict";
import { test } from "node:test";

import { Pacer, abortableSleep, bodySize, mbitToBytes, pacedTransport } from "../src/pacer";
import type { TransferRequest, TransferResponse, Transport } from "../src/transport";
import { FakeTimers, settle } from "./helpers";

const MiB = 1024 * 1024;

function fakeSleep(timers: FakeTimers) {
  return (ms: number): Promise<void> => new Promise((resolve) => timers.setTimeout(resolve, ms));
}

test("transfers asking at once queue for one budget", () => {
  const pacer = new Pacer(() => 0, async () => undefined, 1000);
  assert.deepEqual([pacer.reserve(100), pacer.reserve(100), pacer.reserve(300)], [0, 100, 200]);
  assert.equal(pacer.reserve(1), 500);
});

test("an idle link saves nothing up: the next transfer starts now, the one after waits", () => {
  let now = 0;
  const pacer = new Pacer(() => now, async () => undefined, 1000);
  pacer.reserve(100);
  now = 60_000;
  assert.equal(pacer.reserve(500), 0);
  assert.equal(pacer.reserve(10), 500);
});

test("no limit: nothing waits; a limit set later applies to the next transfers", () => {
  const pacer = new Pacer(() => 0, async () => undefined, null);
  assert.equal(pacer.reserve(10 * MiB), 0);
  pacer.setRate(2_500_000);
  assert.equal(pacer.reserve(2_500_000), 0);
  assert.equal(pacer.reserve(1), 1000);
  pacer.setRate(null);
  assert.equal(pacer.reserve(1), 0);
});

test("the setting reads Mbit/s as typed", () => {
  assert.equal(mbitToBytes("20"), 2_500_000);
  assert.equal(mbitToBytes(" 2,5 "), 312_500);
  for (const none of ["", "0", "-3", "fast"]) assert.equal(mbitToBytes(none), null);
});

test("a form's size is its file and fields", () => {
  const form = new FormData();
  form.append("key", "k/1");
  form.append("file", new Blob([new Uint8Array(1000)]), "a.jpg");
  assert.equal(bodySize(form), 1003);
  assert.equal(bodySize(new Blob([new Uint8Array(7)])), 7);
});

test("an abort ends the wait at once", async () => {
  const abort = new AbortController();
  const started = Date.now();
  const waiting = abortableSleep(60_000, abort.signal);
  abort.abort();
  await waiting;
  assert.ok(Date.now() - started < 1000);
});

/** Four senders in parallel (as the uploader's four files / parts) over a 100 Mbit/s link
 * limited to 20 Mbit/s: three 16 MiB parts of a big clip and 32 photos of 3.5 MB. */
async function simulate(): Promise<{ starts: Array<[number, number]>; end: number }> {
  const timers = new FakeTimers();
  const link = 100e6 / 8 / 1000; // bytes per ms
  const starts: Array<[number, number]> = [];
  let end = 0;
  const inner: Transport = (req: TransferRequest) => {
    const bytes = bodySize(req.body);
    starts.push([timers.now, bytes]);
    return new Promise<TransferResponse>((resolve) =>
      timers.setTimeout(() => {
        end = Math.max(end, timers.now);
        resolve({ status: 204, etag: null, text: "" });
      }, bytes / link),
    );
  };
  const paced = pacedTransport(inner, new Pacer(() => timers.now, fakeSleep(timers), 2_500_000));
  const queue = [
    ...Array.from({ length: 3 }, () => 16 * MiB),
    ...Array.from({ length: 32 }, () => 3_500_000),
  ];
  const sender = async (): Promise<void> => {
    for (let size = queue.shift(); size !== undefined; size = queue.shift()) {
      await paced({ method: "PUT", url: "http://s3/x", body: new Blob([new Uint8Array(size)]) });
    }
  };
  const all = Promise.all([sender(), sender(), sender(), sender()]);
  let finished = false;
  void all.then(() => (finished = true));
  await settle();
  while (!finished) await timers.next();
  return { starts, end };
}

test("over a whole job the page holds the rate to within one transfer", async () => {
  const { starts, end } = await simulate();
  const rate = 2_500_000;
  const total = starts.reduce((sum, [, bytes]) => sum + bytes, 0);
  const lastStart = Math.max(...starts.map(([t]) => t));
  assert.equal(starts.length, 35);
  // the budget is used without gaps (the last transfer starts when the others' share is
  // spent) and never exceeded by more than the transfer in flight
  assert.ok(Math.abs(lastStart / 1000 - (total - 3_500_000) / rate) < 0.001, `${lastStart}`);
  assert.ok(total / (end / 1000) < rate * 1.02, `achieved ${total / (end / 1000)} B/s`);
  // any window of T seconds starts at most rate x T + one transfer (a 16 MiB part)
  for (const [t0] of starts) {
    for (const seconds of [10, 30, 60]) {
      const sent = starts
        .filter(([t]) => t >= t0 && t < t0 + seconds * 1000)
        .reduce((sum, [, bytes]) => sum + bytes, 0);
      assert.ok(sent <= rate * seconds + 16 * MiB, `${sent} B in ${seconds} s from ${t0}`);
    }
  }
});
