// Builds the read-only layers once per test file: the base tree as a loop-mounted squashfs and the
// top layer as a plain directory on a tmpfs (it needs trusted.* xattrs for its opaque dir).

import { join } from 'node:path';
import type { Cleanup } from '../support/cleanup.js';
import { buildSquashfs, mountSquashfs } from '../support/squashfs.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { buildBaseLayer, buildTopLayer, lowerPaths } from './lower-tree.js';

export interface LowerLayers {
  /** The squashfs mount: the only lower of a single-layer union. */
  base: string;
  /** The plain top layer (whiteout, opaque dir), stacked above base in a two-layer union. */
  top: string;
  /** Every path the layers define: the generator's starting pool. */
  paths: string[];
}

export function prepareLowerLayers(cleanup: Cleanup, workspace: string): LowerLayers {
  const scratch = mountTmpfs(cleanup, join(workspace, 'layers'));
  const baseSource = join(scratch, 'base-source');
  buildBaseLayer(baseSource);
  const image = join(scratch, 'base.sqfs');
  buildSquashfs(baseSource, image);
  const { mountpoint: base } = mountSquashfs(cleanup, image, join(workspace, 'base'));
  const top = join(scratch, 'top');
  buildTopLayer(top);
  return { base, top, paths: lowerPaths() };
}

/** Lowers for a seed, uppermost first: odd seeds use only the squashfs, even seeds both layers. */
export function lowersForSeed(layers: LowerLayers, seed: number): string[] {
  return seed % 2 === 0 ? [layers.top, layers.base] : [layers.base];
}
