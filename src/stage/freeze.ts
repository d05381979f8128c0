/**
 * Freezing the stage for a flush: its tree is renamed to `frozenRoot` (same tmpfs) and becomes a
 * read-only layer under a fresh, empty stage. Synchronous and O(1): writers wait only for this,
 * and the snapshot is one instant of the whole stage. Open files now point into the snapshot and
 * are copied up on their next write.
 *
 * The fresh stage root is built aside first, so a failure (a full tmpfs, say) leaves the stage
 * exactly as it was: the union is never without a writable layer.
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { copyMetadata } from '../overlay/metadata.js';
import { isDirStat, lstatOrNull } from '../overlay/format.js';
import type { Layer, Overlay } from '../overlay/index.js';
import { childOf } from '../overlay/layers.js';
import { isAtOrUnder } from './changes.js';

/**
 * Freeze the live stage as `frozenRoot`. `keepInStage`: paths that never leave RAM. `only`: a
 * partial freeze (a commit of some paths): everything that is neither at or under one of them
 * nor a directory on the way to one goes back into the live stage, so the snapshot holds just
 * those paths and what their existence depends on (their new or replaced parent directories).
 * Returns the snapshot's layer and the union paths that went back to the live stage.
 */
export function freezeStage(
  union: Overlay,
  frozenRoot: string,
  keepInStage: readonly string[],
  log: (line: string) => void,
  only?: readonly string[],
): { layer: Layer; keptInStage: string[] } {
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
  const keptInStage: string[] = [];
  const keep = (vpath: string, otherwise: string): void => {
    try {
      if (keepInStageDir(frozenRoot, top, vpath)) keptInStage.push(vpath);
    } catch (err) {
      log(`persistd: could not keep ${vpath} in RAM across a freeze (${(err as Error).message}); ${otherwise}`);
    }
  };
  for (const vpath of keepInStage) keep(vpath, 'what stayed in the snapshot is still shown but not flushed');
  if (only && !only.includes('/')) {
    for (const vpath of notSelected(frozenRoot, '/', only)) keep(vpath, 'it is flushed with this commit');
  }
  return { layer: union.stageFrozen(frozenRoot), keptInStage };
}

/** The entries of the snapshot under `dirV` that a partial freeze of `only` leaves out. */
function notSelected(frozenRoot: string, dirV: string, only: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dirV === '/' ? frozenRoot : frozenRoot + dirV)) {
    const vpath = childOf(dirV, name);
    if (only.some((root) => isAtOrUnder(vpath, root))) continue;
    const onTheWay = only.some((root) => root.startsWith(`${vpath}/`));
    const st = onTheWay ? lstatOrNull(frozenRoot + vpath) : null;
    if (st && isDirStat(st)) out.push(...notSelected(frozenRoot, vpath, only));
    else out.push(vpath);
  }
  return out;
}

/**
 * Move `vpath` (and what is under it) from the snapshot back into the fresh stage: paths that are
 * never flushed (--volatile) must not leave the union with the snapshot. Parents are created with
 * the snapshot's metadata.
 */
function keepInStageDir(frozenRoot: string, stageRoot: string, vpath: string): boolean {
  if (vpath === '/' || !lstatOrNull(frozenRoot + vpath)) return false;
  let at = '';
  for (const name of vpath.split('/').slice(1, -1)) {
    at += `/${name}`;
    if (lstatOrNull(stageRoot + at)) continue;
    mkdirSync(stageRoot + at);
    copyMetadata(frozenRoot + at, stageRoot + at);
  }
  renameSync(frozenRoot + vpath, stageRoot + vpath);
  return true;
}
