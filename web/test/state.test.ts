import assert from "node:assert/strict";
import { test } from "node:test";

import { State } from "../src/state";
import type { ResultsResponse } from "../src/types";

function results(over: Partial<ResultsResponse> = {}): ResultsResponse {
  return { jobId: "J", sessionId: "S", status: "processing", phase: "processing_files", expectedFileCount: 3, processedCount: 0, files: [], ...over };
}

function withFiles(): State {
  const s = new State();
  s.dispatch({ type: "job", jobId: "J", expected: 3 });
  s.dispatch({ type: "files-added", rows: [
    { id: "a", filename: "a.jpg", size: 100 },
    { id: "b", filename: "b.jpg", size: 100 },
    { id: "c", filename: "c.jpg", size: 100 },
  ] });
  s.takeDirty();
  return s;
}

test("a row moves queued -> uploading % -> processing -> valid, and only changed rows are dirty", () => {
  const s = withFiles();
  s.dispatch({ type: "upload-started", id: "a" });
  s.dispatch({ type: "upload-progress", id: "a", sent: 40 });
  assert.equal(s.rows.get("a")?.phase, "uploading");
  assert.equal(s.rows.get("a")?.sent, 40);
  assert.deepEqual([...s.takeDirty().rows], ["a"]);
  s.dispatch({ type: "upload-done", id: "a" });
  assert.equal(s.rows.get("a")?.phase, "processing");
  s.takeDirty();
  s.dispatch({ type: "results", body: results({ files: [
    { fileId: "a", filename: "a.jpg", status: "valid", mediaType: "photo", width: 10, height: 8 },
    { fileId: "b", filename: "b.jpg", status: "uploading" },
  ] }) });
  const d = s.takeDirty();
  assert.deepEqual([...d.rows], ["a"]);
  assert.equal(s.rows.get("a")?.phase, "valid");
  assert.equal(s.rows.get("b")?.phase, "queued"); // "uploading" from the server: the uploader knows better
  // the same body again changes nothing
  s.dispatch({ type: "results", body: results({ files: [{ fileId: "a", filename: "a.jpg", status: "valid", mediaType: "photo", width: 10, height: 8 }] }) });
  assert.deepEqual([...s.takeDirty().rows], []);
});

test("invalid with its code, duplicate of a named file, and an upload failure the server cannot undo", () => {
  const s = withFiles();
  s.dispatch({ type: "upload-failed", id: "c", code: "AccessDenied", message: "no" });
  s.dispatch({ type: "results", body: results({ files: [
    { fileId: "a", filename: "a.jpg", status: "invalid", error: { code: "corrupt", message: "bad" } },
    { fileId: "b", filename: "b.jpg", status: "duplicate", duplicateOf: "a" },
    { fileId: "c", filename: "c.jpg", status: "processing" },
  ] }) });
  assert.equal(s.rows.get("a")?.code, "corrupt");
  assert.equal(s.rows.get("b")?.duplicateOf, "a.jpg");
  assert.equal(s.rows.get("c")?.phase, "upload_failed");
  assert.deepEqual(s.counts(), { uploading: 0, processing: 0, valid: 0, invalid: 2, duplicate: 1 });
});

test("status filters toggle; counts and totals follow the rows", () => {
  const s = withFiles();
  s.dispatch({ type: "upload-started", id: "a" });
  s.dispatch({ type: "upload-progress", id: "a", sent: 50 });
  s.dispatch({ type: "upload-done", id: "b" });
  assert.deepEqual(s.counts(), { uploading: 2, processing: 1, valid: 0, invalid: 0, duplicate: 0 });
  assert.deepEqual(s.totals(), { bytes: 300, sent: 150, uploadsLeft: 2, remaining: 3, needsFile: 0 });
  s.dispatch({ type: "filter-status", status: "processing" });
  assert.equal(s.visible(s.rows.get("a")!), false);
  assert.equal(s.visible(s.rows.get("b")!), true);
  s.dispatch({ type: "filter-status", status: "processing" });
  assert.equal(s.statusFilter, null);
});

test("the job line follows status; terminal statuses end the job", () => {
  const s = withFiles();
  s.dispatch({ type: "results", body: results({ status: "analyzing", phase: "analyzing", processedCount: 3 }) });
  assert.equal(s.job?.status, "analyzing");
  assert.equal(s.terminal, false);
  s.dispatch({ type: "results", body: results({ status: "failed", phase: "failed", error: "analyzer_unavailable" }) });
  assert.equal(s.terminal, true);
  assert.equal(s.job?.error, "analyzer_unavailable");
});

test("verdict grid: discard first (lowest score first), keep best first, invalid apart; flips and issue filter", () => {
  const s = withFiles();
  s.dispatch({ type: "files-added", rows: [{ id: "d", filename: "d.jpg", size: 1 }] });
  s.dispatch({ type: "results", body: results({
    status: "complete",
    files: [
      { fileId: "a", filename: "a.jpg", status: "valid" },
      { fileId: "b", filename: "b.jpg", status: "valid" },
      { fileId: "c", filename: "c.jpg", status: "valid" },
      { fileId: "d", filename: "d.jpg", status: "invalid", error: { code: "empty", message: "" } },
    ],
    verdicts: {
      keep: [
        { fileId: "a", filename: "a.jpg", verdict: "keep", score: 70, reason: "fine", issues: [] },
        { fileId: "b", filename: "b.jpg", verdict: "keep", score: 90, reason: "great", issues: [] },
      ],
      discard: [{ fileId: "c", filename: "c.jpg", verdict: "discard", score: 10, reason: "dark", issues: ["dark", "blurry"] }],
    },
    analyzer: "local",
  }) });
  const ids = (g: ReturnType<State["grid"]>) => ({ discard: g.discard.map((r) => r.id), keep: g.keep.map((r) => r.id), invalid: g.invalid.map((r) => r.id) });
  assert.deepEqual(ids(s.grid()), { discard: ["c"], keep: ["b", "a"], invalid: ["d"] });
  assert.deepEqual(s.issues(), [["blurry", 1], ["dark", 1]]);
  s.dispatch({ type: "flip", fileId: "c" });
  s.dispatch({ type: "flip", fileId: "a" });
  assert.deepEqual(ids(s.grid()), { discard: ["a"], keep: ["b", "c"], invalid: ["d"] });
  assert.deepEqual(s.keepList().map((e) => [e.filename, e.flipped]), [["b.jpg", false], ["c.jpg", true]]);
  s.dispatch({ type: "flip", fileId: "a" }); // back to the analyzer's verdict: no flip stored
  assert.deepEqual(s.flips, { c: "keep" });
  s.dispatch({ type: "filter-issue", issue: "dark" });
  assert.deepEqual(ids(s.grid()), { discard: [], keep: ["c"], invalid: [] });
});

test("rows the server knows but this tab does not (after a reload) appear", () => {
  const s = new State();
  s.dispatch({ type: "job", jobId: "J", expected: 1 });
  s.dispatch({ type: "results", body: results({ files: [{ fileId: "x", filename: "x.jpg", status: "uploading" }] }) });
  assert.equal(s.rows.get("x")?.phase, "needs_file");
});
