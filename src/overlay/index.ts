/**
 * The union filesystem as path-based operations, with the kernel overlayfs's semantics.
 * It knows nothing of FUSE: every method takes union paths ('/a/b') and either returns or throws
 * an FsError carrying the errno the caller should see. Permission checks are the kernel's job
 * (the mount uses default_permissions); ownership of new objects comes from the Caller.
 */
import { constants as fsc, mkdirSync, symlinkSync } from 'node:fs';
import { native } from '../native/index.js';
import * as attrs from './attributes.js';
import { OverlayContext, type Caller } from './context.js';
import { OpenFiles } from './files.js';
import type { LayerConfig } from './layers.js';
import * as names from './namespace.js';
import { listDir, type DirEntry } from './readdir.js';

export type { Attributes, FsStats, Timespec } from './attributes.js';
export type { Caller } from './context.js';
export type { DirEntry } from './readdir.js';
export type { LayerConfig } from './layers.js';
export { FsError, errnoCode, toNegativeErrno } from './errors.js';

export class Overlay {
  private readonly ctx: OverlayContext;
  readonly files: OpenFiles;

  constructor(config: LayerConfig) {
    let files: OpenFiles | undefined;
    this.ctx = new OverlayContext(config, { afterCopyUp: (vpath, upper) => files?.followCopyUp(vpath, upper) });
    this.files = files = new OpenFiles(this.ctx);
  }

  get nameMax(): number {
    return this.ctx.nameMax;
  }

  getattr(vpath: string): attrs.Attributes {
    return attrs.getattr(this.ctx, vpath);
  }

  readdir(vpath: string): DirEntry[] {
    return listDir(this.ctx, this.ctx.resolver.lookupDir(vpath));
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
  }

  mknod(caller: Caller, vpath: string, mode: number, rdev: number): void {
    names.createNode(this.ctx, caller, vpath, mode, (real) => native.mknod(real, (mode & fsc.S_IFMT) | 0o600, rdev));
  }

  symlink(caller: Caller, target: string, vpath: string): void {
    names.createNode(this.ctx, caller, vpath, fsc.S_IFLNK | 0o777, (real) => symlinkSync(target, real));
  }

  link(fromV: string, toV: string): void {
    names.link(this.ctx, fromV, toV);
  }

  unlink(vpath: string): void {
    names.unlink(this.ctx, vpath);
  }

  rmdir(vpath: string): void {
    names.rmdir(this.ctx, vpath);
  }

  rename(fromV: string, toV: string): void {
    names.rename(this.ctx, fromV, toV);
    this.files.renamed(fromV, toV);
  }

  /** Unlink `vpath` but keep the (open) object reachable as `hiddenV`; see orphans.ts. */
  detach(vpath: string, hiddenV: string): void {
    names.detach(this.ctx, vpath, hiddenV);
    this.files.renamed(vpath, hiddenV);
  }

  chmod(vpath: string, mode: number): void {
    attrs.chmod(this.ctx, vpath, mode);
  }

  chown(vpath: string, uid: number, gid: number): void {
    attrs.chown(this.ctx, vpath, uid, gid);
  }

  truncate(vpath: string, size: number): void {
    attrs.truncate(this.ctx, vpath, size);
  }

  utimens(vpath: string, atime: attrs.Timespec, mtime: attrs.Timespec): void {
    attrs.utimens(this.ctx, vpath, atime, mtime);
  }

  getxattr(vpath: string, name: string): Buffer {
    return attrs.getxattr(this.ctx, vpath, name);
  }

  listxattr(caller: Caller, vpath: string): string[] {
    return attrs.listxattr(this.ctx, caller, vpath);
  }

  setxattr(vpath: string, name: string, value: Buffer, flags: number): void {
    attrs.setxattr(this.ctx, vpath, name, value, flags);
  }

  removexattr(vpath: string, name: string): void {
    attrs.removexattr(this.ctx, vpath, name);
  }

  statfs(): attrs.FsStats {
    return attrs.statfs(this.ctx);
  }
}
