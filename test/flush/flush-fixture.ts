// Shared pieces of the flush tests: a squashfs lower built from a description, an ext4 flash on a
// loop device, fresh stage directories, shell scripts run against the mount from a child process,
// and the oracle view of a persisted upper: kernel overlayfs over the same lowers.

import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, chmodSync, symlinkSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { mountKernelOverlay } from '../support/overlayfs.js';
import { buildSquashfs, mountSquashfs } from '../support/squashfs.js';
import { allXattrs, diffSnapshots, snapshotTree, type TreeEntry } from '../support/tree-snapshot.js';
import { attachFlash, createFlashImage, type FlashMount } from '../support/flash-image.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { auditUpper } from '../support/upper-audit.js';
import { setXattr } from '../support/xattr-cli.js';
import { mulberry32 } from '../support/mulberry32.js';

export interface LowerEntry {
  path: string;
  /** Regular file content; a directory when both content and symlink are absent. */
  content?: string | Buffer;
  symlink?: string;
  mode?: number;
  xattrs?: Record<string, string>;
}

/** Builds a squashfs from `entries` under `dir` and mounts it read-only at dir/lower. */
export function buildLower(cleanup: Cleanup, dir: string, entries: readonly LowerEntry[]): string {
  const tree = join(dir, 'lower-tree');
  mkdirSync(tree, { recursive: true });
  for (const entry of entries) {
    const path = join(tree, entry.path);
    mkdirSync(dirname(path), { recursive: true });
    if (entry.symlink !== undefined) symlinkSync(entry.symlink, path);
    else if (entry.content !== undefined) writeFileSync(path, entry.content);
    else mkdirSync(path, { recursive: true });
    if (entry.mode !== undefined) chmodSync(path, entry.mode);
    for (const [name, value] of Object.entries(entry.xattrs ?? {})) setXattr({ path }, name, Buffer.from(value));
  }
  // A squashfs without any xattr fails listxattr with EOPNOTSUPP (and so does a union over it),
  // which snapshotTree cannot read: one attribute gives the image an xattr table.
  writeFileSync(join(tree, '.xattr-anchor'), '');
  setXattr({ path: join(tree, '.xattr-anchor') }, 'user.anchor', Buffer.from('lower'));
  buildSquashfs(tree, join(dir, 'lower.sqfs'));
  return mountSquashfs(cleanup, join(dir, 'lower.sqfs'), join(dir, 'lower')).mountpoint;
}

/**
 * Runs a POSIX shell script with the mount as its working directory, in a child process with a
 * timeout (a hung daemon fails the test instead of hanging it).
 */
export function inMount(mountpoint: string, script: string, timeoutMs = 120_000): string {
  return run('sh', ['-euc', `cd '${mountpoint}'\n${script}`], { timeoutMs });
}

/** The usual staged setup: a squashfs lower, a tmpfs for stages, an ext4 flash, a mountpoint. */
export interface StagedFlash {
  dir: string;
  lowers: string[];
  stages: StageDirs;
  flash: FlashMount;
  /** FLASH/upper, for --upper. */
  upper: string;
  mountpoint: string;
}

export function prepareStagedFlash(
  cleanup: Cleanup,
  lower: readonly LowerEntry[],
  sizes: { flashMiB: number; stageMiB: number },
): StagedFlash {
  const dir = makeTempDir(cleanup);
  const lowers = [buildLower(cleanup, dir, lower)];
  const stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: `${sizes.stageMiB}m` }));
  createFlashImage(join(dir, 'flash.img'), { sizeBytes: sizes.flashMiB * 1024 * 1024 });
  const flash = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'));
  const mountpoint = join(dir, 'mnt');
  mkdirSync(mountpoint);
  return { dir, lowers, stages, flash, upper: join(flash.mountpoint, 'upper'), mountpoint };
}

/** A new empty directory for the next daemon's stage (the previous one is deleted). */
export class StageDirs {
  private count = 0;
  private current: string | undefined;

