/**
 * The flush journal: how a batch reaches the upper atomically. Beside the upper, on the same
 * filesystem (FLASH/journal):
 *
 *  1. prepare: every new object (or patch data) is built in journal/batch-SEQ.tmp/objects, the
 *     plan is written as manifest.json with the inode map, and one syncfs makes it all durable.
 *  2. commit: rename batch-SEQ.tmp → batch-SEQ, then syncfs. This rename is the commit point.
 *  3. apply: the manifest's operations, each idempotent, run against the upper; syncfs; the
 *     inode map moves to FLASH/inodes; the batch is removed (durable with the next commit: if a
 *     crash forgets it, recovery applies the batch again, which changes nothing).
 *
 * syncfs instead of an fsync per file and directory: three journal commits per flush instead of
 * dozens, which is most of what a small batch costs the flash.
 *
 * Recovery at start removes uncommitted batches (the upper was never touched by them) and applies
 * committed ones again (idempotence makes a half-applied batch whole). So after a crash at any
 * point the upper is exactly the state after the last committed batch.
 */
import {
  chmodSync,
  closeSync,
  constants as fsc,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  type BigIntStats,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { native } from '../native/index.js';
import { copyObject } from '../overlay/copy-up.js';
import { applyMetadata } from '../overlay/metadata.js';
import { isErrno } from '../overlay/errors.js';
import { isDirStat, isWhiteout, lstatOrNull, makeWhiteout, markOpaque, unescapeXattr } from '../overlay/format.js';
import type { Stub, Stubs } from '../overlay/stubs.js';
import { copyDataPaced } from '../overlay/sparse.js';
import { step } from './crash.js';
import { forgetLinesFor } from './inode-maps.js';
import type { Plan, PlanOp } from './plan.js';

/** Operations as stored: sources are replaced by object names inside the batch. */
type StoredOp =
  | { op: 'remove' | 'whiteout'; path: string }
  | { op: 'put'; path: string; object: string }
  | { op: 'dir'; path: string; object: string; opaque: boolean }
  | { op: 'link'; path: string; target: string }
  | { op: 'meta'; path: string; meta: Meta }
  /**
   * Cut the upper file to `floor` (what a shrink removed reads as zeros again; absent in batches
   * from before floors: no cut), write the object's bytes (the `ranges`' bytes back to back:
   * only what was written) into it in place at `ranges`, then set `size` and the metadata.
   */
  | { op: 'patch'; path: string; object: string; ranges: [number, number][]; floor?: number; size: number; meta: Meta };

interface Meta {
  uid: number;
  gid: number;
  mode: number;
  atimeNs: string;
  mtimeNs: string;
  /** name → hex value; overlayfs's own xattrs are never listed here. */
  xattrs: Record<string, string>;
}

/**
 * The journal format's version. 1: the first format, which carried no version field (read as 1:
 * same operations). 3: a patch may carry a floor (a reader of 2 would ignore it and show bytes a
 * shrink removed). A journal from a newer persist is refused, never guessed at.
 */
export const JOURNAL_VERSION = 3;

interface Manifest {
  version?: number;
  seq: number;
  ops: StoredOp[];
}

export interface FlashPaths {
  upper: string;
  journal: string;
  inodes: string;
}

export function flashPaths(flashDir: string, upper: string): FlashPaths {
  return { upper, journal: join(flashDir, 'journal'), inodes: join(flashDir, 'inodes') };
}

/** Pacing for data written to the flash (the rate limit); resolves when more may be written. */
export type Pace = (bytes: number) => Promise<void>;

export interface PreparedBatch {
  seq: number;
  dir: string;
  bytes: number;
  objects: number;
}

const CHUNK = 1 << 20;

/**
 * Build batch `seq` from `plan` and commit it. `shownIno(vpath)` is the inode number the union
 * shows for a snapshot object; the upper copy keeps it.
 */
export async function prepareBatch(
  paths: FlashPaths,
  seq: number,
  plan: Plan,
  shownIno: (vpath: string, stat: BigIntStats) => number,
  pace: Pace,
  stubs: Stubs,
): Promise<PreparedBatch> {
  mkdirSync(paths.journal, { recursive: true, mode: 0o700 });
  const tmp = join(paths.journal, `batch-${seq}.tmp`);
  const objects = join(tmp, 'objects');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(objects, { recursive: true, mode: 0o700 });
  const stored: StoredOp[] = [];
  const inodeLines: string[] = [];
  const identityByPath = new Map<string, string>();
  let bytes = 0;
  let count = 0;
  for (const op of plan.ops) {
    // The flusher is the upper's only writer: what is there now is what the operation replaces
    // (a patch keeps the object, and so its mapping).
    const replaces = op.op === 'put' || op.op === 'dir' || op.op === 'remove' || op.op === 'whiteout';
    const forget = () => (replaces && op.path !== '/' ? forgetLinesFor(paths.upper + op.path) : []);
    if (op.op === 'put' || op.op === 'dir') {
      const name = String(++count);
      const target = join(objects, name);
      const st = plan.objects.get(op.path)!;
      const stub = op.op === 'put' ? stubs.get(st.ino) : undefined;
      if (op.op === 'put' && stub && patchable(stub, st, paths.upper + op.path)) {
        // Only the changed ranges travel; the upper file keeps its identity (no inode mapping).
        const ranges = stubs.pending(stub).list.map(([a, b]) => [a, b] as [number, number]);
        bytes += 2 * (await buildPatch(op.source, ranges, target, pace)); // journal, then in place
        step();
        stored.push({ op: 'patch', path: op.path, object: name, ranges, floor: stubs.floor(stub), size: stub.size, meta: metaOf(op.source) });
        continue;
      }
      inodeLines.push(...forget());
      bytes += stub && op.op === 'put' ? await buildFromStub(stubs, stub, op.source, target, st, pace) : await buildObject(op, st, target, pace);
      step();
      const built = lstatSync(target, { bigint: true });
      const identity = `u:${built.ino}:${built.birthtimeNs}`;
      inodeLines.push(`${identity} ${shownIno(op.path, st)}`);
      // Multiply linked objects: remember every name, so a later copy-up can keep the links.
      if (st.nlink > 1n && !st.isDirectory()) inodeLines.push(`link\t${identity}\t${op.path}`);
      identityByPath.set(op.path, identity);
      stored.push(op.op === 'put' ? { op: 'put', path: op.path, object: name } : { op: 'dir', path: op.path, object: name, opaque: op.opaque });
    } else {
      inodeLines.push(...forget());
      if (op.op === 'link') inodeLines.push(`link\t${identityByPath.get(op.target)}\t${op.path}`);
      stored.push(toStored(op));
    }
  }
  writeFileSync(join(tmp, 'inodes'), inodeLines.join('\n') + '\n', { mode: 0o600 });
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ version: JOURNAL_VERSION, seq, ops: stored } satisfies Manifest), { mode: 0o600 });
  // One syncfs makes every object and the manifest durable at once (one journal commit, where an
  // fsync per file and directory would cost one each: wear).
  await native.syncfs(tmp);
  step();
  const committed = join(paths.journal, `batch-${seq}`);
  renameSync(tmp, committed);
  await native.syncfs(paths.journal);
  step(); // committed
  return { seq, dir: committed, bytes, objects: count };
}

