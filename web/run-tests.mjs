// Unit tests: esbuild compiles test/*.test.ts for Node, then `node --test` runs them.
import { readdirSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, ".test-out");
rmSync(outdir, { recursive: true, force: true });
const tests = readdirSync(join(here, "test")).filter((f) => f.endsWith(".test.ts"));
await esbuild.build({
  entryPoints: tests.map((f) => join(here, "test", f)),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outdir,
  outExtension: { ".js": ".mjs" },
  loader: { ".css": "empty" },
  logLevel: "warning",
});
const files = readdirSync(outdir).filter((f) => f.endsWith(".mjs")).map((f) => join(outdir, f));
const run = spawnSync(process.execPath, ["--test", ...process.argv.slice(2), ...files], { stdio: "inherit" });
process.exit(run.status ?? 1);
