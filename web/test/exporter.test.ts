import assert from "node:assert/strict";
import { test } from "node:test";

import { csvField, keepListCsv, keepListJson, type KeepEntry } from "../src/exporter";

const entries: KeepEntry[] = [
  { fileId: "1", filename: 'beach, "sunset".jpg', score: 80, reason: "sharp\nand bright", issues: [], flipped: false },
  { fileId: "2", filename: "=cmd().jpg", score: null, reason: "", issues: ["dark", "blurry"], flipped: true },
];

test("CSV quotes commas, quotes and newlines (RFC 4180) and defuses formulas", () => {
  assert.equal(csvField("plain"), "plain");
  assert.equal(csvField('a,"b"'), '"a,""b"""');
  assert.equal(csvField("-1+1"), "'-1+1");
  assert.equal(csvField(42), "42");
  assert.equal(csvField(null), "");
  assert.equal(
    keepListCsv(entries),
    'filename,fileId,score,reason,issues,flipped\r\n' +
      '"beach, ""sunset"".jpg",1,80,"sharp\nand bright",,no\r\n' +
      "'=cmd().jpg,2,,,dark blurry,yes\r\n",
  );
});

test("JSON keeps the original file names verbatim", () => {
  const parsed = JSON.parse(keepListJson("J", entries)) as { jobId: string; count: number; keep: KeepEntry[] };
  assert.equal(parsed.jobId, "J");
  assert.equal(parsed.count, 2);
  assert.equal(parsed.keep[1]?.filename, "=cmd().jpg");
});
