// The job's life, without the DOM: init on the first drop, more targets for later drops,
// uploads, the keep-alive PATCH, lowering expectedFileCount when an upload fails for good,
// polling, cancel, retry, and re-attaching after a reload (sessionStorage).

import { ApiError, type ApiClient } from "./api";
import type { Sleep } from "./backoff";
import { fileKey, type Picked } from "./files";
import { errorSentence } from "./messages";
import { Poller, type Timers } from "./poller";
import type { State } from "./state";
import { SessionStore, type FileRecord, type SessionRecord } from "./store";
import type { Transport } from "./transport";
import { TERMINAL_JOB, type FileSpec, type InitRequest, type MediaResponse, type PageConfig, type UploadTarget } from "./types";
import { Uploader, type UploadItem, type UploadListener } from "./uploader";

export interface ControllerDeps {
  api: ApiClient;
  transport: Transport;
  store: SessionStore;
  state: State;
  cfg: PageConfig;
  sleep: Sleep;
  timers: Timers;
  now(): number;
  uuid(): string;
  /** The state changed: render (the view batches to one frame). */
  changed(): void;
  /** A sentence for the polite live region and the message line. */
  say(text: string, kind?: "info" | "error"): void;
  keepaliveMs?: number;
  concurrency?: number;
  pollMinMs?: number;
  pollMaxMs?: number;
}

/** A target is refreshed before use when it expires within this margin. */
const EXPIRY_MARGIN_MS = 60_000;

export class Controller {
  session: SessionRecord | null = null;
  private readonly blobs = new Map<string, File>();
  private readonly records = new Map<string, FileRecord>();
  private uploader: Uploader | null = null;
  private poller: Poller | null = null;
  private keepaliveHandle: unknown = null;
  private chain: Promise<unknown> = Promise.resolve();
  private patches: Promise<unknown> = Promise.resolve();
  finishedAt: number | null = null;

  constructor(private readonly d: ControllerDeps) {}

  get jobId(): string | null {
    return this.session?.jobId ?? null;
  }

  /** Uploads queued or in flight. */
  get uploading(): number {
    return this.uploader?.pending ?? 0;
  }

  // ------------------------------------------------------------------ start / resume

  /** Re-attach to the job of this tab, if any (called once at start). */
  async resume(): Promise<void> {
    const rec = this.d.store.load(this.d.cfg.apiBase);
    if (!rec) return;
    this.session = rec;
    if (!rec.jobId && rec.initBody) {
      // the tab was reloaded while init was in flight: the same key finds the same job
      try {
        const init = await this.d.api.init(rec.initBody, rec.idempotencyKey);
        this.adoptInit(init.jobId, init.sessionId, init.sessionToken, init.uploads, rec.initBody, true);
      } catch (exc) {
        this.fail(exc);
        return;
      }
    }
    if (!rec.jobId || !rec.token) {
      this.d.store.clear();
      this.session = null;
      return;
    }
    this.d.api.token = rec.token;
    this.d.state.dispatch({ type: "job", jobId: rec.jobId, expected: rec.expected });
    const rows = [];
    for (const id of rec.fileIds) {
      const f = this.d.store.file(id);
      if (!f) continue;
      this.records.set(id, f);
      rows.push({
        id,
        filename: f.filename,
        size: f.size,
        phase: f.state === "done" ? ("processing" as const) : f.state === "failed" ? ("upload_failed" as const) : ("needs_file" as const),
      });
    }
    this.d.state.dispatch({ type: "files-added", rows });
    this.d.state.dispatch({ type: "flips", flips: this.d.store.flips(rec.jobId) });
    this.d.changed();
    this.startPolling();
    const waiting = rows.filter((r) => r.phase === "needs_file").length;
    if (waiting) {
      this.d.say(`Reattached to your job. ${waiting} upload(s) were cut by the reload: pick the same files again to continue.`);
    } else {
      this.d.say("Reattached to your job.");
    }
  }

  // ------------------------------------------------------------------ drops

