import assert from "node:assert/strict";
import { test } from "node:test";

import { TransferError } from "../src/transport";
import type { UploadTarget } from "../src/types";
import { Uploader, partLayout, type UploadItem, type UploadListener } from "../src/uploader";
import { ManualTransport, settle } from "./helpers";

function recorder(): UploadListener & { events: string[]; failures: Array<[string, string]> } {
  const events: string[] = [];
  const failures: Array<[string, string]> = [];
  return {
    events,
    failures,
    started: (id) => events.push(`started ${id}`),
    progress: () => undefined,
    retrying: (id, attempt, code) => events.push(`retry ${id} ${attempt} ${code}`),
    partDone: (id, n, etag) => events.push(`part ${id} ${n} ${etag}`),
    done: (id) => events.push(`done ${id}`),
    failed: (id, code) => {
      events.push(`failed ${id} ${code}`);
      failures.push([id, code]);
    },
  };
}

function postItem(id: string, size = 10): UploadItem {
  const target: UploadTarget = {
    fileId: id,
    filename: `${id}.jpg`,
    key: `k/${id}`,
    method: "POST",
    url: "http://s3/bucket",
    fields: { key: `k/${id}`, "Content-Type": "image/jpeg", policy: "p" },
    expiresAt: "2099-01-01T00:00:00Z",
  };
  return { fileId: id, file: new Blob([new Uint8Array(size)]), filename: `${id}.jpg`, contentType: "image/jpeg", size, target };
}

function multipartItem(id: string, sizes: number[], doneParts?: Record<string, string>): UploadItem {
  const total = sizes.reduce((a, b) => a + b, 0);
  const target: UploadTarget = {
    fileId: id,
    filename: `${id}.mp4`,
    key: `k/${id}`,
    method: "PUT",
    expiresAt: "2099-01-01T00:00:00Z",
    multipart: { uploadId: "U1", partSize: sizes[0] ?? 0, partCount: sizes.length },
  };
  const bytes = new Uint8Array(total).map((_, i) => i % 251);
  return { fileId: id, file: new Blob([bytes]), filename: `${id}.mp4`, contentType: "video/mp4", size: total, target, doneParts };
}

/** The API's side of the uploads: complete/abort recorded in `calls`, part URL requests in
 * `partsCalls`; part URLs are `http://s3/part<n>?v=<answer>` and expire `ttlMs` after `clock`. */
function fakeApi(clock: { now: number } = { now: Date.parse("2030-01-01T00:00:00Z") }, ttlMs = 3_600_000) {
  const calls: string[] = [];
  const partsCalls: number[][] = [];
  let completeError: unknown = null;
  return {
    calls,
    partsCalls,
    async multipartParts(_job: string, fileId: string, uploadId: string, partNumbers: readonly number[]) {
      partsCalls.push([...partNumbers]);
      const v = partsCalls.length;
      return {
        fileId,
        uploadId,
        expiresAt: new Date(clock.now + ttlMs).toISOString(),
        parts: partNumbers.map((n) => ({ partNumber: n, url: `http://s3/part${n}?v=${v}`, size: 1 })),
      };
    },
    failComplete(e: unknown) {
      completeError = e;
    },
    async completeMultipart(_job: string, fileId: string, uploadId: string, parts: ReadonlyArray<readonly [number, string]>) {
      calls.push(`complete ${fileId} ${uploadId} ${JSON.stringify(parts)}`);
      if (completeError) throw completeError;
    },
    async abortMultipart(_job: string, fileId: string, uploadId: string) {
      calls.push(`abort ${fileId} ${uploadId}`);
    },
  };
}

const noSleep = async (): Promise<void> => undefined;

test("at most `concurrency` files upload at once; the rest wait their turn", async () => {
  const t = new ManualTransport();
  const l = recorder();
  const up = new Uploader({ transport: t.send, api: fakeApi(), jobId: "J", listener: l, sleep: noSleep, concurrency: 4 });
  up.add(Array.from({ length: 10 }, (_, i) => postItem(`f${i}`)));
  await settle();
  assert.equal(t.calls.length, 4);
  assert.equal(up.pending, 10);
  while (t.calls.some((c) => c)) {
    const call = t.calls.shift();
    if (!call) break;
    call.resolve({ status: 204 });
    await settle();
  }
  await up.idle();
  assert.equal(t.maxInflight, 4);
  assert.equal(l.events.filter((e) => e.startsWith("done")).length, 10);
  assert.equal(up.pending, 0);
});

test("a presigned POST sends the target's fields first and the file last", async () => {
  const t = new ManualTransport();
  const up = new Uploader({ transport: t.send, api: fakeApi(), jobId: "J", listener: recorder(), sleep: noSleep });
  up.add([postItem("a", 5)]);
  await settle();
  const call = t.calls[0];
  assert.ok(call);
  assert.equal(call.req.method, "POST");
  const form = call.req.body as FormData;
  assert.deepEqual([...form.keys()], ["key", "Content-Type", "policy", "file"]);
  const file = form.get("file") as File;
  assert.equal(file.name, "a.jpg");
  assert.equal(file.size, 5);
  call.resolve({ status: 204 });
  await up.idle();
});

