/**
 * A line-based unified diff, as `diff -u` prints it, for the control socket's `diff PATH`.
 *
 * The edit script comes from Myers' O(ND) difference algorithm ("An O(ND) Difference Algorithm
 * and Its Variations", 1986) in its linear-space form: a bidirectional search finds a point on an
 * optimal path (the "middle snake"), and the two halves either side of it are solved the same
 * way. The result is minimal (fewest inserted plus deleted lines) and needs O(N + M) memory: no
 * per-D trace is kept. Subproblems go on an explicit stack, so the depth is not bounded by the
 * JavaScript call stack.
 *
 * The daemon is single-threaded, so the work is bounded: when the edit distance D (inserted plus
 * deleted lines; a changed line counts 2) exceeds `maxEdits` the search stops as soon as it has
 * proven that, and the result is `tooLarge` with no text. Lines found on one side only are set
 * aside before the search (they cannot match), so the usual edit, whose new lines are new, costs
 * about O(N + M); the search itself is O((N + M) * D) at worst, O(N + M + D^2) usually. Measured
 * on 1 MiB (20k-line) texts: ~15 ms for 100 scattered edits; the worst seen, texts of a few
 * distinct lines at D near 5000 or proven over it, ~250 ms.
 *
 * Lines are compared exactly, terminator included: "a\r\n" and "a\n" differ, and a last line
 * without a newline differs from the same line with one (printed with GNU diff's
 * `\ No newline at end of file` marker).
 */

export interface UnifiedDiffOptions {
  /** Shown on the `---` line (GNU diff's `--label`). */
  oldLabel: string;
  /** Shown on the `+++` line. */
  newLabel: string;
  /** Unchanged lines around each change (`-U`); default 3. */
  context?: number;
  /** The largest edit distance (inserted plus deleted lines) worth printing; default 5000. */
  maxEdits?: number;
}

export interface UnifiedDiffResult {
  /** The diff: empty when the texts are equal, or when `tooLarge`. */
  unified: string;
  /** The edit distance exceeds `maxEdits`; nothing was printed. */
  tooLarge: boolean;
}

const NO_NEWLINE = '\\ No newline at end of file\n';

export function unifiedDiff(oldText: string, newText: string, options: UnifiedDiffOptions): UnifiedDiffResult {
  const context = options.context ?? 3;
  const maxEdits = options.maxEdits ?? 5000;
  if (!Number.isInteger(context) || context < 0) throw new RangeError(`unifiedDiff: context must be a non-negative integer, not ${context}`);
  if (!Number.isInteger(maxEdits) || maxEdits < 0) throw new RangeError(`unifiedDiff: maxEdits must be a non-negative integer, not ${maxEdits}`);
  if (oldText === newText) return { unified: '', tooLarge: false };

  const ids = new Map<string, number>();
  const a = splitLines(oldText, ids);
  const b = splitLines(newText, ids);
  const deleted = new Uint8Array(a.ids.length);
  const inserted = new Uint8Array(b.ids.length);
  if (!editScript(a.ids, b.ids, ids.size, maxEdits, deleted, inserted)) return { unified: '', tooLarge: true };
  const body = printHunks(a, b, deleted, inserted, context);
  if (body === '') return { unified: '', tooLarge: false };
  return { unified: `--- ${options.oldLabel}\n+++ ${options.newLabel}\n${body}`, tooLarge: false };
}

interface Lines {
  /** Each line's text without its '\n'. */
  text: string[];
  /** Each line's number: equal lines (terminator included) have equal numbers. */
  ids: Int32Array;
  /** The last line has no '\n'. */
  noFinalNewline: boolean;
}

function splitLines(text: string, ids: Map<string, number>): Lines {
  const parts = text.split('\n');
  let noFinalNewline = true;
  if (parts[parts.length - 1] === '') {
    parts.pop();
    noFinalNewline = false;
  }
  const numbers = new Int32Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    // A last line without '\n' gets a key no '\n'-terminated line can have (those keys never
    // contain '\n'), so it never matches one.
    const key = noFinalNewline && i === parts.length - 1 ? `${parts[i]}\n` : parts[i]!;
    let id = ids.get(key);
    if (id === undefined) {
      id = ids.size;
      ids.set(key, id);
    }
    numbers[i] = id;
  }
  return { text: parts, ids: numbers, noFinalNewline };
}

