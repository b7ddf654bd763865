// Deterministic build: build/web/index.html, assets/app-<hash>.js, assets/app-<hash>.css.
// Same sources -> byte-identical output (content hashes, no source maps, no timestamps).
// Usage: node build.mjs [--out DIR]   (default ../build/web)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf("--out");
const out = resolve(here, outIdx >= 0 ? args[outIdx + 1] : "../build/web");
const BUDGET = 100 * 1024; // gzipped JS + CSS

const result = await esbuild.build({
  entryPoints: { app: join(here, "src/main.ts") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox110", "safari16"],
  entryNames: "[name]-[hash]",
  outdir: join(out, "assets"),
  write: false,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const names = {};
let total = 0;
for (const file of result.outputFiles) {
  writeFileSync(file.path, file.contents);
  const name = basename(file.path);
  if (name.endsWith(".js")) names.js = name;
  if (name.endsWith(".css")) names.css = name;
  const gz = gzipSync(file.contents, { level: 9 }).length;
  total += gz;
  console.log(`  assets/${name}  ${file.contents.length} B, ${gz} B gzipped`);
}
if (!names.js || !names.css) throw new Error("the build made no JS or no CSS");
const html = readFileSync(join(here, "src/index.html"), "utf8")
  .replace("__JS__", names.js)
  .replace("__CSS__", names.css);
writeFileSync(join(out, "index.html"), html);
console.log(`  index.html  ${Buffer.byteLength(html)} B`);
console.log(`page weight: ${total} B gzipped JS+CSS (budget ${BUDGET} B)`);
if (total > BUDGET) {
  console.error("over the page-weight budget");
  process.exit(1);
}
