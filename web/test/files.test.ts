import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_CONFIG, parseConfig } from "../src/config";
import { contentTypeOf, fromEntries, fromInput, isHidden, screen, type EntryLike } from "../src/files";

function file(name: string, size = 10, type = "", rel = ""): File {
  const f = new File([new Uint8Array(0)], name, { type });
  Object.defineProperty(f, "size", { value: size });
  if (rel) Object.defineProperty(f, "webkitRelativePath", { value: rel });
  return f;
}

function fileEntry(name: string): EntryLike {
  return { name, isFile: true, isDirectory: false, file: (ok) => ok(file(name)) };
}

function dirEntry(name: string, children: EntryLike[], batch = 2): EntryLike {
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      let i = 0;
      return {
        readEntries: (ok) => {
          ok(children.slice(i, i + batch));
          i += batch;
        },
      };
    },
  };
}

test("hidden files and files inside hidden folders are skipped", () => {
  assert.equal(isHidden(".DS_Store"), true);
  assert.equal(isHidden("trip/.thumbs/a.jpg"), true);
  assert.equal(isHidden("trip/a.jpg"), false);
  const picked = fromInput([file("a.jpg", 1, "", "trip/a.jpg"), file(".DS_Store", 1, "", "trip/.DS_Store"), file("b.jpg", 1, "", "trip/.cache/b.jpg")]);
  assert.deepEqual(picked.map((f) => f.name), ["a.jpg"]);
});

test("dropped folders are walked (every readEntries batch), hidden entries skipped, names sorted", async () => {
  const tree = [
    dirEntry("trip", [fileEntry("b.jpg"), fileEntry(".hidden.jpg"), dirEntry(".git", [fileEntry("x.jpg")]), fileEntry("a.jpg"), dirEntry("day2", [fileEntry("c.mp4")])]),
    fileEntry(".DS_Store"),
    fileEntry("top.png"),
  ];
  const files = await fromEntries(tree);
  assert.deepEqual(files.map((f) => f.name), ["a.jpg", "b.jpg", "c.mp4", "top.png"]);
});

test("limits from config.json are applied before anything is sent", () => {
  const cfg = { ...DEFAULT_CONFIG, maxFiles: 3, maxPhotoBytes: 100, maxVideoBytes: 1000, maxFileBytes: 500 };
  const { accepted, rejected } = screen(
    [file("ok.jpg", 50, "image/jpeg"), file("big.jpg", 101, "image/jpeg"), file("movie.mp4", 600, ""), file("notes.txt", 5, "text/plain"), file("x.heic", 5, ""), file("y.png", 5, "image/png")],
    cfg,
    1,
  );
  assert.deepEqual(accepted.map((p) => [p.file.name, p.contentType]), [["ok.jpg", "image/jpeg"], ["x.heic", "image/heic"]]);
  assert.deepEqual(rejected.map((r) => r.name), ["big.jpg", "movie.mp4", "notes.txt", "y.png"]);
  assert.match(rejected[0]?.reason ?? "", /Too large.*photos can be at most 100 B/);
  assert.match(rejected[1]?.reason ?? "", /videos can be at most 500 B/);
  assert.match(rejected[3]?.reason ?? "", /at most 3 files/);
});

test("content type: the browser's, else from the extension", () => {
  assert.equal(contentTypeOf("a.MOV", ""), "video/quicktime");
  assert.equal(contentTypeOf("a.jpg", "image/png"), "image/png");
  assert.equal(contentTypeOf("README", ""), "application/octet-stream");
});

test("config.json: missing fields fall back to defaults, apiBase loses its trailing slash", () => {
  const cfg = parseConfig({ apiBase: "/_aws/execute-api/abc/", maxFiles: "many" });
  assert.equal(cfg.apiBase, "/_aws/execute-api/abc");
  assert.equal(cfg.maxFiles, 1000);
  assert.throws(() => parseConfig(null));
});