/**
 * Marks a minimal set of lines of `a` as deleted and of `b` as inserted (the unmarked lines are a
 * longest common subsequence). Returns false, having marked nothing useful, when the edit
 * distance exceeds `maxEdits`.
 *
 * Two cheap steps come before the search. A lower bound: a line that occurs c times in `a` and
 * c' times in `b` takes at least |c - c'| edits, so the sum over all lines exceeding `maxEdits`
 * ends it at once (a file rewritten from top to bottom costs O(N + M)). And lines that occur on
 * one side only cannot be part of any common subsequence: they are marked now and the search runs
 * over the others alone (as GNU diff discards them too). In the usual edit, where changed lines
 * are new, that leaves the search next to nothing.
 */
function editScript(a: Int32Array, b: Int32Array, idCount: number, maxEdits: number, deleted: Uint8Array, inserted: Uint8Array): boolean {
  const inA = new Int32Array(idCount);
  const inB = new Int32Array(idCount);
  for (let i = 0; i < a.length; i++) inA[a[i]!]!++;
  for (let j = 0; j < b.length; j++) inB[b[j]!]!++;
  let bound = 0;
  for (let id = 0; id < idCount; id++) bound += Math.abs(inA[id]! - inB[id]!);
  if (bound > maxEdits) return false;

  const keptA = keep(a, inB, deleted);
  const keptB = keep(b, inA, inserted);
  const discarded = a.length - keptA.ids.length + (b.length - keptB.ids.length); // <= bound
  return search(keptA, keptB, maxEdits - discarded, deleted, inserted);
}

/** The lines of `lines` that occur on the other side (and their indexes); marks the others. */
function keep(lines: Int32Array, other: Int32Array, marks: Uint8Array): { ids: Int32Array; at: Int32Array } {
  let count = 0;
  for (let i = 0; i < lines.length; i++) if (other[lines[i]!]! > 0) count++;
  const ids = new Int32Array(count);
  const at = new Int32Array(count);
  for (let i = 0, k = 0; i < lines.length; i++) {
    if (other[lines[i]!]! > 0) {
      ids[k] = lines[i]!;
      at[k++] = i;
    } else {
      marks[i] = 1;
    }
  }
  return { ids, at };
}

/**
 * Myers' search over `a` against `b` (each line's id, and its index in the whole text, which the
 * marks are indexed by). Returns false when the edit distance exceeds `maxEdits`.
 */
function search(
  { ids: a, at: atA }: { ids: Int32Array; at: Int32Array },
  { ids: b, at: atB }: { ids: Int32Array; at: Int32Array },
  maxEdits: number,
  deleted: Uint8Array,
  inserted: Uint8Array,
): boolean {
  const n = a.length;
  const m = b.length;
  if (Math.abs(n - m) > maxEdits) return false; // D >= |N - M|
  // The search of the whole problem reaches at most d = ceil(min(N + M, maxEdits) / 2) + 1 from
  // either end; subproblems need less. V arrays are indexed by diagonal + offset, -(d+1)..d+1.
  const dLimit = Math.ceil(Math.min(n + m, maxEdits) / 2) + 1;
  const offset = dLimit + 1;
  const state: Search = { a, b, forward: new Int32Array(2 * offset + 1), reverse: new Int32Array(2 * offset + 1), offset, splitX: 0, splitY: 0 };

  // Subproblems: a[a0, a1) against b[b0, b1), four numbers each.
  const stack: number[] = [0, n, 0, m];
  let top = true;
  while (stack.length > 0) {
    let b1 = stack.pop()!;
    let b0 = stack.pop()!;
    let a1 = stack.pop()!;
    let a0 = stack.pop()!;
    while (a0 < a1 && b0 < b1 && a[a0] === b[b0]) {
      a0++;
      b0++;
    }
    while (a0 < a1 && b0 < b1 && a[a1 - 1] === b[b1 - 1]) {
      a1--;
      b1--;
    }
    if (a0 === a1 || b0 === b1) {
      if (top && a1 - a0 + (b1 - b0) > maxEdits) return false;
      for (let i = a0; i < a1; i++) deleted[atA[i]!] = 1;
      for (let j = b0; j < b1; j++) inserted[atB[j]!] = 1;
    } else {
      // Both sides are non-empty and differ at both ends, so D >= 2 and the split point is
      // strictly inside: each half is smaller than the whole.
      if (!middleSnake(state, a0, a1, b0, b1, top ? maxEdits : Infinity)) return false;
      const x = state.splitX;
      const y = state.splitY;
      stack.push(a0, x, b0, y, x, a1, y, b1);
    }
    top = false;
  }
  return true;
}