test("retryable failures (network, 503) are retried with growing backoff, then succeed", async () => {
  const sleeps: number[] = [];
  const answers: Array<() => Promise<{ status: number; etag: null; text: string }>> = [
    () => Promise.reject(new TransferError("network_error", "reset")),
    () => Promise.resolve({ status: 503, etag: null, text: "<Error><Code>SlowDown</Code></Error>" }),
    () => Promise.resolve({ status: 204, etag: null, text: "" }),
  ];
  const l = recorder();
  const up = new Uploader({
    transport: () => (answers.shift() as () => Promise<{ status: number; etag: null; text: string }>)(),
    api: fakeApi(),
    jobId: "J",
    listener: l,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    backoffMs: 500,
  });
  up.add([postItem("a")]);
  await up.idle();
  assert.deepEqual(l.events, ["started a", "retry a 1 network_error", "retry a 2 SlowDown", "done a"]);
  assert.deepEqual(sleeps, [500, 1000]);
});

test("a refusal (403) fails the file at once; a file that keeps failing gives up after `attempts`", async () => {
  let calls = 0;
  const l = recorder();
  const up = new Uploader({
    transport: async (req) => {
      calls++;
      return req.url.includes("deny")
        ? { status: 403, etag: null, text: "<Error><Code>AccessDenied</Code></Error>" }
        : { status: 500, etag: null, text: "" };
    },
    api: fakeApi(),
    jobId: "J",
    listener: l,
    sleep: noSleep,
    attempts: 3,
  });
  const denied = postItem("d");
  denied.target = { ...denied.target, url: "http://s3/deny" };
  up.add([denied]);
  await up.idle();
  assert.equal(calls, 1);
  up.add([postItem("e")]);
  await up.idle();
  assert.equal(calls, 1 + 3);
  assert.deepEqual(l.failures, [
    ["d", "AccessDenied"],
    ["e", "http_500"],
  ]);
});

test("a file that changed size since it was planned fails as size_changed without sending", async () => {
  const t = new ManualTransport();
  const l = recorder();
  const up = new Uploader({ transport: t.send, api: fakeApi(), jobId: "J", listener: l, sleep: noSleep });
  const item = postItem("a", 10);
  up.add([{ ...item, size: 11 }]);
  await up.idle();
  assert.equal(t.calls.length, 0);
  assert.deepEqual(l.failures, [["a", "size_changed"]]);
});

test("multipart: every part PUT with its byte range, ETags collected, complete called in order", async () => {
  const api = fakeApi();
  const l = recorder();
  const seen: Array<[string, number]> = [];
  const up = new Uploader({
    transport: async (req) => {
      const n = /part(\d+)/.exec(req.url)?.[1];
      seen.push([req.url, (req.body as Blob).size]);
      return { status: 200, etag: `"e${n}"`, text: "" };
    },
    api,
    jobId: "J",
    listener: l,
    sleep: noSleep,
  });
  up.add([multipartItem("m", [6, 6, 3])]);
  await up.idle();
  assert.deepEqual(seen.sort(), [
    ["http://s3/part1?v=1", 6],
    ["http://s3/part2?v=1", 6],
    ["http://s3/part3?v=1", 3],
  ]);
  assert.deepEqual(api.partsCalls, [[1, 2, 3]]); // one call: the part wanted and those after it
  assert.deepEqual(api.calls, ['complete m U1 [[1,"\\"e1\\""],[2,"\\"e2\\""],[3,"\\"e3\\""]]']);
  assert.ok(l.events.includes("done m"));
  assert.equal(l.events.filter((e) => e.startsWith("part m")).length, 3);
});

test("multipart resume: parts already done are not sent again, their ETags are reused", async () => {
  const api = fakeApi();
  const urls: string[] = [];
  const up = new Uploader({
    transport: async (req) => {
      urls.push(req.url);
      return { status: 200, etag: '"new"', text: "" };
    },
    api,
    jobId: "J",
    listener: recorder(),
    sleep: noSleep,
  });
  up.add([multipartItem("m", [6, 6, 3], { "1": '"old1"', "3": '"old3"' })]);
  await up.idle();
  assert.deepEqual(urls, ["http://s3/part2?v=1"]);
  assert.deepEqual(api.partsCalls, [[2]]); // no URL asked for the parts already done
  assert.deepEqual(api.calls, ['complete m U1 [[1,"\\"old1\\""],[2,"\\"new\\""],[3,"\\"old3\\""]]']);
});

test("multipart: a part that fails for good aborts the upload and fails the file", async () => {
  const api = fakeApi();
  const l = recorder();
  const up = new Uploader({
    transport: async (req) =>
      req.url.includes("part2") ? { status: 403, etag: null, text: "<Code>AccessDenied</Code>" } : { status: 200, etag: '"x"', text: "" },
    api,
    jobId: "J",
    listener: l,
    sleep: noSleep,
  });
  up.add([multipartItem("m", [6, 6, 3])]);
  await up.idle();
  assert.deepEqual(api.calls, ["abort m U1"]);
  assert.deepEqual(l.failures, [["m", "AccessDenied"]]);
});