  constructor(private readonly tmpfsRoot: string) {}

  next(): string {
    if (this.current) rmSync(this.current, { recursive: true, force: true });
    this.current = join(this.tmpfsRoot, `stage-${++this.count}`);
    mkdirSync(this.current);
    return this.current;
  }
}

/**
 * What kernel overlayfs shows for `lowers` under FLASH/upper: the oracle for a persisted state.
 * Mounts with a fresh work dir on the flash (kernel overlayfs needs it on the upper's filesystem),
 * snapshots, unmounts and removes the work dir again. Throws if the kernel refuses the upper.
 */
export async function kernelView(flashRoot: string, lowers: readonly string[], viewMountpoint: string): Promise<TreeEntry[]> {
  const work = join(flashRoot, 'kernel-check-work');
  rmSync(work, { recursive: true, force: true });
  const local = new Cleanup();
  try {
    mountKernelOverlay(local, { lowers, upper: join(flashRoot, 'upper'), work }, viewMountpoint);
    return snapshotTree(viewMountpoint);
  } finally {
    const failures = await local.runAll();
    rmSync(work, { recursive: true, force: true });
    if (failures.length > 0) throw new Error(`kernel overlay view cleanup failed: ${failures.join('; ')}`);
  }
}

/** Format problems of FLASH/upper (kernel overlayfs format, nothing else inside). */
export function auditFlashUpper(flashRoot: string, appXattrs: readonly string[]): string[] {
  const upper = join(flashRoot, 'upper');
  if (!existsSync(upper)) return [`${upper} does not exist`];
  return auditUpper(snapshotTree(upper, allXattrs), appXattrs);
}

export type Verdict = 'pre' | 'post' | 'neither';

/** Which expected state `actual` equals exactly, with the differences to both when neither. */
export function classify(actual: TreeEntry[], pre: TreeEntry[], post: TreeEntry[]): { verdict: Verdict; detail: string } {
  const toPre = diffSnapshots(pre, actual);
  if (toPre.length === 0) return { verdict: 'pre', detail: '' };
  const toPost = diffSnapshots(post, actual);
  if (toPost.length === 0) return { verdict: 'post', detail: '' };
  return {
    verdict: 'neither',
    detail: `differences to the pre-batch state:\n${toPre.join('\n')}\ndifferences to the post-batch state:\n${toPost.join('\n')}`,
  };
}

/** Fails with the differences if the two snapshots differ. */
export function sameTree(expected: TreeEntry[], actual: TreeEntry[], what: string): void {
  const differences = diffSnapshots(expected, actual);
  if (differences.length > 0) throw new Error(`${what}:\n${differences.join('\n')}`);
}

/** Seeded PRNG: test iterations are reproducible from the printed seed. */
export const prng = mulberry32;

/** Deterministic pseudo-random bytes (content that does not compress or dedupe by accident). */
export function patternBytes(seed: number, length: number): Buffer {
  const random = prng(seed);
  const buffer = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += 4) buffer.writeUInt32LE((random() * 2 ** 32) >>> 0, Math.min(offset, length - 4));
  return buffer;
}

export function environmentNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`);
  return value;
}

/** sha256 of a file, read by a child process (safe for files inside a FUSE mount). */
export function sha256Of(path: string): string {
  return run('sha256sum', [path]).split(' ')[0]!;
}

/** `count` files f0…f(count-1) of `bytes` pattern bytes each in `dir`; returns name → sha256. */
export function writeSourceFiles(dir: string, count: number, bytes: number, seedBase: number): Map<string, string> {
  mkdirSync(dir);
  const digests = new Map<string, string>();
  for (let index = 0; index < count; index++) {
    const content = patternBytes(seedBase + index, bytes);
    writeFileSync(join(dir, `f${index}`), content);
    digests.set(`f${index}`, createHash('sha256').update(content).digest('hex'));
  }
  return digests;
}
