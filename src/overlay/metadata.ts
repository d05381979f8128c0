/**
 * The metadata copier that copy-up, freeze, flush plans and the journal share: owner, mode,
 * xattrs (except overlayfs's own) and times to the nanosecond, in the order that keeps them all.
 */
import { chmodSync, constants as fsc, lchownSync, type BigIntStats } from 'node:fs';
import { native } from '../native/index.js';
import { isErrno } from './errors.js';
import { lstatOrNull, unescapeXattr } from './format.js';

const S_IFMT = 0o170000;
const PERMISSION_BITS = 0o7777;

/** Owner, mode, xattrs and times of `src` (lstat `st`) onto `dst`, in the order that keeps them. */
export function applyMetadata(src: string, st: BigIntStats, dst: string): void {
  // chown clears setuid/setgid and security.capability, so it goes first.
  lchownSync(dst, Number(st.uid), Number(st.gid));
  if ((Number(st.mode) & S_IFMT) !== fsc.S_IFLNK) chmodSync(dst, Number(st.mode) & PERMISSION_BITS);
  copyXattrs(src, dst);
  setTimes(dst, st);
}

/** Give existing `dst` the metadata of `src` (e.g. a new stage root that stands for the old). */
export function copyMetadata(src: string, dst: string): void {
  const st = lstatOrNull(src);
  if (st) applyMetadata(src, st, dst);
}

export function copyXattrs(src: string, dst: string): void {
  let names: string[];
  try {
    names = native.llistxattr(src);
  } catch (err) {
    if (isErrno(err, 'EOPNOTSUPP')) return; // e.g. a squashfs built without xattrs
    throw err;
  }
  for (const name of names) {
    if (unescapeXattr(name) === null) continue; // overlayfs's own (opaque, origin, ...)
    native.lsetxattr(dst, name, native.lgetxattr(src, name), 0);
  }
}

/** Set atime/mtime from a stat, to the nanosecond, without following a symlink. */
export function setTimes(path: string, st: BigIntStats): void {
  native.lutimens(
    path,
    Number(st.atimeNs / 1_000_000_000n),
    Number(st.atimeNs % 1_000_000_000n),
    Number(st.mtimeNs / 1_000_000_000n),
    Number(st.mtimeNs % 1_000_000_000n),
  );
}
