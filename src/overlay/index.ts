/**
 * The union filesystem as path-based operations, with the kernel overlayfs's semantics.
 * It knows nothing of FUSE: every method takes union paths ('/a/b') and either returns or throws
 * an FsError carrying the errno the caller should see. Permission checks are the kernel's job
 * (the mount uses default_permissions); ownership of new objects comes from the Caller.
 */
import { constants as fsc, mkdirSync, symlinkSync } from 'node:fs';
import { native } from '../native/index.js';
import * as attrs from './attributes.js';
import { OverlayContext, type Caller, type ChangeKind, type OverlayOptions, type ShownChange } from './context.js';
import { OpenFiles } from './files.js';
import { parentOf, type Layer, type Layers } from './layers.js';
import * as names from './namespace.js';
import { isOpaqueDir } from './format.js';
import { listDir, type DirEntry } from './readdir.js';
import type { DirLayers, Entry } from './resolve.js';

export type { Attributes, FsStats, Timespec } from './attributes.js';
export type { Caller, ChangeKind, ChangeSink, OverlayOptions, ShownChange } from './context.js';
export type { DirEntry } from './readdir.js';
export type { Layer, LayerConfig } from './layers.js';
export { FsError, errnoCode, toNegativeErrno } from './errors.js';

export class Overlay {
  private readonly ctx: OverlayContext;
  readonly files: OpenFiles;

  constructor(options: OverlayOptions) {
    let files: OpenFiles | undefined;
    this.ctx = new OverlayContext(options, {
      afterCopyUp: (vpath, upper) => {
        files?.followCopyUp(vpath, upper);
        // Its ctime, blocks and layer are new; so is its directory's ctime (the copy was renamed in).
        const { inodes, resolver, shownChanged } = this.ctx;
        shownChanged({ kind: 'object', ino: inodes.of(upper.layer, upper.stat) });
        const parent = resolver.tryLookup(parentOf(vpath));
        if (parent) shownChanged({ kind: 'object', ino: inodes.of(parent.layer, parent.stat) });
      },
    });
    this.files = files = new OpenFiles(this.ctx);
  }

  get nameMax(): number {
    return this.ctx.nameMax;
  }

  get layers(): Layers {
    return this.ctx.layers;
  }

  get inodes(): OverlayContext['inodes'] {
    return this.ctx.inodes;
  }

  get stubs(): OverlayContext['stubs'] {
    return this.ctx.stubs;
  }

  /**
   * The writable layer's tree was just moved to `frozenRoot` and a fresh, empty one put in its
   * place (the stage froze it: src/stage/freeze.ts): show the snapshot as a read-only layer under
   * it. Open files now point into the snapshot and are copied up on their next write.
   */
  stageFrozen(frozenRoot: string): Layer {
    const frozen = this.ctx.layers.freeze(frozenRoot);
    this.ctx.resolver.invalidate();
    this.ctx.shownChanged({ kind: 'stack' });
    this.files.stageFrozen();
    return frozen;
  }

  /**
   * The root as `layers` alone show it (e.g. the lowers, for a flush deciding where whiteouts are
   * still needed); null when there are none.
   */
  rootOf(layers: readonly Layer[]): DirLayers | null {
    if (layers.length === 0) return null;
    const dirLayers: Layer[] = [];
    for (const layer of layers) {
      dirLayers.push(layer);
      if (isOpaqueDir(layer.root, layer.readsAufs)) break;
    }
    return { vpath: '/', dirLayers };
  }

  /** `name` in a directory as the layers of `dir` alone show it. */
  childIn(dir: DirLayers, name: string): Entry | null {
    return this.ctx.resolver.child(dir, name);
  }

  /** A frozen snapshot has reached the upper: drop it from the stack. */
  dropFrozen(layer: Layer): void {
    this.ctx.layers.drop(layer);
    this.ctx.resolver.invalidate();
    this.ctx.shownChanged({ kind: 'stack' });
  }

  /**
   * Whoever owns the stage removed entries from a layer's tree itself (discard, revert): what
   * the union remembered of the layers' contents is stale.
   */
  layersEdited(): void {
    this.ctx.resolver.invalidate();
    this.ctx.shownChanged({ kind: 'stack' });
  }

  /** `listener` runs whenever the union may show something new without an operation asking for it (context.ts). */
  onShownChange(listener: (change: ShownChange) => void): void {
    this.ctx.shownChanged = listener;
  }

  /** Report a change of `vpath` to whoever keeps the record (the stage). */
  private changed(vpath: string, kind: ChangeKind): void {
    this.ctx.changes.note(vpath, kind, 0);
  }

