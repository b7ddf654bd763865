// What survives a reload, in sessionStorage (never localStorage: the token dies with the tab).
// Like the CLI's resume journal: the Idempotency-Key of the init (a replayed init returns the
// same job, token and multipart uploadIds with fresh POSTs), the files that finished uploading
// and the ETag of every multipart part S3 accepted. A multipart target is its plan only (no
// URLs, nothing to expire): after a reload its parts are presigned anew by /multipart/parts. One small item per file, so finishing a
// file rewrites a few hundred bytes, not the whole job.

import type { InitRequest, UploadTarget, VerdictKind } from "./types";

export type StorageLike = Pick<Storage, "getItem" | "setItem" | "removeItem" | "key" | "length">;

const PREFIX = "media-triage:";
const SESSION = `${PREFIX}session`;
const VERSION = 1;

export interface SessionRecord {
  v: number;
  apiBase: string;
  idempotencyKey: string;
  /** The init body as sent: a replay must send it again byte for byte (same request hash). */
  initBody: InitRequest | null;
  jobId: string | null;
  sessionId: string | null;
  token: string | null;
  startedAt: number;
  /** Files the job should get: targets handed out minus uploads that failed for good. */
  expected: number;
  fileIds: string[];
}

export type FileState = "pending" | "done" | "failed";

export interface FileRecord {
  fileId: string;
  filename: string;
  size: number;
  lastModified: number;
  contentType: string;
  /** Came with the init response (so a replayed init refreshes its URLs). */
  fromInit: boolean;
  state: FileState;
  target: UploadTarget | null;
  parts: Record<string, string>;
}

export class SessionStore {
  constructor(private readonly storage: StorageLike) {}

  private read<T>(key: string): T | null {
    try {
      const raw = this.storage.getItem(key);
      return raw ? (JSON.parse(raw) as T) : null;
    } catch {
      return null;
    }
  }

  private write(key: string, value: unknown): void {
    try {
      this.storage.setItem(key, JSON.stringify(value));
    } catch {
      // quota or privacy mode: the page still works, it just cannot resume after a reload
    }
  }

  load(apiBase: string): SessionRecord | null {
    const rec = this.read<SessionRecord>(SESSION);
    if (!rec || rec.v !== VERSION || rec.apiBase !== apiBase) return null;
    return rec;
  }

  save(rec: SessionRecord): void {
    this.write(SESSION, rec);
  }

  file(fileId: string): FileRecord | null {
    return this.read<FileRecord>(`${PREFIX}file:${fileId}`);
  }

  saveFile(rec: FileRecord): void {
    this.write(`${PREFIX}file:${rec.fileId}`, rec);
  }

  flips(jobId: string): Record<string, VerdictKind> {
    return this.read<Record<string, VerdictKind>>(`${PREFIX}flips:${jobId}`) ?? {};
  }

  saveFlips(jobId: string, flips: Record<string, VerdictKind>): void {
    this.write(`${PREFIX}flips:${jobId}`, flips);
  }

  /** Upload targets are no use once the job is over: drop them, keep the rest. */
  forgetTargets(fileIds: readonly string[]): void {
    for (const id of fileIds) {
      const rec = this.file(id);
      if (rec && rec.target) this.saveFile({ ...rec, target: null, parts: {} });
    }
  }

  /** Forget the session entirely (start over). */
  clear(): void {
    const keys: string[] = [];
    for (let i = 0; i < this.storage.length; i++) {
      const k = this.storage.key(i);
      if (k?.startsWith(PREFIX)) keys.push(k);
    }
    for (const k of keys) this.storage.removeItem(k);
  }

  static fresh(apiBase: string, idempotencyKey: string, now: number): SessionRecord {
    return {
      v: VERSION,
      apiBase,
      idempotencyKey,
      initBody: null,
      jobId: null,
      sessionId: null,
      token: null,
      startedAt: now,
      expected: 0,
      fileIds: [],
    };
  }
}