function toStored(op: Exclude<PlanOp, { op: 'put' | 'dir' }>): StoredOp {
  if (op.op === 'meta') return { op: 'meta', path: op.path, meta: metaOf(op.source) };
  return op;
}

function metaOf(source: string): Meta {
  const st = lstatSync(source, { bigint: true });
  const xattrs: Record<string, string> = {};
  for (const name of listXattrs(source)) {
    if (unescapeXattr(name) !== null) xattrs[name] = native.lgetxattr(source, name).toString('hex');
  }
  return { uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode) & 0o7777, atimeNs: String(st.atimeNs), mtimeNs: String(st.mtimeNs), xattrs };
}

function listXattrs(path: string): string[] {
  try {
    return native.llistxattr(path);
  } catch (err) {
    if (isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
}

/** Copy one snapshot object into the batch; regular files' data extents in paced chunks (holes stay holes). */
async function buildObject(op: PlanOp, st: BigIntStats, target: string, pace: Pace): Promise<number> {
  if (op.op === 'dir') {
    mkdirSync(target, 0o700);
    applyMetadata(op.source, st, target);
    if (op.opaque) markOpaque(target);
    return 0;
  }
  if (op.op !== 'put') return 0;
  if (!st.isFile()) {
    copyObject(op.source, st, target);
    return 0;
  }
  const size = Number(st.size);
  const input = await open(op.source, 'r');
  const output = await open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  let bytes = 0;
  try {
    bytes = await copyDataPaced(input, output, 0, size, pace, Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1))));
    await output.truncate(size);
  } finally {
    await input.close();
    await output.close();
  }
  applyMetadata(op.source, st, target);
  return bytes;
}

