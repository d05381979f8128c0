import { native } from '../native/index.js';
import { CopyUp, type CopyUpHooks } from './copy-up.js';
import { InodeNumbers, type InodeStore } from './inodes.js';
import { Layers, type LayerConfig } from './layers.js';
import { Orphans } from './orphans.js';
import { Resolver } from './resolve.js';
import { Stubs } from './stubs.js';
import { WorkDir } from './work-dir.js';

/** Who asks: new objects belong to the caller, as on any Linux filesystem. */
export interface Caller {
  uid: number;
  gid: number;
}

/** added: the name did not exist; deleted: it no longer does; modified: data; metadata: the rest. */
export type ChangeKind = 'added' | 'modified' | 'deleted' | 'metadata';

/** Where the union reports each change it makes (the stage keeps the record; direct mode none). */
export interface ChangeSink {
  note(vpath: string, kind: ChangeKind, bytes: number): void;
  /** `from` was renamed to `to` (which existed before when `toExisted`); `isDir`: with its tree. */
  renamed(from: string, to: string, toExisted: boolean, isDir: boolean): void;
}

const NO_RECORD: ChangeSink = { note: () => {}, renamed: () => {} };

export interface OverlayOptions {
  layers: LayerConfig;
  inodes: InodeStore;
  /** Who records changes (the stage); nobody in direct mode. */
  changes?: ChangeSink;
}

/** The parts every overlay operation works with. */
export class OverlayContext {
  readonly layers: Layers;
  readonly resolver: Resolver;
  readonly work: WorkDir;
  readonly inodes: InodeNumbers;
  readonly copyUp: CopyUp;
  readonly orphans = new Orphans();
  readonly changes: ChangeSink;
  readonly stubs = new Stubs();
  /** Smallest NAME_MAX of the layers: a name every layer can hold. */
  readonly nameMax: number;
  /**
   * Called when what a path shows may have changed other than by an operation that changes it:
   * the stack changed (freeze, flush, discard, revert) or a read moved an atime. Whoever caches
   * answers (the FUSE adapter) forgets them: those of `onlyPath` when the change touched no
   * other name, else all.
   */
  shownChanged: (onlyPath?: string) => void = () => {};

  constructor(options: OverlayOptions, hooks: CopyUpHooks) {
    this.layers = new Layers(options.layers);
    this.changes = options.changes ?? NO_RECORD;
    this.nameMax = Math.min(...this.layers.all.map((l) => native.statvfs(l.root)[10]!));
    this.resolver = new Resolver(this.layers, this.orphans, this.nameMax);
    this.work = new WorkDir(options.layers.work);
    this.inodes = new InodeNumbers(options.inodes);
    this.copyUp = new CopyUp(this.layers, this.resolver, this.work, this.inodes, this.orphans, this.stubs, hooks);
  }
}
