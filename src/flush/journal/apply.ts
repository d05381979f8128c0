/**
 * Apply: a committed batch's operations, each idempotent, run against the upper; one syncfs; the
 * inode map moves to FLASH/inodes and the batch is retired. Safe to run again after a crash.
 */
import {
  chmodSync,
  closeSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
  existsSync,
  lchownSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { isDirStat, isWhiteout, lstatOrNull, makeWhiteout, unescapeXattr } from '../../overlay/format.js';
import { step } from '../crash.js';
import { CHUNK, listXattrs, readManifest, type FlashPaths, type Meta, type StoredOp } from './format.js';

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
