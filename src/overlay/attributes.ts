/**
 * Reading and changing what a name points at without opening it: stat, readlink, chmod, chown,
 * truncate, utimens, xattrs, statfs. Any change copies the object up first.
 */
import { chmodSync, lchownSync, readlinkSync, truncateSync, type BigIntStats } from 'node:fs';
import { native } from '../native/index.js';
import type { Caller, OverlayContext } from './context.js';
import { fail } from './errors.js';
import { escapeXattr, unescapeXattr } from './format.js';
import type { Entry } from './resolve.js';

/** What getattr reports; times keep their nanoseconds. */
export interface Attributes {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /**
   * These attributes change only through an operation on the object, a copy-up or a change of
   * the layer stack, each of which the union reports (ShownChange): true for directories (no
   * other names, and the kernel sees every change in them) and for files shown from a lower
   * layer whose atimes never move. A hard link in a writable layer is the case this excludes.
   */
  stable: boolean;
}

export function attributesOf(ctx: OverlayContext, entry: Entry): Attributes {
  const merged = entry.dirLayers.length > 1;
  const attributes = statAttributes(entry.stat, ctx.inodes.of(entry.layer, entry.stat), merged);
  attributes.stable = !entry.orphan && (entry.dirLayers.length > 0 || (entry.layer.kind === 'lower' && entry.layer.atimeFixed));
  // Like the kernel, report the real object's links: a lower object keeps its own; an upper one
  // parked in the work dir has one link (its parking name) that the union does not count.
  if (entry.orphan && entry.layer.writable) attributes.nlink = Math.max(0, attributes.nlink - 1);
  // In staged mode the stage can hide some names of an upper object: count the ones shown.
  const links = ctx.copyUp.visibleLinks(entry);
  if (links) attributes.nlink = links.length;
  return attributes;
}

/** `merged`: a directory spanning layers reports one link, as overlayfs does. */
export function statAttributes(st: BigIntStats, ino: number, merged = false): Attributes {
  return {
    ino,
    mode: Number(st.mode),
    nlink: merged ? 1 : Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    rdev: Number(st.rdev),
    size: Number(st.size),
    blksize: Number(st.blksize),
    blocks: Number(st.blocks),
    atimeNs: st.atimeNs,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    stable: false,
  };
}

export function getattr(ctx: OverlayContext, vpath: string): Attributes {
  return attributesOf(ctx, ctx.resolver.lookup(vpath));
}

export function readlink(ctx: OverlayContext, vpath: string): string {
  const entry = ctx.resolver.lookup(vpath);
  if (!entry.stat.isSymbolicLink()) fail('EINVAL', vpath);
  const target = readlinkSync(entry.real, 'utf8');
  // readlink moves the symlink's atime, which its other names (hard links) show too
  if (!entry.layer.atimeFixed) ctx.shownChanged(entry.stat.nlink === 1n ? { kind: 'path', path: vpath } : { kind: 'any' });
  return target;
}

export function chmod(ctx: OverlayContext, vpath: string, mode: number): void {
  chmodSync(ctx.copyUp.ensure(vpath).real, mode & 0o7777);
}

/** uid/gid of 0xffffffff (-1) mean "leave as is", as in chown(2). */
export function chown(ctx: OverlayContext, vpath: string, uid: number, gid: number): void {
  const keep = (id: number) => (id === 0xffffffff ? -1 : id);
  lchownSync(ctx.copyUp.ensure(vpath).real, keep(uid), keep(gid));
}

export function truncate(ctx: OverlayContext, vpath: string, size: number): void {
  const entry = ctx.resolver.lookup(vpath);
  if (entry.dirLayers.length > 0) fail('EISDIR', vpath);
  // Only the bytes that survive the truncate are worth copying up.
  const copy = ctx.copyUp.ensure(vpath, size);
  truncateSync(copy.real, size);
  const stub = ctx.stubs.get(copy.stat.ino);
  if (stub) ctx.stubs.truncated(stub, size);
}

export interface Timespec {
  sec: number;
  /** May be UTIME_NOW or UTIME_OMIT. */
  nsec: number;
}

export function utimens(ctx: OverlayContext, vpath: string, atime: Timespec, mtime: Timespec): void {
  native.lutimens(ctx.copyUp.ensure(vpath).real, atime.sec, atime.nsec, mtime.sec, mtime.nsec);
}

export function getxattr(ctx: OverlayContext, vpath: string, name: string): Buffer {
  return native.lgetxattr(ctx.resolver.lookup(vpath).real, escapeXattr(name));
}

/** Like the kernel: trusted.* names are listed to the superuser only. */
export function listxattr(ctx: OverlayContext, caller: Caller, vpath: string): string[] {
  const names = native.llistxattr(ctx.resolver.lookup(vpath).real).map(unescapeXattr);
  return names.filter((name): name is string => name !== null && (caller.uid === 0 || !name.startsWith('trusted.')));
}

export function setxattr(ctx: OverlayContext, vpath: string, name: string, value: Buffer, flags: number): void {
  native.lsetxattr(ctx.copyUp.ensure(vpath).real, escapeXattr(name), value, flags);
}

export function removexattr(ctx: OverlayContext, vpath: string, name: string): void {
  const entry = ctx.resolver.lookup(vpath);
  // Removing what is not there must not copy anything up.
  if (!entry.layer.writable) native.lgetxattr(entry.real, escapeXattr(name));
  native.lremovexattr(ctx.copyUp.ensure(vpath).real, escapeXattr(name));
}

export interface FsStats {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

/** Space is the upper's (what can persist; the stage's in volatile mode); NAME_MAX is the smallest of the layers. */
export function statfs(ctx: OverlayContext): FsStats {
  const [bsize, frsize, blocks, bfree, bavail, files, ffree, favail] = native.statvfs((ctx.layers.upper ?? ctx.layers.top).root);
  return {
    bsize: bsize!,
    frsize: frsize!,
    blocks: blocks!,
    bfree: bfree!,
    bavail: bavail!,
    files: files!,
    ffree: ffree!,
    favail: favail!,
    namemax: ctx.nameMax,
  };
}
