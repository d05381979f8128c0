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

/** What lookups need of a directory: where it is and which layers it merges. */
export type DirLayers = Pick<Entry, 'vpath' | 'dirLayers'>;

export class Resolver {
  /** Directories resolved before (never files: their attributes change without us noticing). */
  private readonly dirs = new Map<string, DirLayers>();

  constructor(
    private readonly layers: Layers,
    private readonly orphans: Orphans,
    /** Longest name every layer accepts; longer names get ENAMETOOLONG. */
    readonly nameMax: number,
  ) {}

  root(): Entry {
    const { top } = this.layers;
    const stat = lstatOrNull(top.root) ?? fail('EIO', `the writable layer ${top.root} vanished`);
    return { vpath: '/', layer: top, real: top.root, stat, dirLayers: this.rootLayers() };
  }

  private rootLayers(): readonly Layer[] {
    const cached = this.dirs.get('/');
    if (cached) return cached.dirLayers;
    const dirLayers: Layer[] = [];
    for (const layer of this.layers.all) {
      dirLayers.push(layer);
      if (layer !== this.layers.all.at(-1) && isOpaqueDir(layer.root, layer.readsAufs)) break;
    }
    this.dirs.set('/', { vpath: '/', dirLayers });
    return dirLayers;
  }

  /**
   * Forget every cached directory. Called by every change that can alter where a directory comes
   * from: copy-up of a directory, mkdir, rmdir, rename of a directory.
   */
  invalidate(): void {
    this.dirs.clear();
  }

  /** The entry for a union path, or an FsError (ENOENT, ENOTDIR, ENAMETOOLONG). */
  lookup(vpath: string): Entry {
    const orphan = this.orphans.get(vpath);
    if (orphan) {
      const stat = lstatOrNull(orphan.real) ?? fail('ENOENT', vpath);
      return { vpath, layer: orphan.layer, real: orphan.real, stat, dirLayers: [], orphan: true };
    }
    if (vpath === '/') return this.root();
    const names = vpath.slice(1).split('/');
    let dir: DirLayers = { vpath: '/', dirLayers: this.rootLayers() };
    for (let i = 0; i < names.length - 1; i++) {
      const dirV = childOf(dir.vpath, names[i]!);
      const cached = this.dirs.get(dirV);
      if (cached) {
        dir = cached;
        continue;
      }
      const child = this.child(dir, names[i]!) ?? fail('ENOENT', vpath);
      if (child.dirLayers.length === 0) fail('ENOTDIR', vpath);
      dir = { vpath: dirV, dirLayers: child.dirLayers };
      this.dirs.set(dirV, dir);
    }
    return this.child(dir, names.at(-1)!) ?? fail('ENOENT', vpath);
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
  child(parent: DirLayers, name: string, layers: readonly Layer[] = parent.dirLayers): Entry | null {
    if (Buffer.byteLength(name) > this.nameMax) fail('ENAMETOOLONG', name);
    const vpath = childOf(parent.vpath, name);
    let top: { layer: Layer; real: string; stat: BigIntStats } | null = null;
    const dirLayers: Layer[] = [];
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const readsAufs = layer.readsAufs;
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
  lowerHas(parent: DirLayers, name: string): boolean {
    return this.child(parent, name, parent.dirLayers.filter((l) => !l.writable)) !== null;
  }
}
