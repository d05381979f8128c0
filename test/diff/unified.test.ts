// The unified diff of `diff PATH`: exact output for hand-made cases, and a differential check
// against GNU diff and patch over seeded random inputs: the same (minimal) number of changed lines
// as `diff -u`, and the diff, applied by `patch` to the old text, gives the new one.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unifiedDiff, type UnifiedDiffOptions } from '../../src/diff/unified.js';
import { Cleanup } from '../support/cleanup.js';
import { mulberry32 } from '../support/mulberry32.js';
import { makeTempDir } from '../support/tempdir.js';

const labels = { oldLabel: 'a', newLabel: 'b' };
const diff = (oldText: string, newText: string, options: Partial<UnifiedDiffOptions> = {}) => unifiedDiff(oldText, newText, { ...labels, ...options });
const lines = (...items: string[]) => items.map((item) => `${item}\n`).join('');
const numbered = (count: number, change: (i: number) => string | null = () => null) =>
  Array.from({ length: count }, (_, i) => change(i + 1) ?? `${i + 1}`).map((line) => `${line}\n`).join('');

/** Lines a unified diff removes and adds (not its `---`/`+++` headers). */
function changedLines(unified: string): { removed: number; added: number } {
  let removed = 0;
  let added = 0;
  for (const line of unified.split('\n').slice(2)) {
    if (line.startsWith('-')) removed++;
    else if (line.startsWith('+')) added++;
  }
  return { removed, added };
}

/** Edit distance (inserted plus deleted lines, terminators included) by the textbook LCS table. */
function editDistance(oldText: string, newText: string): number {
  const split = (text: string) => text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const a = split(oldText);
  const b = split(newText);
  let row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const next = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) next[j] = a[i - 1] === b[j - 1] ? row[j - 1]! + 1 : Math.max(row[j]!, next[j - 1]!);
    row = next;
  }
  return a.length + b.length - 2 * row[b.length]!;
}

