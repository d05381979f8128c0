/**
 * The journal's on-flash format: the operations a batch stores, its manifest (versioned) and the
 * paths beside the upper. How the journal works as a whole: ./index.ts.
 */
import {
  lstatSync,
  readFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { native } from '../../native/index.js';
import { isErrno } from '../../overlay/errors.js';
import { unescapeXattr } from '../../overlay/format.js';

/** Operations as stored: sources are replaced by object names inside the batch. */
export type StoredOp =
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

export interface Meta {
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

export interface Manifest {
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

export type { Pace } from '../../overlay/sparse.js';

export interface PreparedBatch {
  seq: number;
  dir: string;
  bytes: number;
  objects: number;
  /** Of `bytes`, what each union path cost (for the control plane's "who wears my flash"). */
  bytesByPath: Map<string, number>;
}

export const CHUNK = 1 << 20;

export function metaOf(source: string): Meta {
  const st = lstatSync(source, { bigint: true });
  const xattrs: Record<string, string> = {};
  for (const name of listXattrs(source)) {
    if (unescapeXattr(name) !== null) xattrs[name] = native.lgetxattr(source, name).toString('hex');
  }
  return { uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode) & 0o7777, atimeNs: String(st.atimeNs), mtimeNs: String(st.mtimeNs), xattrs };
}

export function listXattrs(path: string): string[] {
  try {
    return native.llistxattr(path);
  } catch (err) {
    if (isErrno(err, 'EOPNOTSUPP')) return [];
    throw err;
  }
}

/**
 * A committed batch's manifest, checked. A committed manifest was made durable before the commit
 * rename, so one that does not parse means the flash itself lost data: that is never guessed at.
 * The error says what the operator can do (see README, "A corrupt journal").
 */
export function readManifest(batchDir: string): Manifest {
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
