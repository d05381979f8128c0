/**
 * The persisted inode mappings (see overlay/inodes.ts): which number the union shows for an upper
 * object. Staged mode writes FLASH/inodes/batch-N per flush; direct mode appends to
 * WORK/persist-inodes at every copy-up. Compaction rewrites them as one file holding only what is
 * still true, so neither the flash nor the daemon's memory grows with the number of flushes or
 * copy-ups. Each rewrite is atomic (temp file, fsync, rename, fsync of the directory).
 */
import { closeSync, fsyncSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isErrno } from '../overlay/errors.js';
import { mappingFilesIn, readMappingLines, upperIdentity } from '../overlay/inodes.js';

/** Mapping lines folded in order: later lines win, "forget" lines drop an identity. */
class MappingFold {
  readonly numbers = new Map<string, string>();
  readonly links = new Map<string, Set<string>>();

  add(text: string): void {
    readMappingLines(text, {
      number: (identity, number) => this.numbers.set(identity, number),
      link: (identity, path) => {
        const set = this.links.get(identity) ?? new Set<string>();
        set.add(path);
        this.links.set(identity, set);
      },
      forget: (identity) => {
        this.numbers.delete(identity);
        this.links.delete(identity);
      },
    });
  }

  keepOnly(live: Set<string>): void {
    for (const identity of [...this.numbers.keys()]) if (!live.has(identity)) this.numbers.delete(identity);
    for (const identity of [...this.links.keys()]) if (!live.has(identity)) this.links.delete(identity);
  }

  text(): string {
    const lines = [...this.numbers].map(([identity, number]) => `${identity} ${number}`);
    for (const [identity, paths] of this.links) for (const path of paths) lines.push(`link\t${identity}\t${path}`);
    return lines.length ? `${lines.join('\n')}\n` : '';
  }
}

/**
 * Fold FLASH/inodes (the compacted `map` and the batch files after it, by batch number) into a new
 * `map`, then remove the batch files, oldest first (a crash in between leaves a suffix of them,
 * which reads the same on top of the new map). Returns how many mappings remain.
 */
export function compactInodeMaps(dir: string): { mappings: number; highestEpoch: number } {
  const files = mappingFilesIn(dir);
  const batches = files.filter((file) => basename(file) !== 'map');
  const fold = new MappingFold();
  for (const file of files) fold.add(readFileSync(file, 'utf8'));
  if (batches.length > 0) {
    replaceDurably(join(dir, 'map'), fold.text());
    for (const file of batches) rmSync(file, { force: true });
  }
  return { mappings: fold.numbers.size, highestEpoch: highestEpochOf(fold.numbers.values()) };
}

/**
 * The highest stage epoch among persisted numbers (stage objects' numbers carry it in bits 32-48,
 * under a zero layer tag): a new start must use a higher one, or it could show a number again.
 */
function highestEpochOf(numbers: Iterable<string>): number {
  let highest = 0;
  for (const text of numbers) {
    const n = BigInt(text);
    if (n >> 49n === 0n) highest = Math.max(highest, Number(n >> 32n));
  }
  return highest;
}

/**
 * Direct mode's log only ever grows (one line per copy-up): keep the lines of objects the upper
 * still has. Walks the upper once, at start.
 */
export function compactDirectLog(upperRoot: string, log: string): void {
  let text: string;
  try {
    text = readFileSync(log, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  const fold = new MappingFold();
  fold.add(text);
  fold.keepOnly(liveIdentities(upperRoot));
  const compacted = fold.text();
  if (compacted.length < text.length) replaceDurably(log, compacted);
}

/** Identities of every object in the upper tree. */
function liveIdentities(root: string): Set<string> {
  const live = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      live.add(upperIdentity(lstatSync(path, { bigint: true })));
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(root);
  return live;
}

/** Replace `path` with `text` so that a crash leaves the old or the new content, never a mix. */
export function replaceDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Make a rename or unlink in `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * "forget" lines for the upper objects that a batch operation at `upperPath` removes or replaces:
 * their mappings die with them. An object with other names stays; a directory takes its tree.
 */
export function forgetLinesFor(upperPath: string): string[] {
  const lines: string[] = [];
  const visit = (path: string): void => {
    let st;
    try {
      st = lstatSync(path, { bigint: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
      throw err;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (st.nlink > 1n) {
      return;
    }
    lines.push(`forget\t${upperIdentity(st)}`);
  };
  visit(upperPath);
  return lines;
}