describe('unifiedDiff', () => {
  const cleanup = new Cleanup();
  let dir = '';
  before(() => {
    dir = makeTempDir(cleanup, 'persist-diff-');
  });
  after(async () => {
    await cleanup.runAll();
  });

  /** GNU `diff -U context` of the two texts, with the same labels. */
  function gnuDiff(oldText: string, newText: string, context = 3): string {
    const oldFile = join(dir, 'old');
    const newFile = join(dir, 'new');
    writeFileSync(oldFile, oldText);
    writeFileSync(newFile, newText);
    const result = spawnSync('diff', [`-U${context}`, '--label', 'a', '--label', 'b', oldFile, newFile], { encoding: 'utf8' });
    assert.ok(result.status === 0 || result.status === 1, `diff failed: ${result.status} ${result.stderr}`);
    return result.stdout;
  }

  /** The old text with `unified` applied by GNU patch (no fuzz, every hunk must apply). */
  function applyPatch(oldText: string, unified: string): string {
    const oldFile = join(dir, 'patch-old');
    const patchFile = join(dir, 'patch.diff');
    const outFile = join(dir, 'patch-out');
    writeFileSync(oldFile, oldText);
    writeFileSync(patchFile, unified);
    writeFileSync(outFile, '');
    const result = spawnSync('patch', ['--binary', '--fuzz=0', '--force', '--silent', '--no-backup-if-mismatch', '--reject-file=-', '-o', outFile, oldFile, patchFile], { encoding: 'utf8' });
    assert.equal(result.status, 0, `patch failed: ${result.stdout}${result.stderr}\n--- the diff:\n${unified}`);
    return existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
  }

  /** Our diff against GNU's: the same counts of changed lines, and it patches old into new. */
  function checkAgainstGnu(oldText: string, newText: string, context = 3, what = ''): void {
    const ours = diff(oldText, newText, { context }).unified;
    const gnu = gnuDiff(oldText, newText, context);
    const where = `${what}\nold: ${JSON.stringify(oldText)}\nnew: ${JSON.stringify(newText)}\nours:\n${ours}\ngnu:\n${gnu}`;
    assert.deepEqual(changedLines(ours), changedLines(gnu), `changed line counts differ from GNU diff's ${where}`);
    const distance = editDistance(oldText, newText);
    const { removed, added } = changedLines(ours);
    assert.equal(removed + added, distance, `not minimal ${where}`);
    if (ours === '') assert.equal(oldText, newText, `empty diff of different texts ${where}`);
    else assert.equal(applyPatch(oldText, ours), newText, `patch does not reproduce the new text ${where}`);
  }

  it('is empty for equal texts', () => {
    assert.deepEqual(diff('', ''), { unified: '', tooLarge: false });
    assert.deepEqual(diff(lines('x', 'y'), lines('x', 'y')), { unified: '', tooLarge: false });
    assert.deepEqual(diff('no newline', 'no newline', { maxEdits: 0 }), { unified: '', tooLarge: false });
  });

  it('prints one changed line with three lines of context', () => {
    const result = diff(numbered(10), numbered(10, (i) => (i === 5 ? 'five' : null)));
    assert.equal(result.tooLarge, false);
    assert.equal(
      result.unified,
      ['--- a', '+++ b', '@@ -2,7 +2,7 @@', ' 2', ' 3', ' 4', '-5', '+five', ' 6', ' 7', ' 8', ''].join('\n'),
    );
  });

  it('uses the labels as given', () => {
    const { unified } = unifiedDiff('', 'x\n', { oldLabel: '/dev/null', newLabel: 'current/etc/hostname' });
    assert.equal(unified, '--- /dev/null\n+++ current/etc/hostname\n@@ -0,0 +1 @@\n+x\n');
  });

  it('prints the empty ranges as GNU diff does', () => {
    assert.equal(diff('', lines('x', 'y')).unified, '--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n');
    assert.equal(diff(lines('x', 'y'), '').unified, '--- a\n+++ b\n@@ -1,2 +0,0 @@\n-x\n-y\n');
    assert.equal(diff(lines('1', '2', '3'), lines('1', '2', '3', 'new'), { context: 0 }).unified, '--- a\n+++ b\n@@ -3,0 +4 @@\n+new\n');
    assert.equal(diff(lines('1', '2', '3'), lines('new', '1', '2', '3'), { context: 0 }).unified, '--- a\n+++ b\n@@ -0,0 +1 @@\n+new\n');
    assert.equal(diff(lines('1', '2', '3'), lines('1', '3'), { context: 0 }).unified, '--- a\n+++ b\n@@ -2 +1,0 @@\n-2\n');
    assert.equal(diff(lines('1', '2', '3'), lines('2', '3'), { context: 0 }).unified, '--- a\n+++ b\n@@ -1 +0,0 @@\n-1\n');
  });

  it('merges hunks whose contexts touch, and only those', () => {
    // Changes at 2 and 9: six unchanged lines between, the two contexts of 3 meet: one hunk.
    const merged = diff(numbered(20), numbered(20, (i) => (i === 2 || i === 9 ? `x${i}` : null))).unified;
    assert.equal(merged.match(/^@@/gm)?.length, 1, merged);
    assert.match(merged, /^@@ -1,12 \+1,12 @@$/m);
    // Changes at 2 and 10: seven between: two hunks.
    const split = diff(numbered(20), numbered(20, (i) => (i === 2 || i === 10 ? `x${i}` : null))).unified;
    assert.deepEqual(split.match(/^@@.*$/gm), ['@@ -1,5 +1,5 @@', '@@ -7,7 +7,7 @@']);
    for (const context of [0, 1, 2, 3, 5]) {
      for (const second of [3, 4, 5, 8, 9, 10, 11, 14]) {
        checkAgainstGnu(numbered(20), numbered(20, (i) => (i === 2 || i === second ? `x${i}` : null)), context);
        assert.equal(diff(numbered(20), numbered(20, (i) => (i === 2 || i === second ? `x${i}` : null)), { context }).unified, gnuDiff(numbered(20), numbered(20, (i) => (i === 2 || i === second ? `x${i}` : null)), context));
      }
    }
  });

  it('marks a missing newline at the end like GNU diff', () => {
    // Only the newline differs.
    assert.equal(diff('x\ny\n', 'x\ny').unified, '--- a\n+++ b\n@@ -1,2 +1,2 @@\n x\n-y\n+y\n\\ No newline at end of file\n');
    assert.equal(diff('x\ny', 'x\ny\n').unified, '--- a\n+++ b\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n');
    // An unchanged last line without a newline, as context.
    assert.equal(diff('x\ny\nz', 'X\ny\nz').unified, '--- a\n+++ b\n@@ -1,3 +1,3 @@\n-x\n+X\n y\n z\n\\ No newline at end of file\n');
    // Both without one, the last lines differ.
    assert.equal(diff('p', 'q').unified, '--- a\n+++ b\n@@ -1 +1 @@\n-p\n\\ No newline at end of file\n+q\n\\ No newline at end of file\n');
    assert.equal(diff('', 'q').unified, '--- a\n+++ b\n@@ -0,0 +1 @@\n+q\n\\ No newline at end of file\n');
    for (const [oldText, newText] of [
      ['x\ny\n', 'x\ny'],
      ['x\ny', 'x\ny\n'],
      ['x\ny\nz', 'X\ny\nz'],
      ['p', 'q'],
      ['', 'q'],
      ['q', ''],
      ['a\nb\nc', 'a\nb\nc\nd'],
      ['a\nb\nc\nd', 'a\nb\nc'],
      ['\n', ''],
      ['', '\n'],
      ['\n\n', '\n'],
    ] as const) {
      assert.equal(diff(oldText, newText).unified, gnuDiff(oldText, newText), JSON.stringify([oldText, newText]));
      checkAgainstGnu(oldText, newText);
    }
  });

  it('keeps CRs as part of the line', () => {
    assert.equal(diff('x\r\ny\r\n', 'x\ny\r\n').unified, '--- a\n+++ b\n@@ -1,2 +1,2 @@\n-x\r\n+x\n y\r\n');
    assert.equal(diff('x\r\n', 'x\r\n').unified, '');
    assert.equal(diff('x\r', 'x\r\n').unified, '--- a\n+++ b\n@@ -1 +1 @@\n-x\r\n\\ No newline at end of file\n+x\r\n');
    for (const [oldText, newText] of [
      ['x\r\ny\r\n', 'x\ny\r\n'],
      ['a\r\nb\r\nc\r\n', 'a\r\nc\r\n'],
      ['a\r\nb\r\n', 'a\r\nb'],
      ['a\rb\n', 'a\nb\n'],
    ] as const) {
      assert.equal(diff(oldText, newText).unified, gnuDiff(oldText, newText), JSON.stringify([oldText, newText]));
      checkAgainstGnu(oldText, newText);
    }
  });

  it('handles unicode lines', () => {
    checkAgainstGnu(lines('grüße', '日本', 'é'), lines('grüße', 'emoji 🎉', 'é'));
  });

  it('stops at maxEdits', () => {
    const oldText = lines('a', 'b');
    const newText = lines('c', 'd'); // 2 deleted + 2 inserted
    assert.equal(diff(oldText, newText, { maxEdits: 4 }).tooLarge, false);
    assert.deepEqual(diff(oldText, newText, { maxEdits: 3 }), { unified: '', tooLarge: true });
    assert.deepEqual(diff('', lines('1', '2', '3'), { maxEdits: 2 }), { unified: '', tooLarge: true });
    assert.equal(diff('', lines('1', '2', '3'), { maxEdits: 3 }).tooLarge, false);
    assert.deepEqual(diff('x', 'y', { maxEdits: 0 }), { unified: '', tooLarge: true });
    // The default: 5000. A 2600-line file replaced entirely is 5200 edits.
    const big = numbered(2600);
    const other = numbered(2600, (i) => `other ${i}`);
    assert.deepEqual(diff(big, other), { unified: '', tooLarge: true });
    assert.equal(diff(numbered(2500), numbered(2500, (i) => `other ${i}`)).tooLarge, false); // exactly 5000
    // A long common prefix and suffix cost nothing.
    assert.equal(diff(numbered(100_000), numbered(100_000, (i) => (i === 50_000 ? 'x' : null)), { maxEdits: 2 }).tooLarge, false);
  });

  it('stops at maxEdits exactly at the edit distance, over random inputs', () => {
    const random = mulberry32(0x5eed0001);
    for (let round = 0; round < 300; round++) {
      const oldText = randomText(random, 12);
      const newText = random() < 0.5 ? mutate(random, oldText) : randomText(random, 12);
      const distance = editDistance(oldText, newText);
      const maxEdits = Math.floor(random() * (distance + 3));
      const result = diff(oldText, newText, { maxEdits });
      const what = `round ${round}: maxEdits ${maxEdits}, distance ${distance}, ${JSON.stringify([oldText, newText])}`;
      assert.equal(result.tooLarge, distance > maxEdits, what);
      if (result.tooLarge) assert.equal(result.unified, '', what);
      else assert.equal(changedLines(result.unified).added + changedLines(result.unified).removed, distance, what);
    }
  });

  it('rejects bad options', () => {
    assert.throws(() => diff('a', 'b', { context: -1 }), RangeError);
    assert.throws(() => diff('a', 'b', { context: 1.5 }), RangeError);
    assert.throws(() => diff('a', 'b', { maxEdits: -1 }), RangeError);
    assert.throws(() => diff('a', 'b', { maxEdits: Number.NaN }), RangeError);
  });

  it('agrees with GNU diff and patch over random inputs', () => {
    const seed = 0xd1ff0001;
    const random = mulberry32(seed);
    for (let round = 0; round < 400; round++) {
      const oldText = randomText(random, round < 200 ? 8 : 30);
      const newText = random() < 0.7 ? mutate(random, oldText) : randomText(random, round < 200 ? 8 : 30);
      const context = random() < 0.6 ? 3 : Math.floor(random() * 5);
      checkAgainstGnu(oldText, newText, context, `seed ${seed} round ${round} context ${context}`);
    }
  });

  it('diffs a 1 MiB, 20k-line pair with 100 scattered edits quickly and correctly', () => {
    const random = mulberry32(42);
    const oldLines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(40)} ${Math.floor(random() * 1e6)}`);
    const newLines = [...oldLines];
    for (let edit = 0; edit < 100; edit++) {
      const at = Math.floor(random() * newLines.length);
      const kind = edit % 3;
      if (kind === 0) newLines[at] = `changed ${edit}`;
      else if (kind === 1) newLines.splice(at, 1);
      else newLines.splice(at, 0, `inserted ${edit}`);
    }
    const oldText = oldLines.join('\n') + '\n';
    const newText = newLines.join('\n') + '\n';
    assert.ok(oldText.length > 1_000_000);
    const start = performance.now();
    const result = diff(oldText, newText);
    const elapsed = performance.now() - start;
    assert.equal(result.tooLarge, false);
    assert.ok(elapsed < 1000, `took ${elapsed.toFixed(1)} ms`); // about 15 ms; generous for loaded machines
    assert.equal(applyPatch(oldText, result.unified), newText);
    assert.deepEqual(changedLines(result.unified), changedLines(gnuDiff(oldText, newText)));
  });
});

const alphabet = ['a', 'b', 'c', 'd', 'a', 'b', '', 'x y', 'a\r', 'é'];

/** 0..maxLines lines from a small alphabet (so lines repeat), sometimes without a final newline. */
function randomText(random: () => number, maxLines: number): string {
  const count = Math.floor(random() * (maxLines + 1));
  const text = Array.from({ length: count }, () => `${alphabet[Math.floor(random() * alphabet.length)]!}\n`).join('');
  return count > 0 && random() < 0.25 ? text.slice(0, -1) : text;
}

/** `text` with a few lines deleted, inserted or replaced, and sometimes its final newline toggled. */
function mutate(random: () => number, text: string): string {
  const items = text === '' ? [] : text.split('\n');
  const edits = Math.floor(random() * 4);
  for (let edit = 0; edit < edits; edit++) {
    const at = Math.floor(random() * (items.length + 1));
    const line = alphabet[Math.floor(random() * alphabet.length)]!;
    const kind = random();
    if (kind < 0.33) items.splice(at, 1);
    else if (kind < 0.66) items.splice(at, 0, line);
    else items[Math.min(at, Math.max(items.length - 1, 0))] = line;
  }
  let result = items.join('\n');
  if (random() < 0.15) result = result.endsWith('\n') ? result.slice(0, -1) : `${result}\n`;
  return result;
}
