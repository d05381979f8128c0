/**
 * The native helper (native/persist_native.c): system calls Node.js lacks (xattrs, mknod,
 * nanosecond utimens, statvfs, lseek with SEEK_DATA/SEEK_HOLE) and the fuse_new interposer that
 * the FUSE adapter relies on.
 * It is loaded RTLD_GLOBAL so that fuse-native, loaded after it, binds fuse_new to our wrapper.
 */
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface NativeHelper {
  /** Turns on the fuse_new wrapper; returns the buffer behind the shared request/reply slots. */
  interpose(): ArrayBuffer;
  /**
   * `callback(status)` runs once the wrapped FUSE session's loop has returned: the kernel ended
   * the session (our unmount, or an external umount / fusermount -u / lazy unmount). Does not
   * keep the process alive; a later call replaces the callback.
   */
  onSessionEnd(callback: (status: number) => void): void;
  lgetxattr(path: string, name: string): Buffer;
  llistxattr(path: string): string[];
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void;
  lremovexattr(path: string, name: string): void;
  mknod(path: string, mode: number, rdev: number): void;
  lutimens(path: string, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  /** syncfs(2) of the filesystem holding `path`, on the thread pool: one journal commit. */
  syncfs(path: string): Promise<void>;
  /** renameat2(2) with RENAME_* flags. */
  rename2(from: string, to: string, flags: number): void;
  /** [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax] */
  statvfs(path: string): number[];
  /** lseek(2): the new offset, or -1 when SEEK_DATA/SEEK_HOLE find nothing at or after `offset`
   * (ENXIO); other failures throw (EINVAL: the filesystem cannot tell holes from data). */
  lseek(fd: number, offset: number, whence: number): number;
  /** fallocate(PUNCH_HOLE | KEEP_SIZE): the range's pages are freed and read as zeros. */
  punchHole(fd: number, offset: number, length: number): void;
  /** getsockopt(SO_PEERCRED) of a connected Unix socket: the peer as it was at connect(). */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /**
   * Tells the kernel that `unionPaths` changed under the FUSE mount at `mountpoint` without a
   * request through it (discard, revert): their cached entries, attributes and pages are dropped
   * (notify_inval_entry and notify_inval_inode on the session). Runs on the thread pool, since
   * finding the kernel's node ids walks the paths through the mount. Resolves with how many
   * paths the kernel had cached; rejects ENOTCONN when no session of ours is mounted.
   */
  invalidate(mountpoint: string, unionPaths: readonly string[]): Promise<number>;
  /**
   * The attribute cache (native/attr_cache.c) answers repeated getattr, lookup and getxattr of
   * a union path on the FUSE thread. Every FUSE operation that changes something forgets it
   * already; the daemon calls this whenever it changes what a path shows by itself.
   */
  bumpAttrCache(): void;
  /** Like bumpAttrCache, when only what `unionPath` shows changed (a listing moved its atime). */
  forgetAttr(unionPath: string): void;
  /**
   * The kernel keeps attributes of what only changes through us (native/kernel_cache.c); these
   * tell it that such an object changed (a copy-up), or that every directory may have (a change
   * of the layer stack). Both also forget the attribute cache.
   */
  kernelForgetInode(ino: number): void;
  kernelForgetDirectories(): void;
  /** On by default; off, every answer comes from JS (PERSIST_ATTR_CACHE=0, A/B runs). */
  enableAttrCache(on: boolean): void;
  attrCacheStats(): { statHits: number; statMisses: number; xattrHits: number; xattrMisses: number; generation: number; kernelNodes: number };
}

const modulePath = fileURLToPath(new URL('../../../build/persist_native.node', import.meta.url));

function load(): NativeHelper {
  const module = { exports: {} as NativeHelper };
  try {
    process.dlopen(module, modulePath, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
  } catch (err) {
    throw new Error(`cannot load ${modulePath} (${(err as Error).message}); run: npm run build`);
  }
  return module.exports;
}

export const native: NativeHelper = load();

/** lseek(2) whence values for finding data and holes (Linux). */
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

/** utimensat's special nanosecond values, as the kernel passes them through FUSE. */
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;
