// A simulated flash device: an ext4 filesystem in an image file, attached to a loop device and
// mounted. The flush tests need a real block device (its /sys/block/loopN/stat counters are what
// the wear accounting reads) and a device whose content can be copied at an instant, which is what
// a power cut leaves behind: whatever the kernel had not yet written to the loop device is lost.

import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { run, tryRun } from './command.js';
import { isMounted, unmountForcefully } from './unmount.js';

export interface FlashImageOptions {
  /** Image size in bytes (the file is sparse). */
  sizeBytes: number;
}

/**
 * Creates `imagePath` (which must not exist) holding a fresh ext4. Inode tables and the journal
 * are initialized now, not lazily by a kernel thread after the first mount, so nothing but the
 * code under test writes to the device while a test watches it. No blocks are reserved for root.
 */
export function createFlashImage(imagePath: string, options: FlashImageOptions): void {
  if (existsSync(imagePath)) throw new Error(`flash image ${imagePath} already exists`);
  run('truncate', ['-s', String(options.sizeBytes), imagePath]);
  run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=0,lazy_journal_init=0', imagePath], { timeoutMs: 120_000 });
}

export interface FlashMount {
  image: string;
  /** e.g. /dev/loop3 */
  loopDevice: string;
  /** e.g. loop3: the name under /sys/block. */
  blockName: string;
  mountpoint: string;
  /** Unmounts and detaches; safe to call more than once (cleanup calls it too). */
  detach(): void;
}

export interface AttachFlashOptions {
  /**
   * Extra ext4 mount options. The default, commit=600, keeps jbd2 from committing on its own
   * timer: the device then changes only when the code under test writes or fsyncs (or the
   * kernel writes back dirty pages), which keeps a copy of the image taken right after a kill
   * close to what a power cut at that instant would leave.
   */
  mountOptions?: string;
}

/** Attaches `imagePath` to a new loop device and mounts its ext4 at `mountpoint`. */
export function attachFlash(cleanup: Cleanup, imagePath: string, mountpoint: string, options: AttachFlashOptions = {}): FlashMount {
  mkdirSync(mountpoint, { recursive: true });
  const imageInode = statSync(imagePath).ino;
  const loopDevice = run('losetup', ['--find', '--show', imagePath]).trim();
  let detached = false;
  const detach = (): void => {
    if (detached) return;
    if (isMounted(mountpoint)) unmountForcefully(mountpoint);
    detachLoopDevice(loopDevice, imageInode);
    detached = true;
  };
  cleanup.add(`detach flash ${loopDevice} (${imagePath})`, detach);
  run('mount', ['-t', 'ext4', '-o', options.mountOptions ?? 'commit=600', loopDevice, mountpoint]);
  return { image: imagePath, loopDevice, blockName: basename(loopDevice), mountpoint, detach };
}

function detachLoopDevice(loopDevice: string, imageInode: number): void {
  // After a detach the kernel may hand the name to someone else's image: compare by inode.
  const backing = tryRun('losetup', ['--noheadings', '--output', 'BACK-INO', loopDevice]);
  if (backing.status !== 0 || Number(backing.stdout.trim()) !== imageInode) return;
  run('losetup', ['-d', loopDevice]);
}

/**
 * Copies an image file (sparse). Taken of an attached device this is the power-cut view: the
 * loop driver's writes are in the host page cache and are read back; what the mounted ext4 still
 * holds in its own page cache is not there.
 */
export function copyImage(source: string, destination: string): void {
  run('cp', ['--sparse=always', source, destination], { timeoutMs: 120_000 });
}

export interface BlockDeviceStat {
  readIos: number;
  readSectors: number;
  writeIos: number;
  writeSectors: number;
}

/** The device's I/O counters (Documentation/block/stat.rst); sectors are 512 bytes. */
export function readBlockDeviceStat(blockName: string): BlockDeviceStat {
  const fields = readFileSync(`/sys/block/${blockName}/stat`, 'utf8').trim().split(/\s+/).map(Number);
  return { readIos: fields[0]!, readSectors: fields[2]!, writeIos: fields[4]!, writeSectors: fields[6]! };
}
