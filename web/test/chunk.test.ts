import assert from "node:assert/strict";
import { test } from "node:test";

import { childrenPatch, frameSlice } from "../src/chunk";

test("frameSlice builds at most the budget per frame and keeps the order", () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  const built = new Set<number>();
  const first = frameSlice(items, (i) => built.has(i), 4);
  assert.deepEqual(first, { show: [0, 1, 2, 3], spent: 4, done: false });
  for (const i of first.show) built.add(i);
  // built items are free: the next frame shows them and builds the next four
  assert.deepEqual(frameSlice(items, (i) => built.has(i), 4), { show: [0, 1, 2, 3, 4, 5, 6, 7], spent: 4, done: false });
});

test("frameSlice stops at the first item that must wait, even when built ones follow", () => {
  const built = new Set(["a", "c", "d"]);
  assert.deepEqual(frameSlice(["a", "b", "c", "d"], (x) => built.has(x), 0), { show: ["a"], spent: 0, done: false });
  assert.deepEqual(frameSlice(["a", "b", "c", "d"], (x) => built.has(x), 1), { show: ["a", "b", "c", "d"], spent: 1, done: true });
  assert.deepEqual(frameSlice([], () => false, 0), { show: [], spent: 0, done: true });
});

test("childrenPatch: nothing, append the tail, or replace", () => {
  assert.deepEqual(childrenPatch([1, 2], [1, 2]), { kind: "same" });
  assert.deepEqual(childrenPatch([1, 2], [1, 2, 3, 4]), { kind: "append", from: 2 });
  assert.deepEqual(childrenPatch([], [1]), { kind: "append", from: 0 });
  assert.deepEqual(childrenPatch([1, 2], [2, 1]), { kind: "replace" }); // a flip moved a tile
  assert.deepEqual(childrenPatch([1, 2, 3], [1, 2]), { kind: "replace" });
});

test("a 500-tile grid is built in frames of 100 tiles, each frame only appending", () => {
  const tiles = Array.from({ length: 500 }, (_, i) => `tile-${i}`);
  const built = new Set<string>();
  let onScreen: string[] = [];
  const frames: Array<{ spent: number; patch: string }> = [];
  for (let frame = 0; frame < 20; frame++) {
    const slice = frameSlice(tiles, (t) => built.has(t), 100);
    for (const t of slice.show) built.add(t);
    const patch = childrenPatch(onScreen, slice.show);
    frames.push({ spent: slice.spent, patch: patch.kind });
    onScreen = slice.show;
    if (slice.done) break;
  }
  assert.deepEqual(onScreen, tiles);
  assert.deepEqual(
    frames.map((f) => f.spent),
    [100, 100, 100, 100, 100],
  );
  assert.ok(frames.every((f) => f.patch === "append"));
});