  /** Files the user dropped or picked (already screened). Drops are handled one after the
   * other, so a second drop during init waits for the job and asks for more targets. */
  add(picked: readonly Picked[]): Promise<void> {
    const next = this.chain.then(() => this.addNow(picked));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async addNow(picked: readonly Picked[]): Promise<void> {
    if (!picked.length) return;
    if (this.d.state.screen === "expired") return;
    if (this.session?.jobId && this.d.state.terminal) {
      this.d.say("This job is finished. Start a new job to upload more files.", "error");
      return;
    }
    // files picked again after a reload continue their earlier upload
    // (lastModified -1: known only from a replayed init, matched on name and size)
    const waiting = new Map<string, FileRecord>();
    for (const r of this.records.values()) {
      if (r.state === "pending" && !this.blobs.has(r.fileId)) waiting.set(fileKey(r.filename, r.size, r.lastModified), r);
    }
    const resumed: FileRecord[] = [];
    const fresh: Picked[] = [];
    for (const p of picked) {
      const key = fileKey(p.file.name, p.file.size, p.file.lastModified);
      const loose = fileKey(p.file.name, p.file.size, -1);
      const match = waiting.get(key) ?? waiting.get(loose);
      if (match) {
        waiting.delete(waiting.has(key) ? key : loose);
        this.blobs.set(match.fileId, p.file);
        resumed.push(match);
      } else {
        fresh.push(p);
      }
    }
    try {
      if (resumed.length) await this.continueUploads(resumed);
      if (fresh.length) {
        if (this.session?.jobId) await this.more(fresh);
        else await this.init(fresh);
      }
    } catch (exc) {
      this.fail(exc);
    }
  }

  private specs(picked: readonly Picked[]): FileSpec[] {
    return picked.map((p) => ({ filename: p.file.name, contentType: p.contentType, size: p.file.size }));
  }

  private async init(picked: readonly Picked[]): Promise<void> {
    const body: InitRequest = { expectedFileCount: picked.length, files: this.specs(picked) };
    const rec = SessionStore.fresh(this.d.cfg.apiBase, this.d.uuid(), this.d.now());
    rec.initBody = body;
    this.session = rec;
    this.d.store.save(rec); // the key is kept before the request goes out: a reload replays it
    this.d.say(`Starting a job for ${picked.length} file(s)…`);
    const init = await this.d.api.init(body, rec.idempotencyKey);
    this.adoptInit(init.jobId, init.sessionId, init.sessionToken, [], body, false);
    this.d.state.dispatch({ type: "job", jobId: init.jobId, expected: picked.length });
    this.d.store.save(rec);
    this.startPolling();
    this.register(picked, init.uploads, true);
  }

  private adoptInit(
    jobId: string,
    sessionId: string,
    token: string,
    targets: readonly UploadTarget[],
    body: InitRequest,
    replay: boolean,
  ): void {
    const rec = this.session as SessionRecord;
    rec.jobId = jobId;
    rec.sessionId = sessionId;
    rec.token = token;
    this.d.api.token = token;
    if (replay && !rec.fileIds.length) {
      // nothing of the first call was kept but the key: the files must be picked again
      rec.expected = body.expectedFileCount;
      targets.forEach((t, i) => {
        const spec = body.files[i];
        if (!spec) return;
        const fr: FileRecord = {
          fileId: t.fileId,
          filename: spec.filename,
          size: spec.size,
          lastModified: -1,
          contentType: spec.contentType,
          fromInit: true,
          state: "pending",
          target: t,
          parts: {},
        };
        this.d.store.saveFile(fr);
        rec.fileIds.push(t.fileId);
      });
    }
    this.d.store.save(rec);
  }

  /** Record new targets, show their rows and start their uploads. */
  private register(picked: readonly Picked[], targets: readonly UploadTarget[], fromInit: boolean): void {
    const rec = this.session as SessionRecord;
    if (targets.length !== picked.length) {
      throw new ApiError(500, "bad_response", "the server returned a different number of upload targets");
    }
    const items: UploadItem[] = [];
    const rows: Array<{ id: string; filename: string; size: number }> = [];
    picked.forEach((p, i) => {
      const t = targets[i] as UploadTarget;
      const fr: FileRecord = {
        fileId: t.fileId,
        filename: p.file.name,
        size: p.file.size,
        lastModified: p.file.lastModified,
        contentType: p.contentType,
        fromInit,
        state: "pending",
        target: t,
        parts: {},
      };
      this.records.set(t.fileId, fr);
      this.blobs.set(t.fileId, p.file);
      this.d.store.saveFile(fr);
      rec.fileIds.push(t.fileId);
      rows.push({ id: t.fileId, filename: p.file.name, size: p.file.size });
      items.push(this.item(fr, p.file));
    });
    if (!fromInit) rec.expected += picked.length;
    else rec.expected = picked.length;
    this.d.store.save(rec);
    this.d.state.dispatch({ type: "files-added", rows });
    this.d.state.dispatch({ type: "expected", expected: rec.expected });
    this.d.changed();
    this.ensureUploader().add(items);
    this.armKeepalive();
  }

  private item(fr: FileRecord, file: File): UploadItem {
    return {
      fileId: fr.fileId,
      file,
      filename: fr.filename,
      contentType: fr.contentType,
      size: fr.size,
      target: fr.target as UploadTarget,
      doneParts: fr.parts,
    };
  }

  /** Files dropped into a job that exists: raise the count first (so the job keeps waiting),
   * then ask for targets; if that fails, put the count back. */
  private async more(picked: readonly Picked[]): Promise<void> {
    const rec = this.session as SessionRecord;
    const jobId = rec.jobId as string;
    const raised = rec.expected + picked.length;
    try {
      await this.d.api.setExpectedCount(jobId, raised);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 409) {
        this.d.say(`${errorSentence(exc.code)} Start a new job to upload these files.`, "error");
        return;
      }
      throw exc;
    }
    let targets: UploadTarget[];
    try {
      // a key per drop: a retried call (answer lost) returns the same files, not new ones
      targets = await this.d.api.addUploads(jobId, this.specs(picked), this.d.uuid());
    } catch (exc) {
      await this.patchExpected(rec.expected);
      throw exc;
    }
    this.register(picked, targets, false);
    this.d.say(`Added ${picked.length} file(s) to the job.`);
  }

