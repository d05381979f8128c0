/**
 * Prepare and commit: a batch's objects and manifest are built in journal/batch-SEQ.tmp and made
 * durable by one syncfs; the rename to batch-SEQ (and a second syncfs) is the commit point.
 */
import {
  closeSync,
  constants as fsc,
  openSync,
  readSync,
  lstatSync,
  mkdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  type BigIntStats,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { copyObject } from '../../overlay/copy-up.js';
import { applyMetadata } from '../../overlay/metadata.js';
import { lstatOrNull, markOpaque } from '../../overlay/format.js';
import type { Stub, Stubs } from '../../overlay/stubs.js';
import { copyDataPaced } from '../../overlay/sparse.js';
import { step } from '../crash.js';
import { forgetLinesFor } from '../inode-maps.js';
import type { Plan, PlanOp } from '../plan.js';
import { CHUNK, JOURNAL_VERSION, metaOf, type FlashPaths, type Manifest, type Pace, type PreparedBatch, type StoredOp } from './format.js';

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
  const bytesByPath = new Map<string, number>();
  for (const op of plan.ops) {
    const before = bytes;
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
        bytesByPath.set(op.path, bytes - before);
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
      if (bytes > before) bytesByPath.set(op.path, bytes - before);
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
  return { seq, dir: committed, bytes, objects: count, bytesByPath };
}

function toStored(op: Exclude<PlanOp, { op: 'put' | 'dir' }>): StoredOp {
  if (op.op === 'meta') return { op: 'meta', path: op.path, meta: metaOf(op.source) };
  return op;
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
