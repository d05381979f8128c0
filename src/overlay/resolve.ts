/**
 * Path lookup through the layers, component by component, as overlayfs does: the topmost layer
 * holding a name wins; a whiteout ends the search; a directory merges with directories of the same
 * name below it until one of them is opaque; a non-directory hides everything below it.
 */
import type { BigIntStats } from 'node:fs';
import { FsError, fail } from './errors.js';
import {
  AUFS_WHITEOUT_PREFIX,
  isDirStat,
  isOpaqueDir,
  isWhiteout,
  lstatOrNull,
} from './format.js';
import { childOf, type Layer, type Layers } from './layers.js';
import type { Orphans } from './orphans.js';

export interface Entry {
  readonly vpath: string;
  /** The layer the union shows this entry from (the topmost holding it). */
  readonly layer: Layer;
  readonly real: string;
  readonly stat: BigIntStats;
  /** For a directory: the layers merged into it, topmost first. Empty for other types. */
  readonly dirLayers: readonly Layer[];
  /** Unlinked but still open, reachable only by the hidden name it has now (see orphans.ts). */
  readonly orphan?: boolean;
}

export class Resolver {
  constructor(
    private readonly layers: Layers,
    private readonly orphans: Orphans,
    /** Longest name every layer accepts; longer names get ENAMETOOLONG. */
    readonly nameMax: number,
  ) {}

  root(): Entry {
    const { upper } = this.layers;
    const stat = lstatOrNull(upper.root);
    if (!stat) fail('EIO', `upper ${upper.root} vanished`);
    const dirLayers: Layer[] = [];
    for (const layer of this.layers.all) {
      dirLayers.push(layer);
      if (layer !== this.layers.all.at(-1) && isOpaqueDir(layer.root, !layer.writable)) break;
    }
    return { vpath: '/', layer: upper, real: upper.root, stat, dirLayers };
  }

  /** The entry for a union path, or an FsError (ENOENT, ENOTDIR, ENAMETOOLONG). */
  lookup(vpath: string): Entry {
    const orphan = this.orphans.get(vpath);
    if (orphan) {
      const stat = lstatOrNull(orphan.real) ?? fail('ENOENT', vpath);
      return { vpath, layer: orphan.layer, real: orphan.real, stat, dirLayers: [], orphan: true };
    }
    let entry = this.root();
    if (vpath === '/') return entry;
    const names = vpath.slice(1).split('/');
    for (const name of names) {
      if (entry.dirLayers.length === 0) fail('ENOTDIR', vpath);
      const child = this.child(entry, name);
      if (!child) fail('ENOENT', vpath);
      entry = child;
    }
    return entry;
  }

  tryLookup(vpath: string): Entry | null {
    try {
      return this.lookup(vpath);
    } catch (err) {
      if (err instanceof FsError && err.code === 'ENOENT') return null;
      throw err;
    }
  }

  lookupDir(vpath: string): Entry {
    const entry = this.lookup(vpath);
    if (entry.dirLayers.length === 0) fail('ENOTDIR', vpath);
    return entry;
  }

  /** `name` inside directory `parent`, or null when the union has no such name. */
  child(parent: Entry, name: string, layers: readonly Layer[] = parent.dirLayers): Entry | null {
    if (Buffer.byteLength(name) > this.nameMax) fail('ENAMETOOLONG', name);
    const vpath = childOf(parent.vpath, name);
    let top: { layer: Layer; real: string; stat: BigIntStats } | null = null;
    const dirLayers: Layer[] = [];
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const readsAufs = !layer.writable;
      if (readsAufs && name.startsWith(AUFS_WHITEOUT_PREFIX)) continue; // a marker, not a name
      const real = this.layers.real(layer, vpath);
      const stat = lstatOrNull(real);
      if (!stat) {
        if (readsAufs && lstatOrNull(this.layers.real(layer, childOf(parent.vpath, AUFS_WHITEOUT_PREFIX + name)))) break;
        continue;
      }
      if (isWhiteout(stat)) break;
      const isDir = isDirStat(stat);
      if (!top) top = { layer, real, stat };
      if (!isDir) break;
      if (!isDirStat(top.stat)) break;
      dirLayers.push(layer);
      if (i < layers.length - 1 && isOpaqueDir(real, readsAufs)) break;
    }
    if (!top) return null;
    return { vpath, ...top, dirLayers: isDirStat(top.stat) ? dirLayers : [] };
  }

  /** True when a read-only layer below the writable one would show `name` in `parent`. */
  lowerHas(parent: Entry, name: string): boolean {
    return this.child(parent, name, parent.dirLayers.filter((l) => !l.writable)) !== null;
  }
}
