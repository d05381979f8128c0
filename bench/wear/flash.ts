// The "flash": a fresh ext4 filesystem on a loop device, one per system under test, so that the
// block device's own counters (/sys/block/loopN/stat) say exactly what reached the flash.

import { closeSync, mkdirSync, openSync, readFileSync, statSync, ftruncateSync } from 'node:fs';
import { basename } from 'node:path';
import type { Cleanup } from '../../test/support/cleanup.js';
import { run, tryRun } from '../../test/support/command.js';
import { unmountForcefully } from '../../test/support/unmount.js';

/** The block layer's counters for one device (Documentation/block/stat.rst). */
export interface BlockCounters {
  readIos: number;
  readSectors: number;
  writeIos: number;
  writeMerges: number;
  writeSectors: number;
  discardIos: number;
  discardSectors: number;
  flushIos: number;
}

export interface FlashUsage {
  /** Bytes written to the device (write sectors × 512). */
  bytes: number;
  /** Write requests completed by the device (after merging). */
  requests: number;
  /** Cache-flush requests (fsync barriers); 0 if the kernel does not report them. */
  flushes: number;
  discardBytes: number;
}

export function readCounters(device: string): BlockCounters {
  const fields = readFileSync(`/sys/block/${basename(device)}/stat`, 'utf8').trim().split(/\s+/).map(Number);
  const field = (n: number): number => fields[n - 1] ?? 0;
  return {
    readIos: field(1),
    readSectors: field(3),
    writeIos: field(5),
    writeMerges: field(6),
    writeSectors: field(7),
    discardIos: field(12),
    discardSectors: field(14),
    flushIos: field(16),
  };
}

export function usageBetween(before: BlockCounters, after: BlockCounters): FlashUsage {
  return {
    bytes: (after.writeSectors - before.writeSectors) * 512,
    requests: after.writeIos - before.writeIos,
    flushes: after.flushIos - before.flushIos,
    discardBytes: (after.discardSectors - before.discardSectors) * 512,
  };
}

export interface Flash {
  image: string;
  device: string;
  mountpoint: string;
  /** Syncs and unmounts the filesystem (idempotent), so everything bound for the device is on it. */
  unmount(): void;
}

export interface FlashOptions {
  sizeMiB: number;
  /** ext4 mount options, e.g. "noatime". */
  mountOptions: string;
}

/**
 * Creates a sparse image, attaches it to a loop device, makes ext4 on it (inode tables and journal
 * initialized now, so no lazy-init thread writes during the measurement) and mounts it.
 */
export function createFlash(cleanup: Cleanup, image: string, mountpoint: string, options: FlashOptions): Flash {
  const fd = openSync(image, 'wx');
  try {
    ftruncateSync(fd, options.sizeMiB * 1024 * 1024);
  } finally {
    closeSync(fd);
  }
  const imageInode = statSync(image).ino;
  const device = run('losetup', ['--find', '--show', image]).trim();
  cleanup.add(`detach ${device}`, () => detachLoop(device, imageInode));
  run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device], { timeoutMs: 120_000 });
  mkdirSync(mountpoint, { recursive: true });
  run('mount', ['-t', 'ext4', '-o', options.mountOptions, device, mountpoint]);
  cleanup.add(`unmount flash ${mountpoint}`, () => unmountForcefully(mountpoint));
  let mounted = true;
  return {
    image,
    device,
    mountpoint,
    unmount(): void {
      if (!mounted) return;
      run('sync', ['-f', mountpoint]);
      run('umount', [mountpoint], { timeoutMs: 60_000 });
      mounted = false;
    },
  };
}

function detachLoop(device: string, imageInode: number): void {
  // The kernel may hand the name to someone else after a detach: only detach our own image.
  const backing = tryRun('losetup', ['--noheadings', '--output', 'BACK-INO', device]);
  if (backing.status !== 0 || Number(backing.stdout.trim()) !== imageInode) return;
  run('losetup', ['-d', device]);
}
