// The union under test: persistd, or (to prove the harness itself) a second kernel overlayfs.
// Both expose the same shape so the differential runner does not care which one it drives.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Cleanup } from '../support/cleanup.js';
import { mountKernelOverlay, type OverlayLayers } from '../support/overlayfs.js';
import { startPersistd } from '../support/persistd.js';
import { unmountForcefully } from '../support/unmount.js';

/** persistd-staged: a RAM stage flushed to the upper every 50 ms, so that many operations meet a
 * freeze, a copy-up out of a frozen snapshot, or a flush in progress. */
export type TargetKind = 'persistd' | 'persistd-staged' | 'kernel';

export interface UnionUnderTest {
  kind: TargetKind;
  root: string;
  /** Unmounts; resolves to a description of what went wrong (unclean exit), or undefined. */
  stop(): Promise<string | undefined>;
}

export async function mountUnionUnderTest(
  kind: TargetKind,
  cleanup: Cleanup,
  layers: OverlayLayers,
  mountpoint: string,
  kernelFeatures?: string,
): Promise<UnionUnderTest> {
  if (kind === 'kernel') {
    mountKernelOverlay(cleanup, layers, mountpoint, kernelFeatures);
    return {
      kind,
      root: mountpoint,
      stop: async () => {
        unmountForcefully(mountpoint);
        return undefined;
      },
    };
  }
  const staged = kind === 'persistd-staged';
  const stage = join(dirname(layers.upper), 'stage');
  if (staged) mkdirSync(stage, { recursive: true });
  const daemon = await startPersistd(cleanup, {
    lowers: layers.lowers,
    upper: layers.upper,
    stage: staged ? stage : undefined,
    work: staged ? undefined : layers.work,
    mountpoint,
    extraArgs: staged ? ['--flush-interval', '50ms', '--min-interval', '0', '--rate-limit', '1GiB/s'] : [],
  });
  return {
    kind,
    root: mountpoint,
    stop: async () => {
      const exit = await daemon.stop();
      if (exit.code === 0 && !exit.forced) return undefined;
      return `persistd did not shut down cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal}, ` +
        `forced ${exit.forced}); its output:\n${exit.output}`;
    },
  };
}
