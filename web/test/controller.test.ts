import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiClient } from "../src/api";
import { DEFAULT_CONFIG } from "../src/config";
import { Controller } from "../src/controller";
import { State } from "../src/state";
import { SessionStore } from "../src/store";
import type { Transport } from "../src/transport";
import type { UploadTarget } from "../src/types";
import { FakeTimers, MemoryStorage, json, settle } from "./helpers";

interface Seen {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

const FUTURE = "2099-01-01T00:00:00Z";

function postTarget(fileId: string, name: string): UploadTarget {
  return { fileId, filename: name, key: `k/${fileId}`, method: "POST", url: "http://s3/b", fields: { key: `k/${fileId}` }, expiresAt: FUTURE };
}

function mpTarget(fileId: string, name: string, sizes: number[]): UploadTarget {
  return {
    fileId, filename: name, key: `k/${fileId}`, method: "PUT", expiresAt: FUTURE,
    multipart: { uploadId: "U", partSize: sizes[0] ?? 0, partCount: sizes.length },
  };
}

/** `POST /multipart/parts`: URLs `http://s3/<fileId>/p<n>`. */
function partUrls(body: unknown): Response {
  const b = body as { fileId: string; uploadId: string; partNumbers: number[] };
  const parts = b.partNumbers.map((n) => ({ partNumber: n, url: `http://s3/${b.fileId}/p${n}`, size: 1 }));
  return json(200, { fileId: b.fileId, uploadId: b.uploadId, expiresAt: FUTURE, parts });
}

/** A fake HTTP API: routes answer from `handlers`; every call is recorded. */
function fakeServer(handlers: Record<string, (body: unknown, n: number) => Response>) {
  const seen: Seen[] = [];
  const counts = new Map<string, number>();
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const path = url.replace(/^.*?\/api\//, "/api/").replace(/[0-9a-f]{6,}|J1/g, "{id}");
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(String(init.body)) : null;
    seen.push({ method, path, body, headers: init.headers as Record<string, string> });
    const route = `${method} ${path}`;
    const n = (counts.get(route) ?? 0) + 1;
    counts.set(route, n);
    const h = handlers[route];
    if (!h) return json(404, { error: { code: "route_not_found", message: route } });
    return h(body, n);
  };
  return { seen, fetch };
}

function file(name: string, size: number, lastModified = 1000): File {
  return new File([new Uint8Array(size)], name, { type: "image/jpeg", lastModified });
}

function setup(fetch: (u: string, i: RequestInit) => Promise<Response>, transport: Transport, storage = new MemoryStorage()) {
  const state = new State();
  const timers = new FakeTimers();
  const said: string[] = [];
  const api = new ApiClient("", { fetch, sleep: async () => undefined, retries: 1 });
  const c = new Controller({
    api, transport, store: new SessionStore(storage), state, cfg: DEFAULT_CONFIG,
    sleep: async () => undefined, timers, now: () => Date.parse("2030-01-01T00:00:00Z"), uuid: () => "key-1",
    changed: () => undefined, say: (t) => said.push(t), keepaliveMs: 120_000,
  });
  return { state, timers, c, said, storage };
}

const ok204: Transport = async () => ({ status: 204, etag: null, text: "" });
const jobView = (expected: number) => json(200, { jobId: "J1", sessionId: "S", status: "pending", phase: "waiting_for_files", expectedFileCount: expected, processedCount: 0 });
const results = () => json(200, { jobId: "J1", sessionId: "S", status: "pending", phase: "waiting_for_files", expectedFileCount: 2, processedCount: 0, files: [] }, { etag: '"r1"' });

test("the first drop inits with an Idempotency-Key kept in sessionStorage before the request; files fail -> the count goes down", async () => {
  let keyAtInit: string | null = null;
  const storage = new MemoryStorage();
  const server = fakeServer({
    "POST /api/triage/init": () => {
      keyAtInit = (JSON.parse(storage.getItem("media-triage:session") ?? "{}") as { idempotencyKey?: string }).idempotencyKey ?? null;
      return json(202, { sessionId: "S", jobId: "J1", sessionToken: "tok", expiresAt: FUTURE, uploads: [postTarget("f1", "a.jpg"), postTarget("f2", "b.jpg"), postTarget("f3", "c.jpg")] });
    },
    "PATCH /api/triage/{id}": (b) => jobView((b as { expectedFileCount: number }).expectedFileCount),
    "GET /api/triage/{id}/results": results,
  });
  const denyB: Transport = async (req) => {
    const key = (req.body as FormData).get("key");
    return key === "k/f2" || key === "k/f3" ? { status: 403, etag: null, text: "<Code>AccessDenied</Code>" } : { status: 204, etag: null, text: "" };
  };
  const { c, state, timers } = setup(server.fetch, denyB, storage);
  await c.add([{ file: file("a.jpg", 3), contentType: "image/jpeg" }, { file: file("b.jpg", 4), contentType: "image/jpeg" }, { file: file("c.jpg", 5), contentType: "image/jpeg" }]);
  await settle();
  const init = server.seen.find((s) => s.path === "/api/triage/init");
  assert.equal(init?.headers["Idempotency-Key"], "key-1");
  assert.equal(keyAtInit, "key-1");
  assert.deepEqual(init?.body, {
    expectedFileCount: 3,
    files: [{ filename: "a.jpg", contentType: "image/jpeg", size: 3 }, { filename: "b.jpg", contentType: "image/jpeg", size: 4 }, { filename: "c.jpg", contentType: "image/jpeg", size: 5 }],
  });
  const patches = server.seen.filter((s) => s.method === "PATCH").map((s) => s.body);
  assert.deepEqual(patches, [{ expectedFileCount: 2 }, { expectedFileCount: 1 }]); // absolute counts, in order
  assert.equal(state.rows.get("f2")?.phase, "upload_failed");
  assert.equal(state.rows.get("f1")?.phase, "processing");
  await timers.next(); // the first results poll
  assert.equal(server.seen.find((s) => s.path.endsWith("/results"))?.headers["Authorization"], "Bearer tok");
});

test("a later drop raises the count first, then asks for targets; a refused drop puts the count back", async () => {
  const server = fakeServer({
    "POST /api/triage/init": () => json(202, { sessionId: "S", jobId: "J1", sessionToken: "tok", expiresAt: FUTURE, uploads: [postTarget("f1", "a.jpg")] }),
    "PATCH /api/triage/{id}": (b) => jobView((b as { expectedFileCount: number }).expectedFileCount),
    "POST /api/triage/{id}/uploads": (_b, n) =>
      n === 1 ? json(200, { jobId: "J1", uploads: [postTarget("f2", "b.jpg")] }) : json(400, { error: { code: "invalid_request", message: "no" } }),
    "GET /api/triage/{id}/results": results,
  });
  const { c, said } = setup(server.fetch, ok204);
  await c.add([{ file: file("a.jpg", 3), contentType: "image/jpeg" }]);
  await c.add([{ file: file("b.jpg", 3), contentType: "image/jpeg" }]);
  await c.add([{ file: file("c.jpg", 3), contentType: "image/jpeg" }]);
  await settle();
  const calls = server.seen.filter((s) => s.method !== "GET").map((s) => `${s.method} ${s.path} ${JSON.stringify(s.body?.valueOf() && (s.body as { expectedFileCount?: number }).expectedFileCount)}`);
  assert.deepEqual(calls, [
    "POST /api/triage/init 1",
    "PATCH /api/triage/{id} 2",
    "POST /api/triage/{id}/uploads undefined",
    "PATCH /api/triage/{id} 3",
    "POST /api/triage/{id}/uploads undefined",
    "PATCH /api/triage/{id} 2",
  ]);
  assert.match(said.at(-1) ?? "", /not accepted/);
  const keys = server.seen.filter((s) => s.path.endsWith("/uploads")).map((s) => s.headers["Idempotency-Key"]);
  assert.deepEqual(keys, ["key-1", "key-1"]); // every drop's call carries a key (uuid() is fixed here)
});

test("a later drop whose /uploads answer was lost is asked again with the same key", async () => {
  const server = fakeServer({
    "POST /api/triage/init": () => json(202, { sessionId: "S", jobId: "J1", sessionToken: "tok", expiresAt: FUTURE, uploads: [postTarget("f1", "a.jpg")] }),
    "PATCH /api/triage/{id}": (b) => jobView((b as { expectedFileCount: number }).expectedFileCount),
    "POST /api/triage/{id}/uploads": (_b, n) =>
      n === 1 ? json(502, { message: "Internal Server Error" }) : json(200, { jobId: "J1", uploads: [postTarget("f2", "b.jpg")] }),
    "GET /api/triage/{id}/results": results,
  });
  const { c, state } = setup(server.fetch, ok204);
  await c.add([{ file: file("a.jpg", 3), contentType: "image/jpeg" }]);
  await c.add([{ file: file("b.jpg", 3), contentType: "image/jpeg" }]);
  await settle();
  const calls = server.seen.filter((s) => s.path.endsWith("/uploads"));
  assert.equal(calls.length, 2);
  assert.equal(calls[0]?.headers["Idempotency-Key"], calls[1]?.headers["Idempotency-Key"]);
  assert.equal(state.rows.get("f2")?.phase, "processing");
  assert.deepEqual(server.seen.filter((s) => s.method === "PATCH").map((s) => s.body), [{ expectedFileCount: 2 }]);
});

test("keep-alive: the unchanged count is PATCHed every 2 minutes while an upload is in flight, not after", async () => {
  const server = fakeServer({
    "POST /api/triage/init": () => json(202, { sessionId: "S", jobId: "J1", sessionToken: "tok", expiresAt: FUTURE, uploads: [postTarget("f1", "a.jpg")] }),
    "PATCH /api/triage/{id}": () => jobView(1),
    "GET /api/triage/{id}/results": results,
  });
  let finish: (() => void) | null = null;
  const slow: Transport = () => new Promise((r) => { finish = () => r({ status: 204, etag: null, text: "" }); });
  const { c, timers } = setup(server.fetch, slow);
  await c.add([{ file: file("a.jpg", 3), contentType: "image/jpeg" }]);
  await settle();
  const fire = async (ms: number) => {
    const entry = [...timers.pending.entries()].find(([, t]) => t.at - timers.now === ms);
    assert.ok(entry, `a timer of ${ms} ms`);
    timers.pending.delete(entry[0]);
    timers.now = entry[1].at;
    entry[1].fn();
    await settle();
  };
  await fire(120_000);
  await fire(120_000);
  assert.deepEqual(server.seen.filter((s) => s.method === "PATCH").map((s) => s.body), [{ expectedFileCount: 1 }, { expectedFileCount: 1 }]);
  (finish as unknown as () => void)();
  await settle();
  await fire(120_000);
  assert.equal(server.seen.filter((s) => s.method === "PATCH").length, 2);
  assert.ok(![...timers.pending.values()].some((t) => t.at - timers.now === 120_000));
});

test("after a reload: the job is re-attached, a re-picked file continues its multipart upload from the parts done", async () => {
  const storage = new MemoryStorage();
  const server = fakeServer({
    "POST /api/triage/init": () => json(202, { sessionId: "S", jobId: "J1", sessionToken: "tok", expiresAt: FUTURE, uploads: [mpTarget("f1", "big.mp4", [6, 6, 3])] }),
    "POST /api/triage/{id}/multipart/parts": partUrls,
    "POST /api/triage/{id}/multipart/complete": () => json(200, { fileId: "f1", key: "k" }),
    "GET /api/triage/{id}/results": results,
  });
  // first page life: part 1 succeeds, then the tab goes away while parts 2 and 3 are in flight
  const first = setup(server.fetch, (req) => (req.url.endsWith("p1") ? Promise.resolve({ status: 200, etag: '"e1"', text: "" }) : new Promise(() => undefined)), storage);
  await first.c.add([{ file: file("big.mp4", 15, 42), contentType: "video/mp4" }]);
  await settle();
  assert.deepEqual(JSON.parse(storage.getItem("media-triage:file:f1") ?? "{}").parts, { "1": '"e1"' });

  // second page life
  const put: string[] = [];
  const second = setup(server.fetch, async (req) => {
    put.push(req.url);
    return { status: 200, etag: `"n${req.url.slice(-1)}"`, text: "" };
  }, storage);
  await second.c.resume();
  assert.equal(second.state.job?.jobId, "J1");
  assert.equal(second.state.rows.get("f1")?.phase, "needs_file");
  await second.c.add([{ file: file("big.mp4", 15, 42), contentType: "video/mp4" }]);
  await settle();
  assert.deepEqual(put.sort(), ["http://s3/f1/p2", "http://s3/f1/p3"]);
  const complete = server.seen.find((s) => s.path.endsWith("/multipart/complete"));
  assert.deepEqual(complete?.body, { fileId: "f1", uploadId: "U", parts: [{ partNumber: 1, etag: '"e1"' }, { partNumber: 2, etag: '"n2"' }, { partNumber: 3, etag: '"n3"' }] });
  assert.equal(server.seen.filter((s) => s.path === "/api/triage/init").length, 1); // the plan has no URL to expire: no replay
  const asked = server.seen.filter((s) => s.path.endsWith("/multipart/parts")).map((s) => (s.body as { partNumbers: number[] }).partNumbers);
  assert.deepEqual(asked, [[1, 2, 3], [2, 3]]); // each page life asks for the parts it sends
  assert.equal(second.state.rows.get("f1")?.phase, "processing");
});

test("401/403/404 on our job shows the session-expired state", async () => {
  const server = fakeServer({
    "POST /api/triage/init": () => json(202, { sessionId: "S", jobId: "J1", sessionToken: "tok", expiresAt: FUTURE, uploads: [postTarget("f1", "a.jpg")] }),
    "GET /api/triage/{id}/results": () => json(403, { error: { code: "forbidden", message: "no" } }),
  });
  const { c, state, timers } = setup(server.fetch, ok204);
  await c.add([{ file: file("a.jpg", 3), contentType: "image/jpeg" }]);
  await timers.next();
  assert.equal(state.screen, "expired");
  assert.deepEqual(timers.delays().filter((d) => d < 100_000), []); // polling stopped
});

test("flips are remembered in sessionStorage for the job", async () => {
  const storage = new MemoryStorage();
  const server = fakeServer({
    "POST /api/triage/init": () => json(202, { sessionId: "S", jobId: "J1", sessionToken: "tok", expiresAt: FUTURE, uploads: [postTarget("f1", "a.jpg")] }),
    "GET /api/triage/{id}/results": () =>
      json(200, {
        jobId: "J1", sessionId: "S", status: "complete", phase: "done", expectedFileCount: 1, processedCount: 1,
        files: [{ fileId: "f1", filename: "a.jpg", status: "valid" }],
        verdicts: { keep: [], discard: [{ fileId: "f1", filename: "a.jpg", verdict: "discard", score: 5, reason: "dark", issues: ["dark"] }] },
      }),
  });
  const { c, state, timers } = setup(server.fetch, ok204, storage);
  await c.add([{ file: file("a.jpg", 3), contentType: "image/jpeg" }]);
  await timers.next();
  c.flip("f1");
  assert.deepEqual(JSON.parse(storage.getItem("media-triage:flips:J1") ?? "{}"), { f1: "keep" });
  assert.deepEqual(state.keepList().map((e) => e.filename), ["a.jpg"]);
});
