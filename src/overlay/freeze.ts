/**
 * Freezing the stage for a flush: its tree is renamed to `frozenRoot` (same tmpfs) and becomes a
 * read-only layer under a fresh, empty stage. Synchronous and O(1): writers wait only for this,
 * and the snapshot is one instant of the whole stage. Open files now point into the snapshot and
 * are copied up on their next write.
 */
import { mkdirSync, renameSync } from 'node:fs';
import type { OverlayContext } from './context.js';
import { copyMetadata } from './copy-up.js';
import type { OpenFiles } from './files.js';
import { lstatOrNull } from './format.js';
import type { Layer } from './layers.js';

export function freezeStage(ctx: OverlayContext, files: OpenFiles, frozenRoot: string, keepInStage: readonly string[]): Layer {
  const { top } = ctx.layers;
  renameSync(top.root, frozenRoot);
  mkdirSync(top.root);
  copyMetadata(frozenRoot, top.root); // the union root keeps its owner, mode, times, xattrs
  for (const vpath of keepInStage) keepInStageDir(frozenRoot, top.root, vpath);
  const frozen = ctx.layers.freeze(frozenRoot);
  ctx.resolver.invalidate();
  files.stageFrozen();
  return frozen;
}

/**
 * Move `vpath` (and what is under it) from the snapshot back into the fresh stage: paths that are
 * never flushed (--volatile) must not leave the union with the snapshot. Parents are created with
 * the snapshot's metadata.
 */
function keepInStageDir(frozenRoot: string, stageRoot: string, vpath: string): void {
  if (vpath === '/' || !lstatOrNull(frozenRoot + vpath)) return;
  let at = '';
  for (const name of vpath.split('/').slice(1, -1)) {
    at += `/${name}`;
    if (lstatOrNull(stageRoot + at)) continue;
    mkdirSync(stageRoot + at);
    copyMetadata(frozenRoot + at, stageRoot + at);
  }
  renameSync(frozenRoot + vpath, stageRoot + vpath);
}
