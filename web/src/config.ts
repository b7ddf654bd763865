import type { PageConfig } from "./types";

const MIB = 1024 * 1024;

export const DEFAULT_CONFIG: PageConfig = {
  apiBase: "",
  maxFiles: 1000,
  maxFileBytes: 5 * 1024 * MIB,
  multipartThresholdBytes: 100 * MIB,
  maxPhotoBytes: 100 * MIB,
  maxVideoBytes: 5 * 1024 * MIB,
  acceptedTypes: [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/heic",
    "image/heif",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "video/x-msvideo",
  ],
  env: "",
};

/** config.json as written by Terraform; a missing or mistyped field falls back to the default. */
export function parseConfig(raw: unknown): PageConfig {
  if (!raw || typeof raw !== "object") throw new Error("config.json is not a JSON object");
  const r = raw as Record<string, unknown>;
  const num = (k: keyof PageConfig): number => {
    const v = r[k];
    return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : (DEFAULT_CONFIG[k] as number);
  };
  const types = Array.isArray(r["acceptedTypes"]) && r["acceptedTypes"].every((t) => typeof t === "string")
    ? (r["acceptedTypes"] as string[])
    : DEFAULT_CONFIG.acceptedTypes;
  return {
    apiBase: typeof r["apiBase"] === "string" ? r["apiBase"].replace(/\/+$/, "") : "",
    maxFiles: num("maxFiles"),
    maxFileBytes: num("maxFileBytes"),
    multipartThresholdBytes: num("multipartThresholdBytes"),
    maxPhotoBytes: num("maxPhotoBytes"),
    maxVideoBytes: num("maxVideoBytes"),
    acceptedTypes: types,
    env: typeof r["env"] === "string" ? r["env"] : "",
  };
}