  /** Files picked again after a reload: continue where their upload stopped. */
  private async continueUploads(records: readonly FileRecord[]): Promise<void> {
    const stale = records.filter((r) => !r.target || Date.parse(r.target.expiresAt) - this.d.now() < EXPIRY_MARGIN_MS);
    if (stale.some((r) => r.fromInit) && this.session?.initBody) {
      // a replayed init returns the same job and uploadIds with fresh URLs
      const init = await this.d.api.init(this.session.initBody, this.session.idempotencyKey);
      const fresh = new Map(init.uploads.map((t) => [t.fileId, t]));
      for (const r of stale) {
        const t = fresh.get(r.fileId);
        if (t) {
          r.target = t;
          this.d.store.saveFile(r);
        }
      }
    }
    const items: UploadItem[] = [];
    for (const r of records) {
      const file = this.blobs.get(r.fileId) as File;
      r.lastModified = file.lastModified;
      if (!r.target || Date.parse(r.target.expiresAt) - this.d.now() < EXPIRY_MARGIN_MS / 2) {
        this.listener().failed(r.fileId, "expired_target", "the upload link expired");
        continue;
      }
      this.d.state.dispatch({ type: "upload-started", id: r.fileId });
      items.push(this.item(r, file));
    }
    this.d.changed();
    if (items.length) {
      this.ensureUploader().add(items);
      this.armKeepalive();
      this.d.say(`Continuing ${items.length} upload(s).`);
    }
  }

  // ------------------------------------------------------------------ uploads

  private ensureUploader(): Uploader {
    if (!this.uploader) {
      this.uploader = new Uploader({
        transport: this.d.transport,
        api: this.d.api,
        jobId: this.jobId as string,
        listener: this.listener(),
        sleep: this.d.sleep,
        concurrency: this.d.concurrency ?? 4,
        partConcurrency: this.d.concurrency ?? 4,
        now: () => this.d.now(),
      });
    }
    return this.uploader;
  }

  private listener(): UploadListener {
    const { state, store } = this.d;
    return {
      started: (id) => {
        state.dispatch({ type: "upload-started", id });
        this.d.changed();
      },
      progress: (id, sent) => {
        state.dispatch({ type: "upload-progress", id, sent });
        this.d.changed();
      },
      retrying: (id, attempt, code) => {
        state.dispatch({ type: "upload-retrying", id, attempt, code });
        this.d.changed();
      },
      partDone: (id, n, etag) => {
        const r = this.records.get(id);
        if (r) {
          r.parts = { ...r.parts, [String(n)]: etag };
          store.saveFile(r);
        }
      },
      done: (id) => {
        const r = this.records.get(id);
        if (r) {
          r.state = "done";
          r.parts = {};
          r.target = null;
          store.saveFile(r);
        }
        state.dispatch({ type: "upload-done", id });
        this.d.changed();
        this.poller?.poke();
      },
      failed: (id, code, message) => {
        const r = this.records.get(id);
        if (r) {
          r.state = "failed";
          r.parts = {};
          store.saveFile(r);
        }
        state.dispatch({ type: "upload-failed", id, code, message });
        this.d.changed();
        void this.lowerExpected();
      },
    };
  }

  /** An upload failed for good: the job must not wait for it. */
  private async lowerExpected(): Promise<void> {
    const rec = this.session;
    if (!rec?.jobId) return;
    rec.expected -= 1;
    this.d.store.save(rec);
    this.d.state.dispatch({ type: "expected", expected: rec.expected });
    if (rec.expected < 1) {
      this.d.say("Every upload failed, so the job was cancelled.", "error");
      await this.cancel();
      return;
    }
    await this.patchExpected(rec.expected);
  }

  /** PATCH the absolute count, one PATCH at a time, in order. A 409 means the job moved on
   * already (nothing to wait for); other errors are left to the server's stall deadline. */
  private patchExpected(count: number): Promise<unknown> {
    const jobId = this.jobId;
    if (!jobId) return Promise.resolve();
    this.patches = this.patches.then(async () => {
      try {
        await this.d.api.setExpectedCount(jobId, count);
      } catch (exc) {
        if (exc instanceof ApiError && exc.sessionLost) this.expired();
      }
    });
    return this.patches;
  }

