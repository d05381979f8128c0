// A comparable description of a whole directory tree: what a user of the filesystem can observe,
// minus what legitimately differs between two filesystems (inode numbers, times, directory sizes
// and link counts).

import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { dumpXattrsRecursively } from './xattr-cli.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

export interface TreeEntry {
  /** Relative to the snapshot root; "" is the root itself. */
  path: string;
  type: FileType;
  /** Permission bits incl. setuid/setgid/sticky, as octal text (readable in diffs). */
  mode: string;
  uid: number;
  gid: number;
  /** Regular files and symlinks. */
  size?: number;
  /** Non-directories (a directory's link count depends on the filesystem). */
  nlink?: number;
  sha256?: string;
  target?: string;
  /** Character and block devices, "major:minor". */
  rdev?: string;
  /** name → hex value, only names the filter keeps. */
  xattrs: Record<string, string>;
}

export function fileTypeOf(stats: { mode: number | bigint }): FileType {
  switch (Number(stats.mode) & 0o170000) {
    case 0o100000: return 'file';
    case 0o040000: return 'dir';
    case 0o120000: return 'symlink';
    case 0o010000: return 'fifo';
    case 0o020000: return 'char';
    case 0o060000: return 'block';
    default: return 'socket';
  }
}

/** Linux's encoding of dev_t (see sysmacros.h). */
export function deviceNumbers(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

export function permissionBits(mode: number | bigint): string {
  return (Number(mode) & 0o7777).toString(8).padStart(4, '0');
}

/** The per-entry attributes that both snapshots and the executor's stat results report. */
export function describeStats(stats: BigIntStats): Omit<TreeEntry, 'path' | 'xattrs' | 'sha256' | 'target'> {
  const type = fileTypeOf(stats);
  const entry: Omit<TreeEntry, 'path' | 'xattrs' | 'sha256' | 'target'> = {
    type,
    mode: permissionBits(stats.mode),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
  };
  if (type === 'file' || type === 'symlink') entry.size = Number(stats.size);
  if (type !== 'dir') entry.nlink = Number(stats.nlink);
  if (type === 'char' || type === 'block') entry.rdev = deviceNumbers(stats.rdev);
  return entry;
}

export type XattrFilter = (name: string) => boolean;

/** What applications see and set: user.* and security.* (overlay metadata lives in trusted.*). */
export const userVisibleXattrs: XattrFilter = (name) => name.startsWith('user.') || name.startsWith('security.');

export const allXattrs: XattrFilter = () => true;

/** Walks `root` without following symlinks; entries sorted by path. Run as root. */
export function snapshotTree(root: string, keepXattr: XattrFilter = userVisibleXattrs): TreeEntry[] {
  const xattrsByPath = dumpXattrsRecursively(root);
  const entries: TreeEntry[] = [];
  const visit = (relative: string): void => {
    const absolute = relative === '' ? root : join(root, relative);
    const stats = lstatSync(absolute, { bigint: true });
    const entry: TreeEntry = { path: relative, ...describeStats(stats), xattrs: {} };
    for (const [name, value] of [...(xattrsByPath.get(absolute) ?? new Map<string, Buffer>())].sort()) {
      if (keepXattr(name)) entry.xattrs[name] = value.toString('hex');
    }
    if (entry.type === 'file') entry.sha256 = createHash('sha256').update(readFileSync(absolute)).digest('hex');
    if (entry.type === 'symlink') entry.target = readlinkSync(absolute);
    entries.push(entry);
    if (entry.type === 'dir') {
      for (const name of readdirSync(absolute).sort()) visit(relative === '' ? name : `${relative}/${name}`);
    }
  };
  visit('');
  return entries;
}

/**
 * Human-readable differences between two snapshots: for each kind (missing, unexpected, differing)
 * at most `limitPerKind` lines, so a mass difference of one kind cannot hide the others.
 */
export function diffSnapshots(expected: TreeEntry[], actual: TreeEntry[], limitPerKind = 15): string[] {
  const actualByPath = new Map(actual.map((entry) => [entry.path, entry]));
  const expectedPaths = new Set(expected.map((entry) => entry.path));
  const missing: string[] = [];
  const differing: string[] = [];
  for (const entry of expected) {
    const other = actualByPath.get(entry.path);
    if (!other) {
      missing.push(`missing    /${entry.path} (${entry.type})`);
      continue;
    }
    const a = JSON.stringify(entry);
    const b = JSON.stringify(other);
    if (a !== b) differing.push(`differs    /${entry.path}\n  expected ${a}\n  actual   ${b}`);
  }
  const unexpected = actual.filter((entry) => !expectedPaths.has(entry.path)).map((entry) => `unexpected /${entry.path} (${entry.type})`);
  const capped = (lines: string[]): string[] =>
    lines.length > limitPerKind ? [...lines.slice(0, limitPerKind), `... and ${lines.length - limitPerKind} more like this`] : lines;
  return [...capped(differing), ...capped(unexpected), ...capped(missing)];
}
