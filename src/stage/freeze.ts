/**
 * Freezing the stage for a flush: its tree is renamed to `frozenRoot` (same tmpfs) and becomes a
 * read-only layer under a fresh, empty stage. Synchronous and O(1): writers wait only for this,
 * and the snapshot is one instant of the whole stage. Open files now point into the snapshot and
 * are copied up on their next write.
 *
 * The fresh stage root is built aside first, so a failure (a full tmpfs, say) leaves the stage
 * exactly as it was: the union is never without a writable layer.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { copyMetadata } from '../overlay/metadata.js';
import { lstatOrNull } from '../overlay/format.js';
import type { Layer, Overlay } from '../overlay/index.js';

export function freezeStage(union: Overlay, frozenRoot: string, keepInStage: readonly string[], log: (line: string) => void): Layer {
  const top = union.layers.top.root;
  const fresh = `${frozenRoot}.fresh`;
  rmSync(fresh, { recursive: true, force: true });
  mkdirSync(fresh);
  try {
    copyMetadata(top, fresh); // the union root keeps its owner, mode, times, xattrs
    renameSync(top, frozenRoot);
  } catch (err) {
    rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
  try {
    renameSync(fresh, top);
  } catch (err) {
    renameSync(frozenRoot, top); // undo: the stage goes on as if nothing happened
    rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
  // From here on the snapshot exists: nothing may fail the freeze, or it would never be flushed.
  for (const vpath of keepInStage) {
    try {
      keepInStageDir(frozenRoot, top, vpath);
    } catch (err) {
      log(`persistd: could not keep ${vpath} in RAM across a freeze (${(err as Error).message}); what stayed in the snapshot is still shown but not flushed`);
    }
  }
  return union.stageFrozen(frozenRoot);
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
