// A private tmpfs per test run: upper and work dirs must share one filesystem, and tmpfs on this
// kernel supports the trusted.* xattrs (overlay metadata) and user.* xattrs the tests use.

import { mkdirSync } from 'node:fs';
import type { Cleanup } from './cleanup.js';
import { run } from './command.js';
import { unmountForcefully } from './unmount.js';

export interface TmpfsOptions {
  /** tmpfs size= option, e.g. "256m". */
  size?: string;
  /** tmpfs nr_inodes= option: how many files and directories it can hold. */
  inodes?: number;
}

/** Mounts a fresh tmpfs (root dir mode 0755) at `mountpoint`, creating the directory. */
export function mountTmpfs(cleanup: Cleanup, mountpoint: string, options: TmpfsOptions = {}): string {
  mkdirSync(mountpoint, { recursive: true });
  const inodes = options.inodes ? `,nr_inodes=${options.inodes}` : '';
  run('mount', ['-t', 'tmpfs', '-o', `mode=0755,size=${options.size ?? '256m'}${inodes}`, 'tmpfs', mountpoint]);
  cleanup.add(`unmount tmpfs ${mountpoint}`, () => unmountForcefully(mountpoint));
  return mountpoint;
}
