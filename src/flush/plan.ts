/**
 * What one flush must do to the upper so that it shows what "frozen snapshot over upper" showed:
 * a list of idempotent operations, derived from the snapshot (in the overlayfs format) and the
 * current upper, with the lowers consulted only to decide where a whiteout is still needed.
 *
 * Coalescing falls out of the shape: the snapshot holds the final state of each path, so a file
 * written many times is one object, a file created and deleted is nothing, and a whiteout is
 * written only where a lower still shows the name (an upper-only name is simply removed).
 */
import { linkSync, mkdirSync, readdirSync, renameSync, rmSync, type BigIntStats } from 'node:fs';
import { copyMetadata } from '../overlay/metadata.js';
import { hasOpaqueXattr, isDirStat, isWhiteout, lstatOrNull, makeWhiteout, markOpaque } from '../overlay/format.js';
import type { Layer } from '../overlay/index.js';
import { childOf } from '../overlay/layers.js';
import type { DirLayers } from '../overlay/resolve.js';

export type PlanOp =
  /** Remove whatever the upper has at path (recursively). */
  | { op: 'remove'; path: string }
  /** The upper gets a whiteout at path (replacing whatever is there). */
  | { op: 'whiteout'; path: string }
  /** A new non-directory from the snapshot replaces whatever the upper has at path. */
  | { op: 'put'; path: string; source: string }
  /** A new, empty directory (opaque when a lower directory must stay hidden) replaces path. */
  | { op: 'dir'; path: string; source: string; opaque: boolean }
  /** path becomes another name of the object put at target earlier in this batch. */
  | { op: 'link'; path: string; target: string }
  /** Set a directory's metadata (owner, mode, xattrs, times) from the snapshot; after its children. */
  | { op: 'meta'; path: string; source: string };

export interface PlanInput {
  frozen: Layer;
  upperRoot: string;
  /** Lowers-only view of the root; null when no lower shows anything. */
  lowerRoot: DirLayers | null;
  /** The lowers-only view of `name` in `dir`. */
  lowerChild(dir: DirLayers, name: string): { dirLayers: DirLayers['dirLayers'] } | null;
  /** Paths that live in RAM only (--volatile): never part of a flush. */
  volatile?: (vpath: string) => boolean;
}

export interface Plan {
  ops: PlanOp[];
  /** Snapshot objects by union path, with their stat (to prepare objects and map inodes). */
  objects: Map<string, BigIntStats>;
}

export function planFlush(input: PlanInput): Plan {
  const plan: Plan = { ops: [], objects: new Map() };
  const placedByInode = new Map<bigint, string>();
  const real = (root: string, vpath: string) => (vpath === '/' ? root : root + vpath);

  /** `upperDir`: false once the upper's directory here is being replaced by a new one. */
  const walk = (dirV: string, lowerDir: DirLayers | null, upperDir: boolean): void => {
    for (const name of readdirSync(real(input.frozen.root, dirV)).sort()) {
      const vpath = childOf(dirV, name);
      if (input.volatile?.(vpath)) continue;
      const source = real(input.frozen.root, vpath);
      const st = lstatOrNull(source);
      if (!st) continue;
      const lower = lowerDir ? input.lowerChild(lowerDir, name) : null;
      const upperSt = upperDir ? lstatOrNull(real(input.upperRoot, vpath)) : null;
      if (isWhiteout(st)) {
        if (upperSt) plan.ops.push({ op: 'remove', path: vpath });
        if (lower) plan.ops.push({ op: 'whiteout', path: vpath });
        continue;
      }
      if (!isDirStat(st)) {
        const first = st.nlink > 1n ? placedByInode.get(st.ino) : undefined;
        if (first) {
          plan.ops.push({ op: 'link', path: vpath, target: first });
        } else {
          plan.ops.push({ op: 'put', path: vpath, source });
          plan.objects.set(vpath, st);
          placedByInode.set(st.ino, vpath);
        }
        continue;
      }
      const lowerIsDir = (lower?.dirLayers.length ?? 0) > 0;
      const lowerView = lowerIsDir ? { vpath, dirLayers: lower!.dirLayers } : null;
      const opaqueHere = hasOpaqueXattr(source);
      if (!opaqueHere && upperSt && isDirStat(upperSt)) {
        // Merge into the upper's directory; the lowers stay visible unless the upper hides them.
        walk(vpath, hasOpaqueXattr(real(input.upperRoot, vpath)) ? null : lowerView, true);
      } else {
        // A new directory. Over nothing it merges with a lower directory; replacing an upper
        // whiteout or non-directory, or opaque in the snapshot, it must hide the lowers.
        const mergesWithLower = !opaqueHere && !upperSt && lowerIsDir;
        plan.ops.push({ op: 'dir', path: vpath, source, opaque: lowerIsDir && !mergesWithLower });
        plan.objects.set(vpath, st);
        walk(vpath, mergesWithLower ? lowerView : null, false);
      }
      plan.ops.push({ op: 'meta', path: vpath, source });
    }
  };

  walk('/', input.lowerRoot, true);
  plan.ops.push({ op: 'meta', path: '/', source: input.frozen.root });
  return plan;
}

/**
 * Apply a plan to another snapshot on the same tmpfs (folding a newer snapshot into an older
 * one): objects move by rename, nothing is copied, nothing needs to be durable.
 */
export function applyInRam(plan: Plan, root: string): void {
  const at = (vpath: string) => (vpath === '/' ? root : root + vpath);
  for (const op of plan.ops) {
    const target = at(op.path);
    switch (op.op) {
      case 'remove':
        rmSync(target, { recursive: true, force: true });
        break;
      case 'whiteout':
        rmSync(target, { recursive: true, force: true });
        makeWhiteout(target);
        break;
      case 'put': {
        const existing = lstatOrNull(target);
        if (existing && isDirStat(existing)) rmSync(target, { recursive: true, force: true });
        renameSync(op.source, target);
        break;
      }
      case 'dir':
        rmSync(target, { recursive: true, force: true });
        mkdirSync(target);
        copyMetadata(op.source, target);
        if (op.opaque) markOpaque(target);
        break;
      case 'link':
        rmSync(target, { recursive: true, force: true });
        linkSync(at(op.target), target);
        break;
      case 'meta':
        copyMetadata(op.source, target);
        break;
    }
  }
}
