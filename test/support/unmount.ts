// Getting rid of a mount no matter what state it is in. A hung FUSE daemon makes a plain umount
// block or fail with EBUSY, so FUSE mounts get their connection aborted first (every request then
// fails with ENOTCONN and nothing waits on the daemon any more), then a lazy unmount detaches it.

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tryRun } from './command.js';
import { findMount, type MountEntry } from './mountinfo.js';

const FUSE_CONNECTIONS = '/sys/fs/fuse/connections';

export function isMounted(mountpoint: string): boolean {
  return findMount(mountpoint) !== undefined;
}

function isFuse(entry: MountEntry): boolean {
  return entry.fstype === 'fuse' || entry.fstype.startsWith('fuse.');
}

/** Writes to .../connections/N/abort, mounting fusectl for the moment if it is not mounted. */
export function abortFuseConnection(connection: number): void {
  let mountedFusectl = false;
  if (existsSync(FUSE_CONNECTIONS) && readdirSync(FUSE_CONNECTIONS).length === 0 && !findMount(FUSE_CONNECTIONS)) {
    // Another test run may mount it at the same moment: then it is theirs to unmount.
    mountedFusectl = tryRun('mount', ['-t', 'fusectl', 'fusectl', FUSE_CONNECTIONS]).status === 0;
  }
  try {
    const abortFile = `${FUSE_CONNECTIONS}/${connection}/abort`;
    if (existsSync(abortFile)) writeFileSync(abortFile, '1');
  } finally {
    if (mountedFusectl) tryRun('umount', [FUSE_CONNECTIONS]);
  }
}

/**
 * Unmounts every mount stacked at `mountpoint`. Tries a clean umount first; for FUSE (or when
 * `abortFuse` is set because the daemon is known to be dead or stuck) aborts the connection and
 * detaches lazily. Throws only if something is still mounted afterwards.
 */
export function unmountForcefully(mountpoint: string, options: { abortFuse?: boolean } = {}): void {
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = findMount(mountpoint);
    if (!entry) return;
    const fuse = isFuse(entry);
    if (fuse && options.abortFuse) abortFuseConnection(entry.minor);
    if (tryRun('umount', [entry.mountpoint], { timeoutMs: 10_000 }).status === 0) continue;
    if (fuse) {
      abortFuseConnection(entry.minor);
      if (tryRun('fusermount', ['-uz', entry.mountpoint], { timeoutMs: 10_000 }).status === 0) continue;
    }
    tryRun('umount', ['-l', entry.mountpoint], { timeoutMs: 10_000 });
  }
  if (isMounted(mountpoint)) throw new Error(`${mountpoint} is still mounted after repeated unmount attempts`);
}