interface Search {
  a: Int32Array;
  b: Int32Array;
  /** forward[k + offset]: the furthest x a forward d-path reaches on diagonal k = x - y. */
  forward: Int32Array;
  /** reverse[k + offset]: the same for the reversed problem (from the end, x' = N - x). */
  reverse: Int32Array;
  offset: number;
  /** Out: a point on an optimal path (absolute line indexes). */
  splitX: number;
  splitY: number;
}

/**
 * Finds a point of an optimal edit path through a[a0, a1) × b[b0, b1), searching from both ends
 * at once, one more edit at a time. Returns false when the edit distance proves to exceed
 * `maxEdits`.
 *
 * Coordinates are relative: x in 0..N over a, y in 0..M over b. The forward search runs from
 * (0, 0); the reverse one is the same search on both sequences read backwards, from (N, M), its
 * diagonal k' = delta - k where delta = N - M. Unreachable diagonals hold -1. Paths never leave
 * the grid: a move that would is not taken.
 *
 * When a forward d-path and a reverse path of d-1 (delta odd) or d (delta even) edits meet on a
 * diagonal (the forward x at least the reverse x) the distance is 2d-1 or 2d, and the end of the
 * newer path's last diagonal run is on an optimal path. (The other path reaches that diagonal at
 * or before that point and continues to its own end; a path from the point that runs straight to
 * where the other path crosses its row or column, then follows it, costs no more than it did.)
 */
function middleSnake(s: Search, a0: number, a1: number, b0: number, b1: number, maxEdits: number): boolean {
  const { a, b, forward: vf, reverse: vr, offset: o } = s;
  const n = a1 - a0;
  const m = b1 - b0;
  const delta = n - m;
  const odd = (delta & 1) !== 0;
  const dMax = Math.ceil((n + m) / 2);
  vf[o + 1] = 0; // as if from (0, -1): the first step is the free move onto (0, 0)
  vf[o - 1] = -1;
  vr[o + 1] = 0;
  vr[o - 1] = -1;
  for (let d = 0; d <= dMax; d++) {
    if (d > 0) {
      vf[o - d - 1] = -1;
      vf[o + d + 1] = -1;
    }
    for (let k = -d; k <= d; k += 2) {
      // Down from diagonal k+1 (insert b[y-1]) or right from k-1 (delete a[x-1]), whichever
      // reaches further, if it stays on the grid.
      let x = -1;
      const down = vf[o + k + 1]!;
      if (down >= 0 && down - k <= m) x = down;
      const right = vf[o + k - 1]!;
      if (right >= 0 && right + 1 <= n && right + 1 > x) x = right + 1;
      if (x < 0) {
        vf[o + k] = -1;
        continue;
      }
      let y = x - k;
      while (x < n && y < m && a[a0 + x] === b[b0 + y]) {
        x++;
        y++;
      }
      vf[o + k] = x;
      if (odd && d > 0) {
        const kr = delta - k;
        if (kr >= -(d - 1) && kr <= d - 1) {
          const xr = vr[o + kr]!;
          if (xr >= 0 && x + xr >= n) {
            s.splitX = a0 + x;
            s.splitY = b0 + y;
            return true;
          }
        }
      }
    }
    if (2 * d > maxEdits) return false; // no (2d-1)-path: D >= 2d

    if (d > 0) {
      vr[o - d - 1] = -1;
      vr[o + d + 1] = -1;
    }
    for (let k = -d; k <= d; k += 2) {
      // The same moves as forward, over the reversed sequences.
      let x = -1;
      const down = vr[o + k + 1]!;
      if (down >= 0 && down - k <= m) x = down;
      const right = vr[o + k - 1]!;
      if (right >= 0 && right + 1 <= n && right + 1 > x) x = right + 1;
      if (x < 0) {
        vr[o + k] = -1;
        continue;
      }
      let y = x - k;
      while (x < n && y < m && a[a1 - 1 - x] === b[b1 - 1 - y]) {
        x++;
        y++;
      }
      vr[o + k] = x;
      if (!odd) {
        const kf = delta - k;
        if (kf >= -d && kf <= d) {
          const xf = vf[o + kf]!;
          if (xf >= 0 && x + xf >= n) {
            s.splitX = a1 - x;
            s.splitY = b1 - y;
            return true;
          }
        }
      }
    }
    if (2 * d + 1 > maxEdits) return false; // no 2d-path: D >= 2d+1
  }
  throw new Error('unifiedDiff: the middle-snake search ended without meeting'); // cannot happen: D <= N + M
}

