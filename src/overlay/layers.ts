import { join } from 'node:path';
import { native } from '../native/index.js';

/**
 * stage: the writable layer in RAM (staged and volatile modes); frozen: a snapshot of the stage
 * being flushed; upper: the persistent layer on flash (writable itself in direct mode);
 * lower: read-only (squashfs).
 */
export type LayerKind = 'stage' | 'frozen' | 'upper' | 'lower';

/** One directory tree of the union. */
export interface Layer {
  readonly root: string;
  readonly kind: LayerKind;
  /** Small number that keeps inode numbers of different layers apart (see inodes.ts). */
  readonly tag: number;
  /** Reads the aufs/OCI whiteout form too (.wh.NAME): only real lower layers do. */
  readonly readsAufs: boolean;
  /** The union's writable layer: the stage, or the upper in direct mode. */
  writable: boolean;
  /** Reading never moves an atime here: the layer's filesystem is mounted ro or noatime. */
  readonly atimeFixed: boolean;
}

export interface LayerConfig {
  /** Persistent writable layer in the kernel overlayfs format; none in volatile mode. */
  upper?: string;
  /** RAM layer that takes every write first; none in direct mode (writes go to the upper). */
  stage?: string;
  /** Scratch space on the writable layer's filesystem: new objects are built here, then renamed. */
  work: string;
  /** Read-only layers, topmost first. */
  lowers: string[];
}

export const UPPER_TAG = 1;
export const STAGE_TAG = 0;

/**
 * The layer stack, topmost first: the writable layer, frozen stage snapshots (newest first), the
 * upper, the lowers. It changes only when the stage is frozen for a flush or a flushed snapshot
 * is dropped; whoever changes it must invalidate the resolver's cache.
 */
export class Layers {
  top: Layer;
  readonly upper: Layer | null;
  readonly lowers: readonly Layer[];
  readonly work: string;
  private frozen: Layer[] = [];

  constructor(config: LayerConfig) {
    this.upper = config.upper ? { root: config.upper, kind: 'upper', tag: UPPER_TAG, readsAufs: false, writable: !config.stage, atimeFixed: atimeFixed(config.upper) } : null;
    this.lowers = config.lowers.map((root, i) => ({ root, kind: 'lower', tag: i + 2, readsAufs: true, writable: false, atimeFixed: atimeFixed(root) }));
    const stage: Layer | null = config.stage ? { root: config.stage, kind: 'stage', tag: STAGE_TAG, readsAufs: false, writable: true, atimeFixed: false } : null;
    const top = stage ?? this.upper;
    if (!top) throw new Error('a union needs an upper or a stage');
    this.top = top;
    this.work = config.work;
  }

  /** Every layer, topmost first. */
  get all(): Layer[] {
    return [this.top, ...this.readOnly];
  }

  /** The layers below the writable one, topmost first. */
  get readOnly(): Layer[] {
    const below = this.top === this.upper ? [] : [...this.frozen, ...(this.upper ? [this.upper] : [])];
    return [...below, ...this.lowers];
  }

  /** Frozen snapshots, oldest first (the order they must reach the flash in). */
  get frozenOldestFirst(): Layer[] {
    return [...this.frozen].reverse();
  }

  /**
   * The stage's tree has just been renamed to `frozenRoot`: record it as a frozen layer under a
   * fresh stage at the old root.
   */
  freeze(frozenRoot: string): Layer {
    const layer: Layer = { root: frozenRoot, kind: 'frozen', tag: STAGE_TAG, readsAufs: false, writable: false, atimeFixed: false };
    this.frozen.unshift(layer);
    return layer;
  }

  /** A flushed snapshot leaves the stack: the upper now shows what it showed. */
  drop(layer: Layer): void {
    this.frozen = this.frozen.filter((l) => l !== layer);
  }

  /** The real path of a union path (always absolute, '/' for the root) in a layer. */
  real(layer: Layer, vpath: string): string {
    return vpath === '/' ? layer.root : layer.root + vpath;
  }

  topPath(vpath: string): string {
    return this.real(this.top, vpath);
  }
}

const ST_RDONLY = 1;
const ST_NOATIME = 1024;

function atimeFixed(root: string): boolean {
  return (native.statvfs(root)[9]! & (ST_RDONLY | ST_NOATIME)) !== 0;
}

export function parentOf(vpath: string): string {
  const slash = vpath.lastIndexOf('/');
  return slash <= 0 ? '/' : vpath.slice(0, slash);
}

export function nameOf(vpath: string): string {
  return vpath.slice(vpath.lastIndexOf('/') + 1);
}

export function childOf(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : join(dir, name);
}