  getattr(vpath: string): attrs.Attributes {
    return attrs.getattr(this.ctx, vpath);
  }

  readdir(vpath: string): DirEntry[] {
    const dir = this.ctx.resolver.lookupDir(vpath);
    const entries = listDir(this.ctx, dir);
    if (!dir.layer.atimeFixed) this.ctx.shownChanged({ kind: 'path', path: vpath }); // the listing moved its atime (a directory has one name)
    return entries;
  }

  /** Fails like opendir(2) would: the path must be a directory. */
  opendir(vpath: string): void {
    this.ctx.resolver.lookupDir(vpath);
  }

  readlink(vpath: string): string {
    return attrs.readlink(this.ctx, vpath);
  }

  mkdir(caller: Caller, vpath: string, mode: number): void {
    names.createNode(this.ctx, caller, vpath, fsc.S_IFDIR | mode, (real) => mkdirSync(real, 0o700));
    this.changed(vpath, 'added');
  }

  mknod(caller: Caller, vpath: string, mode: number, rdev: number): void {
    names.createNode(this.ctx, caller, vpath, mode, (real) => native.mknod(real, (mode & fsc.S_IFMT) | 0o600, rdev));
    this.changed(vpath, 'added');
  }

  symlink(caller: Caller, target: string, vpath: string): void {
    names.createNode(this.ctx, caller, vpath, fsc.S_IFLNK | 0o777, (real) => symlinkSync(target, real));
    this.changed(vpath, 'added');
  }

  link(fromV: string, toV: string): void {
    names.link(this.ctx, fromV, toV);
    this.changed(toV, 'added');
  }

  unlink(vpath: string): void {
    names.unlink(this.ctx, vpath);
    this.changed(vpath, 'deleted');
  }

  rmdir(vpath: string): void {
    names.rmdir(this.ctx, vpath);
    this.changed(vpath, 'deleted');
  }

  rename(fromV: string, toV: string): void {
    const toExisted = this.ctx.resolver.tryLookup(toV) !== null;
    names.rename(this.ctx, fromV, toV);
    this.files.renamed(fromV, toV);
    const moved = this.ctx.resolver.tryLookup(toV);
    this.ctx.changes.renamed(fromV, toV, toExisted, (moved?.dirLayers.length ?? 0) > 0);
  }

  /** Unlink `vpath` but keep the (open) object reachable as `hiddenV`; see orphans.ts. */
  detach(vpath: string, hiddenV: string): void {
    names.detach(this.ctx, vpath, hiddenV);
    this.files.renamed(vpath, hiddenV);
    this.changed(vpath, 'deleted');
  }

  chmod(vpath: string, mode: number): void {
    attrs.chmod(this.ctx, vpath, mode);
    this.changed(vpath, 'metadata');
  }

  chown(vpath: string, uid: number, gid: number): void {
    attrs.chown(this.ctx, vpath, uid, gid);
    this.changed(vpath, 'metadata');
  }

  truncate(vpath: string, size: number): void {
    attrs.truncate(this.ctx, vpath, size);
    this.changed(vpath, 'modified');
  }

  utimens(vpath: string, atime: attrs.Timespec, mtime: attrs.Timespec): void {
    attrs.utimens(this.ctx, vpath, atime, mtime);
    this.changed(vpath, 'metadata');
  }

  getxattr(vpath: string, name: string): Buffer {
    return attrs.getxattr(this.ctx, vpath, name);
  }

  listxattr(caller: Caller, vpath: string): string[] {
    return attrs.listxattr(this.ctx, caller, vpath);
  }

  setxattr(vpath: string, name: string, value: Buffer, flags: number): void {
    attrs.setxattr(this.ctx, vpath, name, value, flags);
    this.changed(vpath, 'metadata');
    this.xattrsChanged(vpath);
  }

  removexattr(vpath: string, name: string): void {
    attrs.removexattr(this.ctx, vpath, name);
    this.changed(vpath, 'metadata');
    this.xattrsChanged(vpath);
  }

  /**
   * An xattr may carry the mode (system.posix_acl_access: the layer's filesystem applies it), a
   * change the kernel does not see in the reply: report the object as changed.
   */
  private xattrsChanged(vpath: string): void {
    const entry = this.ctx.resolver.lookup(vpath);
    this.ctx.shownChanged({ kind: 'object', ino: this.ctx.inodes.of(entry.layer, entry.stat) });
  }

  statfs(): attrs.FsStats {
    return attrs.statfs(this.ctx);
  }
}
