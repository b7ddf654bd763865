import assert from "node:assert/strict";
import { test } from "node:test";

import { errorSentence, formatBytes, formatDuration, jobErrorSentence, phaseWords } from "../src/messages";

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
  assert.equal(phaseWords("done"), "Done");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1_500_000), "1.50 MB");
  assert.equal(formatDuration(75), "1 min 15 s");
  assert.equal(formatDuration(3700), "1 h 01 min");
});

test("a failed job's cause reads as a sentence, never as the raw cause twice", () => {
  // what the API sends (init_session.api.views.public_error: "<ErrorType>: <message>", cut at 300)
  const unavailable =
    "AnalyzerUnavailable: gemini failed for 1 of 1 batches (2 files) after 2 rounds of SDK retries: 500 INTERNAL: backend error";
  assert.equal(jobErrorSentence(unavailable), "Triage failed: the analyzer (the AI model) did not answer, even after several tries.");
  assert.equal(jobErrorSentence("stalled: no file arrived"), "Triage failed: no file arrived before the job's deadline.");
  assert.equal(jobErrorSentence("Sandbox.Timedout: Task timed out after 900.00 seconds"), "Triage failed: it took longer than its time limit.");
  assert.equal(
    jobErrorSentence("the triage workflow ended (FAILED) without finishing this job; retry runs it again"),
    "Triage failed: the triage workflow stopped before it finished.",
  );
  // an unknown function error is named by its type, its message (internal detail) left out
  assert.equal(jobErrorSentence("KeyError: 'verdicts' in /var/task/triage_run/core.py"), "Triage failed on the server (KeyError).");
  assert.equal(jobErrorSentence("retry abc could not start"), "Triage failed on the server (retry abc could not start).");
  assert.equal(jobErrorSentence(null), "Triage failed on the server.");
  assert.match(jobErrorSentence("x".repeat(300)), /^Triage failed on the server \(x{117}\.\.\.\)\.$/);
});
