// The keep list as JSON and CSV, with the original file names and the user's flips applied.

export interface KeepEntry {
  fileId: string;
  filename: string;
  score: number | null;
  reason: string;
  issues: string[];
  /** The user flipped the analyzer's verdict to keep. */
  flipped: boolean;
}

export function keepListJson(jobId: string, entries: readonly KeepEntry[]): string {
  return `${JSON.stringify({ jobId, count: entries.length, keep: entries }, null, 2)}\n`;
}

/** One CSV field (RFC 4180 quoting). A field that a spreadsheet would run as a formula gets a
 * leading apostrophe, so a file named `=HYPERLINK(...)` stays text. */
export function csvField(value: string | number | boolean | null): string {
  let s = value === null ? "" : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function keepListCsv(entries: readonly KeepEntry[]): string {
  const rows = [["filename", "fileId", "score", "reason", "issues", "flipped"].join(",")];
  for (const e of entries) {
    rows.push(
      [e.filename, e.fileId, e.score, e.reason, e.issues.join(" "), e.flipped ? "yes" : "no"]
        .map(csvField)
        .join(","),
    );
  }
  return `${rows.join("\r\n")}\r\n`;
}
