// Human sentences for every code the API, the file rows and the uploads can carry.

import type { JobPhase, JobStatus } from "./types";

const FILE_ERRORS: Record<string, string> = {
  // MediaProcess (media_triage_shared.media.MediaErrorCode)
  unsupported_type: "This is not a photo or video we can read (JPEG, PNG, WebP, GIF, HEIC, MP4, MOV, WebM, MKV, AVI).",
  corrupt: "The file is damaged: it looks like a photo or video but cannot be decoded.",
  empty: "The file is empty (0 bytes).",
  too_large: "The file is larger than the limit for its type.",
  too_many_pixels: "The photo or video has too many pixels to process safely (photos: over 100 megapixels; videos: over 8K).",
  too_long: "The video is longer than the limit (3 hours).",
  no_video_stream: "The file has no picture (audio only?), so there is nothing to judge.",
  timeout: "Processing took too long and was stopped; the file could not be judged.",
  missing: "The file was gone when processing started (the job was cancelled?).",
  not_uploaded: "The file never arrived: its upload did not finish in time.",
  internal: "Our server hit a problem while processing this file.",
  late: "The file arrived after this job's triage had started, so it was not judged. Upload it again in a new job.",
  // uploads from this page
  network_error: "The connection failed while uploading, several times in a row.",
  aborted: "The upload was stopped.",
  size_changed: "The file changed since it was picked; pick it again.",
  no_etag: "The storage service did not confirm a part of the upload.",
  upload_error: "The upload failed.",
  expired_target: "The upload link expired before the file was picked again. Drop it again to upload it as a new file.",
  AccessDenied: "The storage service refused the upload (the upload link is no longer valid).",
  EntityTooLarge: "The storage service refused the file: it is larger than announced.",
  EntityTooSmall: "The storage service refused the file: it is smaller than announced.",
  ExpiredToken: "The upload link expired. Drop the file again.",
  RequestTimeout: "The storage service timed out waiting for the file.",
  NoSuchUpload: "The multipart upload no longer exists (cancelled or expired).",
  SlowDown: "The storage service asked us to slow down, several times in a row.",
  // API errors (media_triage_shared.errors and init_session)
  invalid_request: "The request was not accepted (invalid input).",
  unauthorized: "Your session is missing or has expired.",
  session_expired: "Your session has expired. Start a new one to triage more files.",
  forbidden: "Your session does not give access to this job.",
  not_found: "This job or file no longer exists (or belongs to another session).",
  route_not_found: "The page asked the server for something it does not offer (is the page up to date?).",
  conflict: "The job changed at the same moment; try again.",
  job_not_active: "The job has moved on (triage started or it finished), so it no longer takes files.",
  job_not_failed: "Only a failed job can be retried.",
  too_many_uploads: "This job has reached its limit of files.",
  upload_id_mismatch: "The upload does not belong to this file.",
  size_mismatch: "The uploaded file is not the size it was announced with (did it change?). Pick it again.",
  idempotency_key_reused: "This start request was already used for a different set of files.",
  payload_too_large: "The request was too large for the server.",
  throttled: "The server is busy; we kept trying but it stayed busy.",
  rate_limited: "Too many new jobs were started from here in a short time; wait a minute and try again.",
  too_many_open_jobs: "Too many of your jobs are still running; let one finish or cancel one, then try again.",
  internal_error: "The server had an internal error.",
  job_cancelled: "The job was cancelled.",
  analyzer_unavailable: "The analyzer service was unavailable, so the job failed. Retry should work.",
  bad_response: "The server sent an answer the page does not understand.",
};

/** A sentence for an error code; an unknown code gets a generic sentence naming it. */
export function errorSentence(code: string | null | undefined, message?: string | null): string {
  if (code && Object.hasOwn(FILE_ERRORS, code)) return FILE_ERRORS[code] as string;
  if (code && /^http_5\d\d$/.test(code)) return "The server had a problem; we kept trying but it did not recover.";
  if (code && /^http_\d+$/.test(code)) return `The server refused the request (${code.slice(5)}).`;
  const detail = message ? `: ${message}` : "";
  return `Something went wrong (${code || "unknown error"}${detail}).`;
}

// Why a job failed: the API's `error` is the workflow's cause as text (`<ErrorType>: <message>`
// for a function error, see init_session's public_error; `stalled: ...` for a stall), not a code.
const JOB_ERRORS: ReadonlyArray<[RegExp, string]> = [
  [/^AnalyzerUnavailable\b/, "the analyzer (the AI model) did not answer, even after several tries."],
  [/^stalled\b/i, "no file arrived before the job's deadline."],
  [/timed? ?out/i, "it took longer than its time limit."],
  [/^the triage workflow ended\b/, "the triage workflow stopped before it finished."],
];

/** A sentence for a failed job's `error`; an unknown cause is named by its error type only. */
export function jobErrorSentence(error: string | null | undefined): string {
  const text = (error ?? "").trim();
  for (const [pattern, sentence] of JOB_ERRORS) if (pattern.test(text)) return `Triage failed: ${sentence}`;
  const kind = /^([A-Za-z][\w.]*): /.exec(text)?.[1];
  if (kind) return `Triage failed on the server (${kind}).`;
  if (!text) return "Triage failed on the server.";
  return `Triage failed on the server (${text.length > 120 ? `${text.slice(0, 117)}...` : text}).`;
}

export function knownCodes(): string[] {
  return Object.keys(FILE_ERRORS);
}

const PHASES: Record<JobPhase, string> = {
  waiting_for_files: "Waiting for files",
  processing_files: "Processing files",
  analyzing: "Judging the photos and videos",
  done: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};

const STATUSES: Record<JobStatus, string> = {
  pending: "Waiting for the first file",
  processing: "Processing files",
  analyzing: "Judging the photos and videos",
  complete: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};

export function phaseWords(phase: string | null | undefined): string {
  if (!phase) return "";
  return PHASES[phase as JobPhase] ?? phase.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

export function statusWords(status: string | null | undefined): string {
  if (!status) return "Starting";
  return STATUSES[status as JobStatus] ?? status;
}

const ISSUES: Record<string, string> = {
  dark: "Too dark",
  blurry: "Blurry",
  overexposed: "Overexposed",
  accidental: "Accidental shot",
  no_subject: "No subject",
  duplicate: "Duplicate",
  corrupt: "Damaged",
  shaky: "Shaky",
  closed_eyes: "Closed eyes",
  poor_framing: "Poor framing",
};

export function issueWords(issue: string): string {
  return ISSUES[issue] ?? issue.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

export function judgeWords(analyzer: string | null | undefined, model: string | null | undefined): string {
  if (analyzer === "gemini") return `Judged by Gemini${model ? ` (${model})` : ""}`;
  if (analyzer === "local") return "Judged by the local analyzer (no AI model)";
  if (analyzer) return `Judged by ${analyzer}${model ? ` (${model})` : ""}`;
  return "";
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${UNITS[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min ${String(r).padStart(2, "0")} s`;
  return `${r} s`;
}
