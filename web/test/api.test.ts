import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiClient } from "../src/api";
import { json } from "./helpers";

const BODY = { jobId: "J", sessionId: "S", status: "processing", phase: "processing_files", expectedFileCount: 1, processedCount: 0, files: [], delta: false, cursor: "1764483823123.980112" };

test("results sends since as a query parameter beside If-None-Match, and none without a cursor", async () => {
  const seen: Array<{ url: string; headers: Record<string, string> }> = [];
  const api = new ApiClient("https://api.test", {
    fetch: async (url, init) => {
      seen.push({ url, headers: init.headers as Record<string, string> });
      return seen.length === 1 ? json(200, BODY, { etag: '"e1"' }) : json(304, null, { etag: '"e1"' });
    },
    sleep: async () => undefined,
  });

  const first = await api.results("J", null);
  const again = await api.results("J", '"e1"', "1764483823123.980112");

  assert.equal(seen[0]?.url, "https://api.test/api/triage/J/results");
  assert.equal(seen[0]?.headers["If-None-Match"], undefined);
  assert.equal(seen[1]?.url, "https://api.test/api/triage/J/results?since=1764483823123.980112");
  assert.equal(seen[1]?.headers["If-None-Match"], '"e1"');
  assert.deepEqual(first, { etag: '"e1"', body: BODY });
  assert.deepEqual(again, { etag: '"e1"', body: null });
});

test("a cursor is sent URL-encoded (opaque to the page)", async () => {
  const urls: string[] = [];
  const api = new ApiClient("", {
    fetch: async (url) => {
      urls.push(url);
      return json(200, BODY);
    },
    sleep: async () => undefined,
  });
  await api.results("J", null, "a b&c");
  assert.deepEqual(urls, ["/api/triage/J/results?since=a%20b%26c"]);
});
