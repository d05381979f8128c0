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

/**
 * What may show differently without an operation on it having asked for the change (see
 * OverlayContext.shownChanged): whoever caches answers needs to know.
 */
export type ShownChange =
  /** Only this path's answers: a listing moved its directory's atime. */
  | { kind: 'path'; path: string }
  /** Anything: an atime moved on an object that may have other names. */
  | { kind: 'any' }
  /** One object, under all its names: a copy-up (of it, or into it: a directory's ctime). */
  | { kind: 'object'; ino: number }
  /** The layer stack: a freeze, a flush, a discard or a revert; directories may come from elsewhere now. */
  | { kind: 'stack' };

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
  /** Called with every ShownChange; whoever caches answers (the FUSE adapter) forgets them. */
  shownChanged: (change: ShownChange) => void = () => {};

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
