// The page's state: every file's row, the job, the verdicts, the user's flips and filters.
// `dispatch` applies an action in place and records what changed (`dirty`), so the view
// re-renders only the rows that changed, once per animation frame.

import { TERMINAL_JOB, type JobPhase, type JobStatus, type ResultsResponse, type VerdictKind } from "./types";
import type { KeepEntry } from "./exporter";

export type Phase =
  | "queued"
  | "uploading"
  | "processing"
  | "valid"
  | "invalid"
  | "duplicate"
  | "upload_failed"
  | "needs_file";

export const FINAL_PHASES: ReadonlySet<Phase> = new Set(["valid", "invalid", "duplicate", "upload_failed"]);

export interface Row {
  id: string;
  filename: string;
  size: number;
  phase: Phase;
  sent: number;
  code: string | null;
  message: string | null;
  retries: number;
  duplicateOf: string | null;
  mediaType: string | null;
  width: number | null;
  height: number | null;
  durationSeconds: number | null;
  thumbnailUrl: string | null;
  converted: boolean;
}

export interface VerdictInfo {
  verdict: VerdictKind;
  reason: string;
  score: number | null;
  issues: string[];
}

export interface JobInfo {
  jobId: string;
  status: JobStatus;
  phase: JobPhase;
  expected: number;
  processed: number;
  partial: boolean;
  error: string | null;
  analyzer: string | null;
  model: string | null;
}

export type Screen = "start" | "job" | "expired";
export type StatusFilter = "uploading" | "processing" | "valid" | "invalid" | "duplicate";
export type Group = "discard" | "keep" | "invalid";

export type Action =
  | { type: "screen"; screen: Screen }
  | { type: "job"; jobId: string; status?: JobStatus; phase?: JobPhase; expected: number }
  | { type: "files-added"; rows: ReadonlyArray<{ id: string; filename: string; size: number; phase?: Phase }> }
  | { type: "upload-started"; id: string }
  | { type: "upload-progress"; id: string; sent: number }
  | { type: "upload-retrying"; id: string; attempt: number; code: string }
  | { type: "upload-done"; id: string }
  | { type: "upload-failed"; id: string; code: string; message: string }
  | { type: "needs-file"; id: string }
  | { type: "expected"; expected: number }
  | { type: "results"; body: ResultsResponse }
  | { type: "flip"; fileId: string }
  | { type: "flips"; flips: Record<string, VerdictKind> }
  | { type: "filter-status"; status: StatusFilter | null }
  | { type: "filter-issue"; issue: string | null }
  | { type: "reset" };

const SERVER_PHASES: Record<string, Phase> = {
  processing: "processing",
  valid: "valid",
  invalid: "invalid",
  duplicate: "duplicate",
};

export function statusGroup(phase: Phase): StatusFilter {
  switch (phase) {
    case "queued":
    case "uploading":
    case "needs_file":
      return "uploading";
    case "processing":
      return "processing";
    case "valid":
      return "valid";
    case "duplicate":
      return "duplicate";
    case "invalid":
    case "upload_failed":
      return "invalid";
  }
}

function newRow(id: string, filename: string, size: number, phase: Phase = "queued"): Row {
  return {
    id,
    filename,
    size,
    phase,
    sent: 0,
    code: null,
    message: null,
    retries: 0,
    duplicateOf: null,
    mediaType: null,
    width: null,
    height: null,
    durationSeconds: null,
    thumbnailUrl: null,
    converted: false,
  };
}

export interface Dirty {
  rows: Set<string>;
  job: boolean;
  verdicts: boolean;
  filters: boolean;
  screen: boolean;
}

export class State {
  screen: Screen = "start";
  job: JobInfo | null = null;
  readonly rows = new Map<string, Row>();
  readonly order: string[] = [];
  readonly verdicts = new Map<string, VerdictInfo>();
  flips: Record<string, VerdictKind> = {};
  statusFilter: StatusFilter | null = null;
  issueFilter: string | null = null;
  dirty: Dirty = { ...State.clean(), screen: true }; // the first frame shows the start screen

  static clean(): Dirty {
    return { rows: new Set(), job: false, verdicts: false, filters: false, screen: false };
  }

  /** What changed since the last call; the view renders exactly that. */
  takeDirty(): Dirty {
    const d = this.dirty;
    this.dirty = State.clean();
    return d;
  }

  private patch(id: string, changes: Partial<Row>): void {
    const row = this.rows.get(id);
    if (!row) return;
    let changed = false;
    for (const [k, v] of Object.entries(changes) as Array<[keyof Row, Row[keyof Row]]>) {
      if (row[k] !== v) {
        (row as unknown as Record<string, unknown>)[k] = v;
        changed = true;
      }
    }
    if (changed) {
      this.dirty.rows.add(id);
      this.dirty.job = true; // counts and totals
    }
  }

