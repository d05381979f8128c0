/**
 * The kernel overlayfs on-disk format: whiteouts are character devices 0/0, opaque directories
 * carry trusted.overlay.opaque="y". Read-only layers may also use the aufs/OCI form
 * (`.wh.NAME` files and a `.wh..wh..opq` marker), which we read but never write.
 */
import { lstatSync, type BigIntStats } from 'node:fs';
import { native } from '../native/index.js';
import { isErrno } from './errors.js';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';
export const AUFS_WHITEOUT_PREFIX = '.wh.';
export const AUFS_OPAQUE_MARKER = '.wh..wh..opq';
/** xattrs overlayfs keeps to itself. */
export const PRIVATE_XATTR_PREFIX = 'trusted.overlay.';
/**
 * A user's own trusted.overlay.NAME is stored escaped as trusted.overlay.overlay.NAME (as the
 * kernel does since 6.7, so that overlays can nest); unescaped ones are never shown.
 */
const ESCAPED_XATTR_PREFIX = 'trusted.overlay.overlay.';

/** The name stored in a layer for the name the union shows. */
export function escapeXattr(name: string): string {
  return name.startsWith(PRIVATE_XATTR_PREFIX) ? ESCAPED_XATTR_PREFIX + name.slice(PRIVATE_XATTR_PREFIX.length) : name;
}

/** The name the union shows for a stored name, or null for overlayfs's own. */
export function unescapeXattr(stored: string): string | null {
  if (!stored.startsWith(PRIVATE_XATTR_PREFIX)) return stored;
  if (!stored.startsWith(ESCAPED_XATTR_PREFIX)) return null;
  return PRIVATE_XATTR_PREFIX + stored.slice(ESCAPED_XATTR_PREFIX.length);
}

const S_IFMT = 0o170000n;
const S_IFCHR = 0o020000n;
const S_IFDIR = 0o040000n;

export function isWhiteout(st: BigIntStats): boolean {
  return (st.mode & S_IFMT) === S_IFCHR && st.rdev === 0n;
}

export function isDirStat(st: BigIntStats): boolean {
  return (st.mode & S_IFMT) === S_IFDIR;
}

export function lstatOrNull(path: string): BigIntStats | null {
  try {
    // throwIfNoEntry: a missing name is the common case here (every lookup of a lower file asks
    // the upper first), and a thrown error costs microseconds to build.
    return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch (err) {
    // A name too long for this layer cannot be in it (the .wh. form adds four bytes).
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ENAMETOOLONG')) return null;
    throw err;
  }
}

export function hasOpaqueXattr(realDir: string): boolean {
  try {
    return native.lgetxattr(realDir, OPAQUE_XATTR).toString() === 'y';
  } catch {
    return false;
  }
}

/** Opaque in either form; the aufs marker only counts in read-only layers. */
export function isOpaqueDir(realDir: string, readsAufs: boolean): boolean {
  return hasOpaqueXattr(realDir) || (readsAufs && lstatOrNull(`${realDir}/${AUFS_OPAQUE_MARKER}`) !== null);
}

export function makeWhiteout(realPath: string): void {
  native.mknod(realPath, 0o020000, 0);
}

export function markOpaque(realDir: string): void {
  native.lsetxattr(realDir, OPAQUE_XATTR, Buffer.from('y'), 0);
}
