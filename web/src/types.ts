// Bodies of the HTTP API (SPEC section 3), camelCase as the server sends them.
// The server's pydantic models (functions/init_session/src/init_session/api/models.py) are the
// source of truth; GET /api/openapi.json documents them.

// The vocabulary (shared/src/media_triage_shared/vocabulary.py JobStatus, JobPhase, FileStatus);
// tests/unit/test_web_vocabulary.py fails when a union and its Python enum differ.
export type JobStatus = "pending" | "processing" | "analyzing" | "complete" | "failed" | "cancelled";
export type JobPhase = "waiting_for_files" | "processing_files" | "analyzing" | "done" | "failed" | "cancelled";
export type ServerFileStatus = "uploading" | "processing" | "valid" | "invalid" | "duplicate";
export type VerdictKind = "keep" | "discard";

export const TERMINAL_JOB: ReadonlySet<string> = new Set<JobStatus>(["complete", "failed", "cancelled"]);

export interface FileSpec {
  filename: string;
  contentType: string;
  size: number;
}

export interface MultipartPart {
  partNumber: number;
  url: string;
  size: number;
}

/** A multipart upload's plan, without URLs: `/multipart/parts` presigns its parts. */
export interface MultipartPlan {
  uploadId: string;
  partSize: number;
  partCount: number;
}

export interface MultipartPartsResponse {
  fileId: string;
  uploadId: string;
  expiresAt: string;
  parts: MultipartPart[];
}

export interface UploadTarget {
  fileId: string;
  filename: string;
  key: string;
  method: "POST" | "PUT";
  /** The presigned POST's URL; absent for a multipart plan. */
  url?: string | null;
  fields?: Record<string, string> | null;
  headers?: Record<string, string> | null;
  expiresAt: string;
  multipart?: MultipartPlan | null;
}

export interface InitRequest {
  expectedFileCount: number;
  files: FileSpec[];
}

export interface InitResponse {
  sessionId: string;
  jobId: string;
  sessionToken: string;
  expiresAt: string;
  uploads: UploadTarget[];
}

export interface UploadsResponse {
  jobId: string;
  uploads: UploadTarget[];
}

export interface JobView {
  jobId: string;
  sessionId: string;
  status: JobStatus;
  phase: JobPhase;
  expectedFileCount: number;
  processedCount: number;
}

export interface FileError {
  code: string;
  message: string;
}

export interface FileStatusView {
  fileId: string;
  filename: string;
  status: ServerFileStatus;
  mediaType?: "photo" | "video" | null;
  width?: number | null;
  height?: number | null;
  durationSeconds?: number | null;
  thumbnailUrl?: string | null;
  converted?: boolean | null;
  error?: FileError | null;
  duplicateOf?: string | null;
}

export interface Verdict {
  fileId: string;
  filename: string;
  verdict: VerdictKind;
  reason?: string | null;
  score?: number | null;
  issues?: string[];
}

export interface ResultsResponse extends JobView {
  files: FileStatusView[];
  verdicts?: { keep: Verdict[]; discard: Verdict[] } | null;
  partial?: boolean | null;
  error?: string | null;
  analyzer?: string | null;
  model?: string | null;
  /** True (an answer to `?since=`): `files` holds only the rows new or changed since that
   * cursor's copy; the poller merges it (mergeResults), so the rest of the page sees full
   * documents only. Always sent; absent reads as false. */
  delta?: boolean;
  /** While the job is pending or processing: sent back as `?since=` on the next poll. */
  cursor?: string | null;
}

export interface MediaResponse {
  fileId: string;
  filename: string;
  mediaType?: "photo" | "video" | null;
  thumbnailUrl?: string | null;
  displayUrl?: string | null;
  proxyUrl?: string | null;
  originalUrl?: string | null;
  expiresAt?: string | null;
}

/** `config.json`, written by Terraform at the site root. */
export interface PageConfig {
  apiBase: string;
  maxFiles: number;
  maxFileBytes: number;
  multipartThresholdBytes: number;
  maxPhotoBytes: number;
  maxVideoBytes: number;
  acceptedTypes: string[];
  env: string;
}