  dispatch(a: Action): void {
    switch (a.type) {
      case "screen":
        if (this.screen !== a.screen) {
          this.screen = a.screen;
          this.dirty.screen = true;
        }
        return;
      case "reset":
        this.screen = "start";
        this.job = null;
        this.rows.clear();
        this.order.length = 0;
        this.verdicts.clear();
        this.flips = {};
        this.statusFilter = null;
        this.issueFilter = null;
        this.dirty = { rows: new Set(), job: true, verdicts: true, filters: true, screen: true };
        return;
      case "job":
        this.job = {
          jobId: a.jobId,
          status: a.status ?? "pending",
          phase: a.phase ?? "waiting_for_files",
          expected: a.expected,
          processed: 0,
          partial: false,
          error: null,
          analyzer: null,
          model: null,
        };
        this.screen = "job";
        this.dirty.screen = true;
        this.dirty.job = true;
        return;
      case "expected":
        if (this.job && this.job.expected !== a.expected) {
          this.job.expected = a.expected;
          this.dirty.job = true;
        }
        return;
      case "files-added":
        for (const r of a.rows) {
          if (this.rows.has(r.id)) continue;
          this.rows.set(r.id, newRow(r.id, r.filename, r.size, r.phase));
          this.order.push(r.id);
          this.dirty.rows.add(r.id);
        }
        this.dirty.job = true;
        return;
      case "upload-started":
        this.patch(a.id, { phase: "uploading", sent: 0, code: null, message: null });
        return;
      case "upload-progress": {
        const row = this.rows.get(a.id);
        if (row && row.phase === "uploading") this.patch(a.id, { sent: a.sent });
        return;
      }
      case "upload-retrying":
        this.patch(a.id, { retries: a.attempt, code: a.code });
        return;
      case "upload-done": {
        const row = this.rows.get(a.id);
        if (row && !FINAL_PHASES.has(row.phase) && row.phase !== "processing") {
          this.patch(a.id, { phase: "processing", sent: row.size, code: null, retries: 0 });
        }
        return;
      }
      case "upload-failed":
        this.patch(a.id, { phase: "upload_failed", code: a.code, message: a.message });
        return;
      case "needs-file": {
        const row = this.rows.get(a.id);
        if (row && (row.phase === "queued" || row.phase === "uploading")) {
          this.patch(a.id, { phase: "needs_file", sent: 0 });
        }
        return;
      }
      case "results":
        this.applyResults(a.body);
        return;
      case "flip": {
        const v = this.verdicts.get(a.fileId);
        if (!v) return;
        const current = this.flips[a.fileId] ?? v.verdict;
        const next: VerdictKind = current === "keep" ? "discard" : "keep";
        if (next === v.verdict) delete this.flips[a.fileId];
        else this.flips[a.fileId] = next;
        this.dirty.verdicts = true;
        return;
      }
      case "flips":
        this.flips = { ...a.flips };
        this.dirty.verdicts = true;
        return;
      case "filter-status":
        this.statusFilter = this.statusFilter === a.status ? null : a.status;
        this.dirty.filters = true;
        return;
      case "filter-issue":
        this.issueFilter = this.issueFilter === a.issue ? null : a.issue;
        this.dirty.filters = true;
        this.dirty.verdicts = true;
        return;
    }
  }