  /** While uploads are in flight, PATCH the unchanged count every couple of minutes: a sign of
   * life that pushes the stall deadline past a long upload. */
  private armKeepalive(): void {
    if (this.keepaliveHandle !== null) return;
    const tick = (): void => {
      this.keepaliveHandle = null;
      if (!this.session?.jobId || this.d.state.terminal || this.uploading === 0) return;
      void this.patchExpected(this.session.expected);
      this.keepaliveHandle = this.d.timers.setTimeout(tick, this.d.keepaliveMs ?? 120_000);
    };
    this.keepaliveHandle = this.d.timers.setTimeout(tick, this.d.keepaliveMs ?? 120_000);
  }

  // ------------------------------------------------------------------ polling

  private startPolling(): void {
    const jobId = this.jobId;
    if (!jobId) return;
    if (!this.poller) {
      this.poller = new Poller({
        fetch: (etag, since) => this.d.api.results(jobId, etag, since),
        onBody: (body) => {
          const wasTerminal = this.d.state.terminal;
          this.d.state.dispatch({ type: "results", body });
          this.d.changed();
          const terminal = TERMINAL_JOB.has(body.status);
          if (terminal && !wasTerminal) this.finished(body.status);
          return terminal;
        },
        onError: (exc) => {
          if (exc instanceof ApiError && exc.sessionLost) {
            this.expired();
            return true;
          }
          return false; // a network blip: the poller backs off and tries again
        },
        timers: this.d.timers,
        minMs: this.d.pollMinMs ?? 1000,
        maxMs: this.d.pollMaxMs ?? 5000,
      });
    }
    this.poller.start();
  }

  private finished(status: string): void {
    this.finishedAt = this.d.now();
    if (status === "cancelled") this.uploader?.cancel();
    if (this.session) this.d.store.forgetTargets(this.session.fileIds);
  }

  // ------------------------------------------------------------------ user actions

  async cancel(): Promise<void> {
    const jobId = this.jobId;
    this.uploader?.cancel();
    if (!jobId) return;
    try {
      await this.d.api.cancel(jobId);
      this.d.say("The job was cancelled and its files deleted.");
    } catch (exc) {
      this.fail(exc);
    }
    this.poller?.reset();
    this.startPolling();
    this.poller?.poke();
  }

  async retry(): Promise<void> {
    const jobId = this.jobId;
    if (!jobId) return;
    try {
      await this.d.api.retry(jobId);
      this.finishedAt = null;
      this.d.say("Triage is running again on the same files.");
    } catch (exc) {
      this.fail(exc);
    }
    this.startPolling();
    this.poller?.poke();
  }

  /** Fresh URLs of one file's display image, video proxy and original. */
  async fetchMedia(fileId: string): Promise<MediaResponse> {
    const jobId = this.jobId;
    if (!jobId) throw new ApiError(404, "not_found", "no job");
    try {
      return await this.d.api.media(jobId, fileId);
    } catch (exc) {
      if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) this.expired();
      throw exc;
    }
  }

  flip(fileId: string): void {
    this.d.state.dispatch({ type: "flip", fileId });
    if (this.jobId) this.d.store.saveFlips(this.jobId, this.d.state.flips);
    this.d.changed();
  }

  /** Forget this job (it keeps running on the server until it ends or is cancelled). */
  startOver(): void {
    this.uploader?.cancel();
    this.uploader = null;
    this.poller?.stop();
    this.poller = null;
    if (this.keepaliveHandle !== null) this.d.timers.clearTimeout(this.keepaliveHandle);
    this.keepaliveHandle = null;
    this.session = null;
    this.finishedAt = null;
    this.records.clear();
    this.blobs.clear();
    this.d.api.token = null;
    this.d.store.clear();
    this.d.state.dispatch({ type: "reset" });
    this.d.changed();
  }

  // ------------------------------------------------------------------ errors

  private expired(): void {
    this.uploader?.cancel();
    this.poller?.stop();
    this.d.state.dispatch({ type: "screen", screen: "expired" });
    this.d.changed();
    this.d.say("Your session has expired or is no longer valid.", "error");
  }

  private fail(exc: unknown): void {
    if (exc instanceof ApiError && exc.sessionLost && this.jobId) {
      this.expired();
      return;
    }
    const code = exc instanceof ApiError ? exc.code : "internal";
    const message = exc instanceof ApiError ? exc.message : String(exc);
    if (!this.jobId) {
      // the init failed: nothing was created that a reload could find
      this.d.store.clear();
      this.session = null;
    }
    this.d.say(errorSentence(code, message), "error");
  }
}
