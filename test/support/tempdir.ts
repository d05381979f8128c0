// Temporary directories that are removed in cleanup, but never while something is mounted in
// them: a recursive delete would cross into the mount and destroy (or hang on) what is there.

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { mountsUnder } from './mountinfo.js';

/**
 * Creates a fresh directory under the system temp dir. It is made world-searchable (0755) so that
 * tests running operations as non-root uids can reach mounts placed inside it.
 */
export function makeTempDir(cleanup: Cleanup, prefix = 'persist-test-'): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(directory, 0o755);
  cleanup.add(`remove ${directory}`, () => removeTreeUnlessMounted(directory));
  return directory;
}

export function removeTreeUnlessMounted(directory: string): void {
  const mounts = mountsUnder(directory);
  if (mounts.length > 0) {
    throw new Error(`not removing ${directory}: still mounted: ${mounts.map((m) => m.mountpoint).join(', ')}`);
  }
  rmSync(directory, { recursive: true, force: true });
}
