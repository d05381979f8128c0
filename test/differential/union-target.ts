// The union under test: persistd, or (to prove the harness itself) a second kernel overlayfs.
// Both expose the same shape so the differential runner does not care which one it drives.

import type { Cleanup } from '../support/cleanup.js';
import { mountKernelOverlay, type OverlayLayers } from '../support/overlayfs.js';
import { startPersistd } from '../support/persistd.js';
import { unmountForcefully } from '../support/unmount.js';

export type TargetKind = 'persistd' | 'kernel';

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
  const daemon = await startPersistd(cleanup, { ...layers, mountpoint });
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
