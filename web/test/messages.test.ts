import assert from "node:assert/strict";
import { test } from "node:test";

import { errorSentence, formatBytes, formatDuration, phaseWords } from "../src/messages";

// Every code the server can put on a file row or an error body (grep `code=` in functions/ and
// shared/, MediaErrorCode in shared/src/media_triage_shared/media.py).
const SERVER_CODES = [
  "unsupported_type", "corrupt", "empty", "too_large", "too_many_pixels", "too_long", "no_video_stream",
  "timeout", "missing", "not_uploaded", "internal", "late",
  "invalid_request", "unauthorized", "forbidden", "not_found", "route_not_found", "conflict", "job_not_active",
  "job_not_failed", "too_many_uploads", "upload_id_mismatch", "idempotency_key_reused", "payload_too_large",
  "throttled", "internal_error", "job_cancelled", "analyzer_unavailable", "session_expired", "size_mismatch",
];

test("every server error code has its own human sentence", () => {
  for (const code of SERVER_CODES) {
    const s = errorSentence(code);
    assert.doesNotMatch(s, /Something went wrong/, code);
    assert.match(s, /^[A-Z].*[.)]$/, code);
  }
});

test("an unknown code gets a generic sentence that names it; HTTP codes read as such", () => {
  assert.equal(errorSentence("brand_new", "detail"), "Something went wrong (brand_new: detail).");
  assert.equal(errorSentence(null), "Something went wrong (unknown error).");
  assert.match(errorSentence("http_502"), /server had a problem/);
  assert.match(errorSentence("http_400"), /refused the request \(400\)/);
});

test("phases and numbers in words", () => {
  assert.equal(phaseWords("waiting_for_files"), "Waiting for files");
  assert.equal(phaseWords("some_new_phase"), "Some new phase");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1_500_000), "1.50 MB");
  assert.equal(formatDuration(75), "1 min 15 s");
  assert.equal(formatDuration(3700), "1 h 01 min");
});