test("multipart: a part without an ETag (CORS not exposing it) is an error, not a silent success", async () => {
  const api = fakeApi();
  const l = recorder();
  const up = new Uploader({
    transport: async () => ({ status: 200, etag: null, text: "" }),
    api,
    jobId: "J",
    listener: l,
    sleep: noSleep,
    attempts: 1,
  });
  up.add([multipartItem("m", [6])]);
  await up.idle();
  assert.deepEqual(l.failures, [["m", "no_etag"]]);
  assert.deepEqual(api.calls, ["abort m U1"]);
});

test("multipart: a failed complete aborts the upload", async () => {
  const api = fakeApi();
  api.failComplete(new Error("boom"));
  const l = recorder();
  const up = new Uploader({ transport: async () => ({ status: 200, etag: '"x"', text: "" }), api, jobId: "J", listener: l, sleep: noSleep });
  up.add([multipartItem("m", [6, 2])]);
  await up.idle();
  assert.equal(api.calls[1], "abort m U1");
  assert.equal(l.failures.length, 1);
});

test("partLayout: offsets from the plan; a file that no longer fits the plan is refused", () => {
  assert.deepEqual([...partLayout(6, 2, 10)], [
    [1, { start: 0, length: 6 }],
    [2, { start: 6, length: 4 }],
  ]);
  assert.throws(() => partLayout(6, 2, 13), /no longer matches/);
  assert.throws(() => partLayout(6, 2, 6), /no longer matches/);
});

test("multipart: part URLs are asked for in batches shortly before use, each part once", async () => {
  const t = new ManualTransport();
  const api = fakeApi();
  const up = new Uploader({ transport: t.send, api, jobId: "J", listener: recorder(), sleep: noSleep, partConcurrency: 2, partUrlBatch: 8 });
  up.add([multipartItem("m", Array.from({ length: 30 }, () => 2))]);
  await settle();
  assert.deepEqual(api.partsCalls, [[1, 2, 3, 4, 5, 6, 7, 8]]); // not all 30 up front
  assert.equal(t.calls.length, 2);
  while (t.calls.length) {
    const call = t.calls.shift();
    call?.resolve({ status: 200, etag: '"x"' });
    await settle();
  }
  await up.idle();
  assert.ok(api.partsCalls.every((b) => b.length <= 8));
  assert.deepEqual(api.partsCalls.flat().sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(api.calls.length, 1);
  assert.match(api.calls[0] ?? "", /^complete m U1/);
});

test("multipart: URLs that expired meanwhile are asked for again before use", async () => {
  const clock = { now: Date.parse("2030-01-01T00:00:00Z") };
  const api = fakeApi(clock);
  const puts: string[] = [];
  const up = new Uploader({
    transport: async (req) => {
      puts.push(req.url);
      clock.now += 2 * 3_600_000; // each part takes two hours
      return { status: 200, etag: '"x"', text: "" };
    },
    api,
    jobId: "J",
    listener: recorder(),
    sleep: noSleep,
    partConcurrency: 1,
    partUrlBatch: 3,
    now: () => clock.now,
  });
  up.add([multipartItem("m", [2, 2, 2])]);
  await up.idle();
  assert.deepEqual(api.partsCalls, [[1, 2, 3], [2, 3], [3]]);
  assert.deepEqual(puts, ["http://s3/part1?v=1", "http://s3/part2?v=2", "http://s3/part3?v=3"]);
});

test("multipart: a URL S3 refuses as expired is asked for again, with the rest of its answer", async () => {
  const api = fakeApi();
  const l = recorder();
  const up = new Uploader({
    // S3's clock is ahead of ours: every URL of the first answer has expired but part 1's
    transport: async (req) =>
      req.url.endsWith("v=1") && !req.url.includes("part1?")
        ? { status: 403, etag: null, text: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>" }
        : { status: 200, etag: '"x"', text: "" },
    api,
    jobId: "J",
    listener: l,
    sleep: noSleep,
    partConcurrency: 1,
  });
  up.add([multipartItem("m", [2, 2, 2])]);
  await up.idle();
  assert.deepEqual(l.failures, []);
  assert.deepEqual(api.partsCalls, [[1, 2, 3], [2, 3]]);
  assert.match(api.calls[0] ?? "", /^complete m U1/);
});

test("cancel aborts transfers in flight and reports no failure for them", async () => {
  const t = new ManualTransport();
  const l = recorder();
  const up = new Uploader({ transport: t.send, api: fakeApi(), jobId: "J", listener: l, sleep: noSleep });
  up.add([postItem("a"), postItem("b")]);
  await settle();
  up.cancel();
  for (const c of t.calls) c.reject(new TransferError("aborted", "cancelled"));
  await up.idle();
  assert.deepEqual(l.failures, []);
  assert.ok(t.calls.every((c) => c.req.signal?.aborted));
});
