import { join } from 'node:path';

/** One directory tree of the union. Layer 0 is the writable one; the rest are read-only. */
export interface Layer {
  readonly root: string;
  readonly index: number;
  readonly writable: boolean;
}

export interface LayerConfig {
  /** Writable layer in the kernel overlayfs format. */
  upper: string;
  /** Scratch space on the upper's filesystem: copy-ups are built here, then renamed into place. */
  work: string;
  /** Read-only layers, topmost first. */
  lowers: string[];
}

export class Layers {
  readonly all: readonly Layer[];
  readonly upper: Layer;
  readonly lowers: readonly Layer[];
  readonly work: string;

  constructor(config: LayerConfig) {
    this.upper = { root: config.upper, index: 0, writable: true };
    this.lowers = config.lowers.map((root, i) => ({ root, index: i + 1, writable: false }));
    this.all = [this.upper, ...this.lowers];
    this.work = config.work;
  }

  /** The real path of a union path (always absolute, '/' for the root) in a layer. */
  real(layer: Layer, vpath: string): string {
    return vpath === '/' ? layer.root : layer.root + vpath;
  }

  upperPath(vpath: string): string {
    return this.real(this.upper, vpath);
  }
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
