// What the user dropped or picked: files and folders, hidden files skipped (as the CLI does),
// checked against the limits of config.json before anything is sent.

import type { PageConfig } from "./types";
import { formatBytes } from "./messages";

const EXT_TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  jpe: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
  qt: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  avi: "video/x-msvideo",
};

/** The type to declare: the browser's when it knows one, else from the extension. */
export function contentTypeOf(name: string, browserType: string): string {
  if (browserType) return browserType;
  const dot = name.lastIndexOf(".");
  const ext = dot >= 0 ? name.slice(dot + 1).toLowerCase() : "";
  return EXT_TYPES[ext] ?? "application/octet-stream";
}

/** Hidden: the name, or any folder on its path, starts with a dot. */
export function isHidden(path: string): boolean {
  return path.split("/").some((part) => part.startsWith("."));
}

/** Files from an `<input type=file>` (with `webkitdirectory` each has a relative path). */
export function fromInput(list: Iterable<File>): File[] {
  const out: File[] = [];
  for (const f of list) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    if (!isHidden(rel)) out.push(f);
  }
  return out;
}

// The parts of the File and Directory Entries API we use (drag & drop of folders).
export interface EntryLike {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  file?(ok: (f: File) => void, err?: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (entries: EntryLike[]) => void, err?: (e: unknown) => void): void };
}

/** Every non-hidden file under the dropped entries; folders walked in name order. */
export async function fromEntries(entries: readonly EntryLike[]): Promise<File[]> {
  const out: File[] = [];
  const walk = async (entry: EntryLike): Promise<void> => {
    if (entry.name.startsWith(".")) return;
    if (entry.isFile && entry.file) {
      const file = await new Promise<File>((ok, err) => entry.file?.(ok, err));
      out.push(file);
    } else if (entry.isDirectory && entry.createReader) {
      const reader = entry.createReader();
      const children: EntryLike[] = [];
      // readEntries answers in batches (100 in Chromium) until it returns none
      for (;;) {
        const batch = await new Promise<EntryLike[]>((ok, err) => reader.readEntries(ok, err));
        if (!batch.length) break;
        children.push(...batch);
      }
      children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const child of children) await walk(child);
    }
  };
  for (const entry of entries) await walk(entry);
  return out;
}

export interface Picked {
  file: File;
  contentType: string;
}

export interface Rejected {
  name: string;
  reason: string;
}

/** Split files into those we send and those refused before upload (with a sentence). */
export function screen(
  files: readonly File[],
  cfg: PageConfig,
  alreadyInJob = 0,
): { accepted: Picked[]; rejected: Rejected[] } {
  const accepted: Picked[] = [];
  const rejected: Rejected[] = [];
  const accepted_types = new Set(cfg.acceptedTypes);
  for (const file of files) {
    const type = contentTypeOf(file.name, file.type);
    const video = type.startsWith("video/");
    const limit = Math.min(cfg.maxFileBytes, video ? cfg.maxVideoBytes : cfg.maxPhotoBytes);
    if (!accepted_types.has(type)) {
      rejected.push({ name: file.name, reason: "Not a supported photo or video type." });
    } else if (file.size > limit) {
      rejected.push({
        name: file.name,
        reason: `Too large: ${formatBytes(file.size)}; ${video ? "videos" : "photos"} can be at most ${formatBytes(limit)}.`,
      });
    } else if (alreadyInJob + accepted.length >= cfg.maxFiles) {
      rejected.push({ name: file.name, reason: `A job takes at most ${cfg.maxFiles} files.` });
    } else {
      accepted.push({ file, contentType: type });
    }
  }
  return { accepted, rejected };
}

/** The key a re-picked file is matched on after a reload. */
export function fileKey(name: string, size: number, lastModified: number): string {
  return `${name}\u0000${size}\u0000${lastModified}`;
}
