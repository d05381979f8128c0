// The production lower layer is a loop-mounted squashfs, so tests build one from a directory.
// Owners, modes and xattrs (incl. security.capability) are kept: no -all-root, explicit -xattrs.

import { existsSync, mkdirSync, statSync } from 'node:fs';
import type { Cleanup } from './cleanup.js';
import { run, tryRun } from './command.js';
import { unmountForcefully } from './unmount.js';

/** Builds `imagePath` (which must not exist yet, so nothing is appended) from `sourceDir`. */
export function buildSquashfs(sourceDir: string, imagePath: string): void {
  if (existsSync(imagePath)) throw new Error(`squashfs image ${imagePath} already exists`);
  run('mksquashfs', [sourceDir, imagePath, '-xattrs', '-no-progress', '-quiet'], { timeoutMs: 120_000 });
}

export interface LoopMount {
  mountpoint: string;
  loopDevice: string;
}

/**
 * Attaches the image to a read-only loop device and mounts it read-only. The loop device is
 * attached explicitly (rather than `mount -o loop`) so its name is known before mounting and
 * cleanup can detach it even when the mount itself fails.
 */
export function mountSquashfs(cleanup: Cleanup, imagePath: string, mountpoint: string): LoopMount {
  mkdirSync(mountpoint, { recursive: true });
  const image = statSync(imagePath);
  const loopDevice = run('losetup', ['--find', '--show', '--read-only', imagePath]).trim();
  cleanup.add(`detach ${loopDevice}`, () => detachLoopDevice(loopDevice, image.ino));
  run('mount', ['-t', 'squashfs', '-o', 'ro', loopDevice, mountpoint]);
  cleanup.add(`unmount squashfs ${mountpoint}`, () => unmountForcefully(mountpoint));
  return { mountpoint, loopDevice };
}

function detachLoopDevice(loopDevice: string, imageInode: number): void {
  // Only detach if the device still backs our image: after a detach the kernel may reuse the name
  // for someone else's image. Compared by inode, since the path is gone once the filesystem
  // holding the image has been detached lazily.
  const backing = tryRun('losetup', ['--noheadings', '--output', 'BACK-INO', loopDevice]);
  if (backing.status !== 0 || Number(backing.stdout.trim()) !== imageInode) return;
  run('losetup', ['-d', loopDevice]);
}