/** An upper file can be patched in place when it is still the stub's origin and has one link. */
function patchable(stub: Stub, st: BigIntStats, upperPath: string): boolean {
  if (stub.origin !== upperPath || st.nlink !== 1n) return false;
  const origin = lstatOrNull(upperPath);
  return origin !== null && origin.ino === stub.originIno && origin.nlink === 1n;
}

/**
 * The object of a patch: the changed ranges' bytes, back to back. Only written bytes are changed
 * (a grown tail is not: see stubs.ts), so back to back stores nothing but them, packed into the
 * fewest flash blocks; a sparse object at the same offsets would cost a block per small write.
 */
async function buildPatch(source: string, ranges: [number, number][], target: string, pace: Pace): Promise<number> {
  const input = await open(source, 'r');
  const output = await open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  let at = 0;
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const [start, end] of ranges) {
      for (let pos = start; pos < end; ) {
        const { bytesRead } = await input.read(buf, 0, Math.min(CHUNK, end - pos), pos);
        const n = bytesRead || Math.min(CHUNK, end - pos); // a hole reads as zeros
        if (!bytesRead) buf.fill(0, 0, n);
        await pace(n);
        await output.write(buf, 0, n, at);
        pos += n;
        at += n;
      }
    }
  } finally {
    await input.close();
    await output.close();
  }
  return at;
}

/** A stub that cannot be patched in place is written whole: its data plus the origin's, holes kept. */
async function buildFromStub(stubs: Stubs, stub: Stub, source: string, target: string, st: BigIntStats, pace: Pace): Promise<number> {
  const local = openSync(source, 'r');
  const output = await open(target, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  let bytes = 0;
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const { fd, start, end } of stubs.data(stub, local)) {
      for (let pos = start; pos < end; ) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, end - pos), pos);
        if (n === 0) break;
        await pace(n);
        await output.write(buf, 0, n, pos);
        pos += n;
        bytes += n;
      }
    }
    await output.truncate(stub.size);
  } finally {
    closeSync(local);
    await output.close();
  }
  applyMetadata(source, st, target);
  return bytes;
}


/**
 * A committed batch's manifest, checked. A committed manifest was made durable before the commit
 * rename, so one that does not parse means the flash itself lost data: that is never guessed at.
 * The error says what the operator can do (see README, "A corrupt journal").
 */
function readManifest(batchDir: string): Manifest {
  const file = join(batchDir, 'manifest.json');
  const aside = `${batchDir}.corrupt`;
  const recovery = `to serve the upper as it is (it may hold part of this batch), move the batch aside: mv ${batchDir} ${aside}; ` +
    'or mount the upper read-only with the kernel (mount -t overlay -o lowerdir=UPPER:LOWER) to inspect it';
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    if (!manifest || !Array.isArray(manifest.ops) || typeof manifest.seq !== 'number') throw new SyntaxError('no seq or ops');
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    throw new UserError(`the flush journal's committed batch ${file} is corrupt (${err.message}); persistd will not apply it`, recovery);
  }
  const version = manifest.version ?? 1;
  if (!Number.isInteger(version) || version < 1 || version > JOURNAL_VERSION) {
    throw new UserError(`the flush journal's batch ${file} has format version ${String(manifest.version)}, this persistd reads 1 to ${JOURNAL_VERSION} (written by a newer persist?)`, `run that persist again to finish it, or ${recovery}`);
  }
  return manifest;
}

/** Apply a committed batch to the upper, then retire it. Safe to run again after a crash. */
export async function applyBatch(paths: FlashPaths, batchDir: string): Promise<string> {
  const manifest = readManifest(batchDir);
  const upperPath = (vpath: string) => (vpath === '/' ? paths.upper : paths.upper + vpath);
  for (const op of manifest.ops) {
    const target = upperPath(op.path);
    try {
      applyOp(op, target, join(batchDir, 'objects'), upperPath);
    } catch (err) {
      throw Object.assign(new Error(`batch ${manifest.seq}: ${JSON.stringify(op)}: ${(err as Error).message}`), { code: (err as { code?: string }).code });
    }
    step();
  }
  await native.syncfs(paths.upper); // everything applied is durable before the batch goes
  mkdirSync(paths.inodes, { recursive: true, mode: 0o700 });
  const inodeMap = join(paths.inodes, `batch-${manifest.seq}`);
  if (existsSync(join(batchDir, 'inodes'))) renameSync(join(batchDir, 'inodes'), inodeMap);
  // No syncfs for the retirement: if a crash forgets it, recovery applies the batch once more,
  // which changes nothing. That saves a journal commit per flush.
  rmSync(batchDir, { recursive: true, force: true });
  step();
  return existsSync(inodeMap) ? readFileSync(inodeMap, 'utf8') : '';
}

