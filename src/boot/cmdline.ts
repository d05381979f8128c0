/**
 * What the kernel command line says to persist: `persist=off` (the plain squashfs root),
 * `persist.mode=volatile` (nothing persists this boot), `persist.profile=PATH` (another profile
 * baked into the initramfs). Anything else is left alone; an unknown persist.* word is reported.
 */
export interface BootArgs {
  off: boolean;
  volatile: boolean;
  profile: string | null;
  /** persist.* words we do not know: one warning each, never a failed boot. */
  unknown: string[];
}

export function parseCmdline(cmdline: string): BootArgs {
  const args: BootArgs = { off: false, volatile: false, profile: null, unknown: [] };
  for (const word of cmdline.trim().split(/\s+/)) {
    if (word === 'persist=off') args.off = true;
    else if (word === 'persist.mode=volatile') args.volatile = true;
    else if (word.startsWith('persist.profile=')) args.profile = word.slice('persist.profile='.length) || null;
    else if (word === 'persist' || word.startsWith('persist.') || word.startsWith('persist=')) args.unknown.push(word);
  }
  return args;
}
