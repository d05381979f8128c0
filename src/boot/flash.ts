/**
 * The flash at boot: find the upper's device (by label, UUID or path, waiting for it to appear),
 * create its filesystem on first boot if the profile allows it, check it, mount it, and mount an
 * image file on it when the profile names one. Every way this can fail is an outcome with a
 * reason, never an exception: the caller falls back (a read-only upper, or a volatile boot).
 */
import { existsSync, mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { UpperLayer } from '../profile/index.js';
import { run, runOk } from './commands.js';

export type DeviceUpper = Extract<UpperLayer, { kind: 'device' }>;

export type FlashOutcome =
  /** Mounted read-write at `flashDir`; `notes` say what was done (formatted, repaired). */
  | { kind: 'mounted'; flashDir: string; notes: string[] }
  /** Mounted read-only: its changes are shown, new ones stay in RAM. */
  | { kind: 'read-only'; flashDir: string; reason: string; notes: string[] }
  | { kind: 'failed'; reason: string; notes: string[] };

export interface FlashOptions {
  /** Where the device's filesystem is mounted. */
  mountDir: string;
  /** Where an image file on it is mounted (layers.upper.image). */
  imageDir: string;
  /** How long to wait for the device to appear (USB sticks and SD cards come late). */
  waitMs?: number;
  /** Below this much free space the flash counts as full. */
  minFreeBytes?: number;
}

const DEFAULT_WAIT_MS = 10_000;
const DEFAULT_MIN_FREE = 1024 * 1024;

export async function prepareFlash(upper: DeviceUpper, options: FlashOptions): Promise<FlashOutcome> {
  const notes: string[] = [];
  const device = await findDevice(upper, options.waitMs ?? DEFAULT_WAIT_MS);
  if (!device.path) return { kind: 'failed', reason: device.why, notes };
  const dev = device.path;

  let fstype = await filesystemType(dev);
  if (!fstype) {
    if (upper.format !== 'first-boot') {
      return { kind: 'failed', reason: `${dev} holds no filesystem (set layers.upper.format: first-boot to create one on first boot)`, notes };
    }
    await makeFilesystem(dev, upper.fstype);
    notes.push(`created ${upper.fstype} on ${dev} (first boot)`);
    fstype = upper.fstype;
  }
  const mounted = await checkAndMount(dev, fstype, options.mountDir, notes);
  if (mounted.kind === 'failed') return { ...mounted, notes };

  let flashDir = options.mountDir;
  let readOnly: string | null = mounted.kind === 'read-only' ? mounted.reason : null;
  if (upper.image) {
    const image = join(options.mountDir, upper.image);
    if (!existsSync(image)) return { kind: 'failed', reason: `no image file ${upper.image} on ${dev}`, notes };
    const inner = await checkAndMount(image, (await filesystemType(image)) ?? 'ext4', options.imageDir, notes, ['loop'], readOnly !== null);
    if (inner.kind === 'failed') return { ...inner, notes };
    if (inner.kind === 'read-only') readOnly ??= inner.reason;
    flashDir = options.imageDir;
  }
  if (readOnly === null) {
    const free = freeBytes(flashDir);
    if (free < (options.minFreeBytes ?? DEFAULT_MIN_FREE)) readOnly = `the flash is full (${free} bytes free)`;
  }
  return readOnly === null ? { kind: 'mounted', flashDir, notes } : { kind: 'read-only', flashDir, reason: readOnly, notes };
}

async function findDevice(upper: DeviceUpper, waitMs: number): Promise<{ path: string; why: '' } | { path: null; why: string }> {
  const deadline = Date.now() + waitMs;
  const what = upper.device ?? (upper.label ? `LABEL=${upper.label}` : `UUID=${upper.uuid}`);
  for (;;) {
    if (upper.device) {
      if (existsSync(upper.device)) return { path: upper.device, why: '' };
    } else {
      const token = upper.label ? `LABEL=${upper.label}` : `UUID=${upper.uuid}`;
      const found = await run('blkid', ['-l', '-o', 'device', '-t', token]).catch(() => null);
      const path = found?.exitCode === 0 ? found.stdout.trim().split('\n')[0] : undefined;
      if (path) return { path, why: '' };
    }
    if (Date.now() >= deadline) return { path: null, why: `no device ${what} after ${Math.round(waitMs / 1000)} s` };
    await new Promise((next) => setTimeout(next, 200));
  }
}

/** The filesystem type blkid sees, or null for none. */
async function filesystemType(dev: string): Promise<string | null> {
  const probe = await run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', dev]);
  return probe.exitCode === 0 && probe.stdout.trim() ? probe.stdout.trim() : null;
}

/** No label: the profile allows first-boot only for an upper named by device (a blank disk has none). */
async function makeFilesystem(dev: string, fstype: string): Promise<void> {
  await runOk(`mkfs.${fstype}`, [...(fstype.startsWith('ext') ? ['-q', '-F'] : []), dev], 600_000);
}

/**
 * fsck, then mount read-write; a filesystem with errors left, or one that will not mount
 * read-write, is mounted read-only so that what it holds is still shown.
 */
async function checkAndMount(
  source: string,
  fstype: string,
  dir: string,
  notes: string[],
  extra: string[] = [],
  readOnlyWanted = false,
): Promise<{ kind: 'mounted' } | { kind: 'read-only'; reason: string } | { kind: 'failed'; reason: string }> {
  mkdirSync(dir, { recursive: true });
  let damaged: string | null = null;
  if (fstype.startsWith('ext')) {
    const fsck = await run('e2fsck', ['-p', source], 600_000);
    if (fsck.exitCode === 1 || fsck.exitCode === 2) notes.push(`e2fsck repaired ${source}`);
    else if (fsck.exitCode & 8) damaged = `e2fsck could not check ${source} (exit ${fsck.exitCode}: ${lastLine(fsck.stderr || fsck.stdout)})`;
    else if (fsck.exitCode >= 4) damaged = `e2fsck found errors it could not repair on ${source} (exit ${fsck.exitCode})`;
  }
  const options = (ro: boolean) => ['-t', fstype, '-o', [...extra, ro ? 'ro' : 'rw', 'noatime'].join(','), source, dir];
  if (!damaged && !readOnlyWanted) {
    const rw = await run('mount', options(false));
    if (rw.exitCode === 0) return { kind: 'mounted' };
    damaged = `${source} does not mount read-write: ${(rw.stderr || rw.stdout).trim()}`;
  }
  const ro = await run('mount', options(true));
  if (ro.exitCode === 0) return { kind: 'read-only', reason: damaged ?? 'the flash is read-only' };
  return { kind: 'failed', reason: `${source} does not mount: ${(ro.stderr || ro.stdout).trim() || damaged}` };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}
