/**
 * The factory reset's second phase, at boot, before anything uses the flash: when the marker
 * (src/daemon/reset.ts) is there, everything persist keeps on the flash (the upper, the journal,
 * the state) is removed, then the marker. The marker goes last and every step is idempotent, so
 * a wipe cut short by a power cut simply runs again at the next boot.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { RESET_MARKER, resetMarkerPath, resetPending } from '../daemon/reset.js';
import { native } from '../native/index.js';

/** Kept: the marker itself until the end, and what the filesystem owns. */
const KEEP = new Set([RESET_MARKER, `${RESET_MARKER}.tmp`, 'lost+found']);

/** Wipes `flashDir` if a reset is pending; returns a line for the console, or null. */
export async function finishPendingReset(flashDir: string, log: (line: string) => void): Promise<string | null> {
  if (!resetPending(flashDir)) return null;
  const marker = resetMarkerPath(flashDir);
  const previous = readPhase(marker);
  // Say that the wipe has begun (an interrupted one is told apart at the next boot).
  writeFileSync(`${marker}.tmp`, `${JSON.stringify({ version: 1, phase: 'wiping', started: new Date().toISOString() })}\n`);
  syncFile(`${marker}.tmp`);
  renameSync(`${marker}.tmp`, marker);
  syncFile(flashDir);
  const entries = readdirSync(flashDir).filter((name) => !KEEP.has(name));
  log(`persist: factory reset: wiping ${entries.length} entries on the flash${previous === 'wiping' ? ' (resuming an interrupted wipe)' : ''}`);
  for (const name of entries) rmSync(join(flashDir, name), { recursive: true, force: true });
  await native.syncfs(flashDir); // every removal durable before the marker goes
  rmSync(marker, { force: true });
  await native.syncfs(flashDir);
  return `persist: factory reset done: the flash holds no changes; this boot is the factory state`;
}

function readPhase(marker: string): string | null {
  try {
    return (JSON.parse(readFileSync(marker, 'utf8')) as { phase?: string }).phase ?? null;
  } catch {
    return null; // a torn marker still means "reset"
  }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
