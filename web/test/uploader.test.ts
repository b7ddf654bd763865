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
  const parts = sizes.map((size, i) => ({ partNumber: i + 1, url: `http://s3/part${i + 1}`, size }));
  const target: UploadTarget = {
    fileId: id,
    filename: `${id}.mp4`,
    key: `k/${id}`,
    method: "PUT",
    url: parts[0]?.url ?? "",
    expiresAt: "2099-01-01T00:00:00Z",
    multipart: { uploadId: "U1", partSize: sizes[0] ?? 0, partCount: sizes.length, parts },
  };
  const bytes = new Uint8Array(total).map((_, i) => i % 251);
  return { fileId: id, file: new Blob([bytes]), filename: `${id}.mp4`, contentType: "video/mp4", size: total, target, doneParts };
}

function fakeApi() {
  const calls: string[] = [];
  let completeError: unknown = null;
  return {
    calls,
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
      seen.push([req.url, (req.body as Blob).size]);
      return { status: 200, etag: `"e${req.url.slice(-1)}"`, text: "" };
    },
    api,
    jobId: "J",
    listener: l,
    sleep: noSleep,
  });
  up.add([multipartItem("m", [6, 6, 3])]);
  await up.idle();
  assert.deepEqual(seen.sort(), [
    ["http://s3/part1", 6],
    ["http://s3/part2", 6],
    ["http://s3/part3", 3],
  ]);
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
  assert.deepEqual(urls, ["http://s3/part2"]);
  assert.deepEqual(api.calls, ['complete m U1 [[1,"\\"old1\\""],[2,"\\"new\\""],[3,"\\"old3\\""]]']);
});

test("multipart: a part that fails for good aborts the upload and fails the file", async () => {
  const api = fakeApi();
  const l = recorder();
  const up = new Uploader({
    transport: async (req) =>
      req.url.endsWith("2") ? { status: 403, etag: null, text: "<Code>AccessDenied</Code>" } : { status: 200, etag: '"x"', text: "" },
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
  const parts = [
    { partNumber: 2, url: "", size: 4 },
    { partNumber: 1, url: "", size: 6 },
  ];
  assert.deepEqual([...partLayout(parts, 6, 10)], [
    [1, { start: 0, length: 6 }],
    [2, { start: 6, length: 4 }],
  ]);
  assert.throws(() => partLayout(parts, 6, 11), /no longer matches/);
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