  private applyResults(body: ResultsResponse): void {
    const before = this.job;
    const job: JobInfo = {
      jobId: body.jobId,
      status: body.status,
      phase: body.phase,
      expected: body.expectedFileCount,
      processed: body.processedCount,
      partial: Boolean(body.partial),
      error: body.error ?? null,
      analyzer: body.analyzer ?? null,
      model: body.model ?? null,
    };
    if (!before || JSON.stringify(before) !== JSON.stringify(job)) {
      this.job = job;
      this.dirty.job = true;
    }
    const names = new Map<string, string>();
    for (const f of body.files) names.set(f.fileId, f.filename);
    for (const id of this.order) {
      const row = this.rows.get(id);
      if (row) names.set(id, row.filename);
    }
    for (const f of body.files) {
      if (!this.rows.has(f.fileId)) {
        // a file this tab did not upload (or forgot in a reload): show it all the same
        const phase: Phase = f.status === "uploading" ? "needs_file" : "processing";
        this.rows.set(f.fileId, newRow(f.fileId, f.filename, 0, phase));
        this.order.push(f.fileId);
        this.dirty.rows.add(f.fileId);
      }
      const row = this.rows.get(f.fileId) as Row;
      const phase = SERVER_PHASES[f.status];
      const details: Partial<Row> = {
        mediaType: f.mediaType ?? null,
        width: f.width ?? null,
        height: f.height ?? null,
        durationSeconds: f.durationSeconds ?? null,
        thumbnailUrl: f.thumbnailUrl ?? null,
        converted: Boolean(f.converted),
      };
      if (!phase || row.phase === "upload_failed") {
        this.patch(row.id, details); // "uploading": the uploader knows better
        continue;
      }
      const dup = f.duplicateOf ? (names.get(f.duplicateOf) ?? f.duplicateOf) : null;
      this.patch(row.id, {
        ...details,
        phase,
        sent: FINAL_PHASES.has(phase) || phase === "processing" ? row.size : row.sent,
        code: f.error?.code ?? null,
        message: f.error?.message ?? null,
        duplicateOf: dup,
      });
    }
    const verdicts = body.verdicts;
    if (verdicts) {
      const next = new Map<string, VerdictInfo>();
      for (const v of [...verdicts.keep, ...verdicts.discard]) {
        next.set(v.fileId, {
          verdict: v.verdict,
          reason: v.reason ?? "",
          score: v.score ?? null,
          issues: v.issues ?? [],
        });
      }
      if (JSON.stringify([...next]) !== JSON.stringify([...this.verdicts])) {
        this.verdicts.clear();
        for (const [k, v] of next) this.verdicts.set(k, v);
        this.dirty.verdicts = true;
      }
    }
  }

  // ------------------------------------------------------------------ derived values

  get terminal(): boolean {
    return this.job !== null && TERMINAL_JOB.has(this.job.status);
  }

  counts(): Record<StatusFilter, number> {
    const c: Record<StatusFilter, number> = { uploading: 0, processing: 0, valid: 0, invalid: 0, duplicate: 0 };
    for (const row of this.rows.values()) c[statusGroup(row.phase)]++;
    return c;
  }

  totals(): { bytes: number; sent: number; uploadsLeft: number; remaining: number; needsFile: number } {
    let bytes = 0;
    let sent = 0;
    let uploadsLeft = 0;
    let remaining = 0;
    let needsFile = 0;
    for (const row of this.rows.values()) {
      bytes += row.size;
      sent += row.phase === "uploading" ? row.sent : row.phase === "queued" || row.phase === "needs_file" ? 0 : row.size;
      if (row.phase === "queued" || row.phase === "uploading" || row.phase === "needs_file") uploadsLeft++;
      if (!FINAL_PHASES.has(row.phase)) remaining++;
      if (row.phase === "needs_file") needsFile++;
    }
    return { bytes, sent, uploadsLeft, remaining, needsFile };
  }

  visible(row: Row): boolean {
    return this.statusFilter === null || statusGroup(row.phase) === this.statusFilter;
  }

  effectiveVerdict(fileId: string): VerdictKind | null {
    const v = this.verdicts.get(fileId);
    if (!v) return null;
    return this.flips[fileId] ?? v.verdict;
  }

  groupOf(row: Row): Group | null {
    const verdict = this.effectiveVerdict(row.id);
    if (verdict) return verdict;
    if (row.phase === "invalid" || row.phase === "upload_failed") return "invalid";
    if (row.phase === "duplicate") return "discard";
    return null;
  }

  /** The verdict grid: discard candidates first (lowest score first), then keep (best first),
   * then invalid; the issue filter applies to every group. */
  grid(): Record<Group, Row[]> {
    const out: Record<Group, Row[]> = { discard: [], keep: [], invalid: [] };
    for (const id of this.order) {
      const row = this.rows.get(id);
      if (!row) continue;
      const group = this.groupOf(row);
      if (!group) continue;
      if (this.issueFilter && !(this.verdicts.get(id)?.issues ?? []).includes(this.issueFilter)) continue;
      out[group].push(row);
    }
    const score = (r: Row): number => this.verdicts.get(r.id)?.score ?? -1;
    out.discard.sort((a, b) => score(a) - score(b));
    out.keep.sort((a, b) => score(b) - score(a));
    return out;
  }

  /** Issues over every verdict, with how many files carry each. */
  issues(): Array<[string, number]> {
    const counts = new Map<string, number>();
    for (const v of this.verdicts.values()) for (const i of v.issues) counts.set(i, (counts.get(i) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  }

  keepList(): KeepEntry[] {
    const out: KeepEntry[] = [];
    for (const id of this.order) {
      const v = this.verdicts.get(id);
      const row = this.rows.get(id);
      if (!v || !row || this.effectiveVerdict(id) !== "keep") continue;
      out.push({
        fileId: id,
        filename: row.filename,
        score: v.score,
        reason: v.reason,
        issues: v.issues,
        flipped: v.verdict !== "keep",
      });
    }
    return out;
  }
}
