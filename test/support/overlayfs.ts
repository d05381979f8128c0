// Kernel overlayfs: the oracle persistd must match, and the reader that proves a persisted upper
// is in the kernel's format. Features persistd does not implement are switched off explicitly so
// the kernel's behaviour does not depend on module defaults.

import { mkdirSync } from 'node:fs';
import type { Cleanup } from './cleanup.js';
import { run } from './command.js';
import { unmountForcefully } from './unmount.js';

export interface OverlayLayers {
  /** Lower layers, uppermost first (the order of overlayfs' lowerdir=A:B). */
  lowers: readonly string[];
  upper: string;
  /** Must be an empty dir on the same filesystem as `upper`. */
  work: string;
}

export const KERNEL_OVERLAY_FEATURES = 'redirect_dir=off,index=off,metacopy=off,xino=off';

export function mountKernelOverlay(
  cleanup: Cleanup,
  layers: OverlayLayers,
  mountpoint: string,
  features: string = KERNEL_OVERLAY_FEATURES,
): string {
  for (const directory of [layers.upper, layers.work, mountpoint]) mkdirSync(directory, { recursive: true });
  const options = [
    `lowerdir=${layers.lowers.join(':')}`,
    `upperdir=${layers.upper}`,
    `workdir=${layers.work}`,
    features,
  ].join(',');
  run('mount', ['-t', 'overlay', 'overlay', '-o', options, mountpoint]);
  cleanup.add(`unmount overlay ${mountpoint}`, () => unmountForcefully(mountpoint));
  return mountpoint;
}