/** The hunks of `diff -u` for the marked lines, or '' when nothing is marked. */
function printHunks(a: Lines, b: Lines, deleted: Uint8Array, inserted: Uint8Array, context: number): string {
  // Change blocks: runs of deleted lines of a with the inserted lines of b at the same place.
  // Between two blocks there is at least one unchanged line, the same count on both sides.
  const blocks: { a0: number; a1: number; b0: number; b1: number }[] = [];
  const n = a.ids.length;
  const m = b.ids.length;
  for (let i = 0, j = 0; i < n || j < m; ) {
    if ((i < n && deleted[i]) || (j < m && inserted[j])) {
      const a0 = i;
      const b0 = j;
      while (i < n && deleted[i]) i++;
      while (j < m && inserted[j]) j++;
      blocks.push({ a0, a1: i, b0, b1: j });
    } else {
      i++;
      j++;
    }
  }
  const out: string[] = [];
  const line = (prefix: string, lines: Lines, index: number): void => {
    out.push(prefix, lines.text[index]!, '\n');
    if (lines.noFinalNewline && index === lines.text.length - 1) out.push(NO_NEWLINE);
  };
  for (let first = 0; first < blocks.length; ) {
    // A hunk takes the following blocks while the unchanged lines between them are at most
    // 2 * context (their contexts touch or overlap), as GNU diff does.
    let last = first;
    while (last + 1 < blocks.length && blocks[last + 1]!.a0 - blocks[last]!.a1 <= 2 * context) last++;
    const head = blocks[first]!;
    const tail = blocks[last]!;
    // Context is cut short only at the ends of the texts: another hunk's block is more than
    // 2 * context lines away. Before the first block a0 == b0 lines are unchanged, after the last
    // one n - a1 == m - b1.
    const before = Math.min(context, head.a0);
    const after = Math.min(context, n - tail.a1);
    const oldStart = head.a0 - before;
    const newStart = head.b0 - before;
    const oldLength = tail.a1 + after - oldStart;
    const newLength = tail.b1 + after - newStart;
    out.push(`@@ -${range(oldStart, oldLength)} +${range(newStart, newLength)} @@\n`);
    for (let i = oldStart; i < head.a0; i++) line(' ', a, i);
    for (let at = first; at <= last; at++) {
      const block = blocks[at]!;
      for (let i = block.a0; i < block.a1; i++) line('-', a, i);
      for (let j = block.b0; j < block.b1; j++) line('+', b, j);
      const end = at < last ? blocks[at + 1]!.a0 : tail.a1 + after;
      for (let i = block.a1; i < end; i++) line(' ', a, i);
    }
    first = last + 1;
  }
  return out.join('');
}

/** A hunk's line range as GNU diff prints it: "l,s", "l" when s is 1, "l-1,0" when empty. */
function range(start: number, length: number): string {
  if (length === 0) return `${start},0`;
  if (length === 1) return `${start + 1}`;
  return `${start + 1},${length}`;
}