function applyOp(op: StoredOp, target: string, objects: string, upperPath: (vpath: string) => string): void {
  switch (op.op) {
    case 'remove':
      rmSync(target, { recursive: true, force: true });
      return;
    case 'whiteout': {
      const st = lstatOrNull(target);
      if (st && isWhiteout(st)) return;
      rmSync(target, { recursive: true, force: true });
      makeWhiteout(target);
      return;
    }
    case 'put':
    case 'dir': {
      const object = join(objects, op.object);
      if (!lstatOrNull(object)) return; // moved already: this batch is being applied again
      const st = lstatOrNull(target);
      if (st && (isDirStat(st) || op.op === 'dir')) rmSync(target, { recursive: true, force: true });
      renameSync(object, target);
      return;
    }
    case 'link': {
      const source = upperPath(op.target);
      const st = lstatOrNull(target);
      if (st && st.ino === lstatOrNull(source)?.ino) return;
      if (st) rmSync(target, { recursive: true, force: true });
      linkSync(source, target);
      return;
    }
    case 'meta':
      applyMeta(target, op.meta);
      return;
    case 'patch':
      applyPatch(target, join(objects, op.object), op.ranges, op.size, op.floor);
      applyMeta(target, op.meta);
      return;
  }
}

/**
 * Cut to the floor, write the ranges, set the size. Applied again (recovery) it cuts the same
 * bytes and writes the same ranges: the same result.
 */
function applyPatch(target: string, object: string, ranges: [number, number][], size: number, floor: number | undefined): void {
  const output = openSync(target, 'r+');
  const input = openSync(object, 'r');
  try {
    if (floor !== undefined) ftruncateSync(output, floor);
    const buf = Buffer.allocUnsafe(CHUNK);
    let at = 0;
    for (const [start, end] of ranges) {
      for (let pos = start; pos < end; ) {
        const n = readSync(input, buf, 0, Math.min(CHUNK, end - pos), at);
        if (n === 0) throw new Error(`patch object ${object} is short`);
        writeSync(output, buf, 0, n, pos);
        pos += n;
        at += n;
      }
    }
    ftruncateSync(output, size); // made durable by applyBatch's syncfs, before the batch goes
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

function applyMeta(target: string, meta: Meta): void {
  lchownSync(target, meta.uid, meta.gid);
  chmodSync(target, meta.mode);
  for (const name of listXattrs(target)) {
    if (unescapeXattr(name) !== null && !(name in meta.xattrs)) native.lremovexattr(target, name);
  }
  for (const [name, hex] of Object.entries(meta.xattrs)) native.lsetxattr(target, name, Buffer.from(hex, 'hex'), 0);
  const split = (ns: string) => {
    const value = BigInt(ns);
    return [Number(value / 1_000_000_000n), Number(value % 1_000_000_000n)] as const;
  };
  const [as, an] = split(meta.atimeNs);
  const [ms, mn] = split(meta.mtimeNs);
  native.lutimens(target, as, an, ms, mn);
}

export interface Recovery {
  rolledBack: number[];
  completed: number[];
  /** Highest batch number seen (new batches continue after it). */
  lastSeq: number;
}

/** Finish what a crash interrupted: drop uncommitted batches, apply committed ones. */
export async function recoverJournal(paths: FlashPaths): Promise<Recovery> {
  const recovery: Recovery = { rolledBack: [], completed: [], lastSeq: 0 };
  let names: string[];
  try {
    names = readdirSync(paths.journal);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) names = [];
    else throw err;
  }
  const seqOf = (name: string) => Number(/^batch-(\d+)/.exec(name)?.[1] ?? NaN);
  for (const name of names.filter((n) => n.endsWith('.tmp'))) {
    rmSync(join(paths.journal, name), { recursive: true, force: true });
    recovery.rolledBack.push(seqOf(name));
  }
  const committed = names.filter((n) => /^batch-\d+$/.test(n)).sort((a, b) => seqOf(a) - seqOf(b));
  for (const name of committed) {
    await applyBatch(paths, join(paths.journal, name));
    recovery.completed.push(seqOf(name));
  }
  if (recovery.rolledBack.length > 0) await native.syncfs(paths.journal);
  for (const name of [...names, ...safeList(paths.inodes)]) {
    const seq = seqOf(name);
    if (Number.isFinite(seq)) recovery.lastSeq = Math.max(recovery.lastSeq, seq);
  }
  return recovery;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
