/**
 * What this boot serves, decided from the profile, the kernel command line and the flash, so
 * that the device always boots: a profile that is missing or malformed, a flash that is missing,
 * unreadable or full, each gives a volatile boot (or a read-only upper) with one line that says
 * why, unless the profile says `on-failure: fail`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LayoutRequest } from '../overlay/validate.js';
import { loadProfile, parseProfile, ProfileErrors, type Profile } from '../profile/index.js';
import { run, runOk } from './commands.js';
import { parseCmdline } from './cmdline.js';
import { prepareFlash } from './flash.js';
import { finishPendingReset } from './wipe.js';

export interface BootRequest {
  /** The baked-in profile; `persist.profile=` on the kernel command line names another. */
  profilePath: string;
  cmdline: string;
  /** The read-only root the boot script mounted (the squashfs), topmost first. */
  lowers: string[];
  /**
   * Or the boot medium the kernel's root= named (a FAT or ext4 stick), holding the squashfs as
   * a file: the profile's lower layers (`image:` on it, or `device:`) are mounted from here.
   */
  medium?: string;
  /** Where the flash, an image on it and the stage are mounted. */
  layersDir: string;
  log: (line: string) => void;
}

export type BootMode = 'staged' | 'volatile' | 'read-only-upper';

export interface BootPlan {
  profile: Profile;
  layout: LayoutRequest;
  mode: BootMode;
  /** Why this boot does not persist as the profile asks; null when it does. */
  fallback: string | null;
  /** What was done on the way (formatted, repaired, reset). */
  notes: string[];
}

/** A profile with every default: what a boot runs on when its own profile is unusable. */
const FALLBACK_PROFILE = 'version: 1\nlayers:\n  lower:\n    - directory: /\n  upper: none\n';

/** This boot cannot go on (persistd exits, the boot script drops to a shell with the reason). */
export class BootFailed extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export async function planBoot(bootRequest: BootRequest): Promise<BootPlan> {
  let request = bootRequest;
  const { log } = request;
  const args = parseCmdline(request.cmdline);
  const notes: string[] = args.unknown.map((word) => `unknown kernel argument ${word} (known: persist=off, persist.mode=volatile, persist.profile=PATH)`);
  const file = args.profile ?? request.profilePath;
  let profile: Profile;
  let fallback: string | null = null;
  try {
    profile = loadProfile(file);
  } catch (err) {
    const why = err instanceof ProfileErrors ? `the profile is malformed: ${err.errors[0]!.format()}${err.errors.length > 1 ? ` (and ${err.errors.length - 1} more)` : ''}` : `no usable profile: ${(err as Error).message}`;
    profile = parseProfile(FALLBACK_PROFILE, '(built-in defaults)');
    fallback = why;
  }

  if (request.medium) {
    if (fallback) throw new BootFailed(`cannot find the root squashfs on the boot medium: ${fallback}`, 'fix the profile baked into the initramfs (persistd check), or boot with persist=off');
    request = { ...request, lowers: await mountLowers(profile, request.medium, request.layersDir) };
  }
  const stage = join(request.layersDir, 'stage');
  await mountStage(stage, profile.stage.sizeBytes);
  const plan = (mode: BootMode, layout: Omit<LayoutRequest, 'stage'>, why: string | null): BootPlan => {
    for (const line of notes) log(`persist: ${line}`);
    if (why) log(`persist: ${mode === 'volatile' ? 'booting volatile (nothing persists this boot)' : 'booting with the flash read-only (new changes stay in RAM)'}: ${why}`);
    return { profile, layout: { ...layout, stage }, mode, fallback: why, notes };
  };

  if (fallback) return plan('volatile', { lowers: request.lowers }, fallback);
  if (args.volatile) return plan('volatile', { lowers: request.lowers }, 'persist.mode=volatile on the kernel command line');
  const { upper } = profile.layers;
  if (upper.kind === 'none') return plan('volatile', { lowers: request.lowers }, null);
  if (upper.kind === 'path') return plan('staged', { lowers: request.lowers, upper: upper.path }, null);

  const flash = await prepareFlash(upper, { mountDir: join(request.layersDir, 'flash'), imageDir: join(request.layersDir, 'image') });
  notes.push(...flash.notes);
  if (flash.kind === 'failed') {
    if (profile.onFailure === 'fail') throw new BootFailed(`the flash is not usable: ${flash.reason}`, 'the profile says on-failure: fail; fix the flash, or set on-failure: volatile to boot without it');
    return plan('volatile', { lowers: request.lowers }, `the flash is not usable: ${flash.reason}`);
  }
  const upperDir = join(flash.flashDir, upper.directory);
  if (flash.kind === 'read-only') {
    // The flash's changes stay visible as the topmost read-only layer.
    const lowers = existsSync(upperDir) ? [upperDir, ...request.lowers] : request.lowers;
    return plan('read-only-upper', { lowers }, flash.reason);
  }
  const reset = await finishPendingReset(flash.flashDir, log);
  if (reset) notes.push(reset.replace(/^persist: /, ''));
  return plan('staged', { lowers: request.lowers, upper: upperDir }, null);
}

/** The profile's read-only layers from the boot medium: image files on it, or devices. */
async function mountLowers(profile: Profile, medium: string, layersDir: string): Promise<string[]> {
  const lowers: string[] = [];
  for (const [i, layer] of profile.layers.lower.entries()) {
    const dir = join(layersDir, `lower-${i}`);
    mkdirSync(dir, { recursive: true });
    if ('directory' in layer) {
      lowers.push(join(medium, layer.directory));
      continue;
    }
    const source = 'image' in layer ? join(medium, layer.image) : layer.device;
    const mounted = await run('mount', ['-t', 'squashfs', '-o', 'image' in layer ? 'loop,ro' : 'ro', source, dir]);
    if (mounted.exitCode !== 0) throw new BootFailed(`the root squashfs ${source} does not mount: ${(mounted.stderr || mounted.stdout).trim()}`, 'check the boot medium and layers.lower in the profile');
    lowers.push(dir);
  }
  return lowers;
}

async function mountStage(dir: string, sizeBytes: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await runOk('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'persist-stage', dir]);
}
