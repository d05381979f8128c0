/**
 * The factory reset's first phase: a marker beside the upper, on the flash, that the boot code
 * acts on (it wipes the upper before mounting it, and finishes an interrupted wipe: DESIGN.md).
 * Written durably (temp file, fsync, rename, fsync of the directory) so that a power cut right
 * after "reset scheduled" still resets.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const RESET_MARKER = 'reset-pending';

export function resetMarkerPath(flashDir: string): string {
  return join(flashDir, RESET_MARKER);
}

export function resetPending(flashDir: string): boolean {
  return existsSync(resetMarkerPath(flashDir));
}

export function scheduleReset(flashDir: string, requestedBy: string): string {
  const marker = resetMarkerPath(flashDir);
  const tmp = `${marker}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ version: 1, phase: 'scheduled', requested: new Date().toISOString(), by: requestedBy })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, marker);
  const dir = openSync(flashDir, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return marker;
}
