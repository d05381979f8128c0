/**
 * Mounting and unmounting the union with FUSE, with the checks that turn a bad start into one
 * clear line: no /dev/fuse, a missing or stale mountpoint, a mountpoint that is already a mount.
 */
import { accessSync, constants as fsc, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import type { Overlay } from '../overlay/index.js';
import { errnoCode } from '../overlay/index.js';
import { native } from '../native/index.js';
import { createFilesystem, type FuseInstance, type MountOptions } from './filesystem.js';

export interface MountedUnion {
  readonly mountpoint: string;
  /**
   * Resolves when the kernel ended the FUSE session without persistd asking: `umount`,
   * `fusermount -u`, or `umount -l` once the last open file on the mount is closed (until then
   * the kernel keeps the connection and persistd keeps serving those files). Never rejects.
   */
  readonly ended: Promise<void>;
  /** Unmounts; a harmless no-op once the session has ended. */
  unmount(): Promise<void>;
  /**
   * Makes the kernel forget what it cached of `unionPaths` (entries, attributes, pages) after
   * the daemon changed what they show on its own (discard, revert). Without it a reader could
   * see the old pages (auto_cache keeps them while mtime and size match) or a stale entry of
   * the old type for up to entry_timeout. A no-op once the session has ended.
   */
  invalidate(unionPaths: readonly string[]): Promise<void>;
}

/**
 * `reachableAt`: where the mount can be found by path once someone else moved it (the boot moves
 * it onto the real root, out of persistd's chroot); by default its mountpoint.
 */
export async function mountUnion(mountpoint: string, overlay: Overlay, options: MountOptions = {}, reachableAt?: string): Promise<MountedUnion> {
  const target = resolve(mountpoint);
  checkFuseDevice();
  checkMountpoint(target);
  const fuse = createFilesystem(target, overlay, options);
  let asked = false;
  let over = false;
  let endedByKernel = (): void => {};
  const ended = new Promise<void>((done) => (endedByKernel = done));
  // Registered before the mount: the session may end at any moment after it starts.
  native.onSessionEnd(() => {
    over = true;
    if (!asked) endedByKernel();
  });
  await new Promise<void>((done, failed) =>
    fuse.mount((err) => (err ? failed(new UserError(`cannot mount FUSE at ${target}: ${err.message}`, 'is the mountpoint busy?')) : done())),
  );
  return {
    mountpoint: target,
    ended,
    unmount: async () => {
      // For benchmarks and profiles: how many answers the attribute cache gave without JS.
      if (process.env['PERSIST_ATTR_CACHE_STATS'] === '1') console.error(`persistd: attribute cache ${JSON.stringify(native.attrCacheStats())}`);
      if (over) return;
      asked = true;
      await unmountFuse(fuse, target);
    },
    invalidate: async (unionPaths) => {
      if (over || unionPaths.length === 0) return;
      // A trailing slash follows a symbolic link such as /proc/1/root to the mount itself.
      await native.invalidate(reachableAt ? `${reachableAt}/` : target, unionPaths).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOTCONN') throw err;
      });
    },
  };
}

function checkFuseDevice(): void {
  try {
    accessSync('/dev/fuse', fsc.R_OK | fsc.W_OK);
  } catch (err) {
    throw new UserError(`cannot use /dev/fuse (${errnoCode(err) ?? err})`, 'load the module (modprobe fuse) and run persistd as root');
  }
}

function checkMountpoint(target: string): void {
  try {
    if (!statSync(target).isDirectory()) throw new UserError(`the mountpoint ${target} is not a directory`, 'pass an empty directory');
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (errnoCode(err) === 'ENOTCONN') {
      throw new UserError(`the mountpoint ${target} is a stale FUSE mount (its daemon is gone)`, `unmount it first: fusermount -uz ${target}`);
    }
    throw new UserError(`the mountpoint ${target} does not exist`, `create it: mkdir -p ${target}`);
  }
  if (isMountpoint(target)) {
    throw new UserError(`${target} is already a mount point`, `unmount it first (umount ${target}) or pick another directory`);
  }
}

/** True when `path` is the target of a mount in this namespace. */
export function isMountpoint(path: string): boolean {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === path);
}

function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

async function unmountFuse(fuse: FuseInstance, target: string): Promise<void> {
  const viaFuseNative = await new Promise<Error | null>((done) => fuse.unmount(done));
  if (!viaFuseNative || !isMountpoint(target)) return;
  // fuse-native relies on fusermount; the kernel's lazy unmount works without it.
  const result = await execa('umount', ['-l', target], { reject: false });
  if (result.exitCode !== 0 && isMountpoint(target)) {
    throw new UserError(`cannot unmount ${target}: ${result.stderr || viaFuseNative.message}`, `try: umount -l ${target}`);
  }
}
