// Big DOM updates spread over animation frames: a frame builds at most a budget of new
// elements, keeps the order of the list, and grows what is on screen by appending (so a
// 500-tile verdict grid costs a few short frames, not one long task).

/** The part of `items` to show this frame. Items already built cost nothing; at most `budget`
 * others get built; the list stops at the first item that has to wait, so the order is kept
 * and the rest follows in later frames. */
export function frameSlice<T>(
  items: readonly T[],
  built: (item: T) => boolean,
  budget: number,
): { show: T[]; spent: number; done: boolean } {
  let spent = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as T;
    if (built(item)) continue;
    if (spent >= budget) return { show: items.slice(0, i), spent, done: false };
    spent++;
  }
  return { show: items.slice(), spent, done: true };
}

export type ChildrenPatch = { kind: "same" } | { kind: "append"; from: number } | { kind: "replace" };

/** How to turn the children on screen into `next`: nothing, append the tail (what is shown is a
 * prefix of it: the common case while a grid grows frame by frame), or replace them all. */
export function childrenPatch<T>(current: ArrayLike<T>, next: readonly T[]): ChildrenPatch {
  const n = current.length;
  if (n > next.length) return { kind: "replace" };
  for (let i = 0; i < n; i++) if (current[i] !== next[i]) return { kind: "replace" };
  return n === next.length ? { kind: "same" } : { kind: "append", from: n };
}
