/**
 * Operations that add, remove or move names: create, mkdir, mknod, symlink, link, unlink, rmdir,
 * rename. Every change to the upper is a single atomic step where the kernel's overlayfs makes it
 * one too (whiteouts by RENAME_WHITEOUT, a directory over a whiteout by RENAME_EXCHANGE).
 */
import {
  chmodSync,
  lchownSync,
  linkSync,
  readdirSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  type BigIntStats,
} from 'node:fs';
import { native, RENAME_EXCHANGE, RENAME_WHITEOUT } from '../native/index.js';
import type { Caller, OverlayContext } from './context.js';
import { fail } from './errors.js';
import { isDirStat, isWhiteout, lstatOrNull, makeWhiteout, markOpaque } from './format.js';
import { childOf, nameOf, parentOf } from './layers.js';
import { listDir } from './readdir.js';
import type { Entry } from './resolve.js';

const S_ISGID = 0o2000;
const PERMISSION_BITS = 0o7777;

/**
 * Create a new object at `vpath` with `build(realPath)`, owned by the caller (group from a
 * setgid parent). Over a whiteout the object is built aside and swapped in; a directory that
 * replaces a whiteout is opaque, so the deleted lower directory stays deleted.
 */
export function createNode(
  ctx: OverlayContext,
  caller: Caller,
  vpath: string,
  mode: number,
  build: (realPath: string) => void,
): void {
  const parent = ctx.resolver.lookupDir(parentOf(vpath));
  if (ctx.resolver.child(parent, nameOf(vpath))) fail('EEXIST', vpath);
  const upperParent = ctx.copyUp.ensureDir(parent.vpath);
  const target = ctx.layers.topPath(vpath);
  const overWhiteout = lstatOrNull(target) !== null; // the union shows nothing, so it is a whiteout
  const path = overWhiteout ? ctx.work.tempPath() : target;
  build(path);
  const st = lstatOrNull(path)!;
  setOwner(path, st, caller, upperParent.stat, mode);
  if (!overWhiteout) return;
  if (isDirStat(st)) {
    markOpaque(path);
    native.rename2(path, target, RENAME_EXCHANGE);
    unlinkSync(path); // now the old whiteout
    ctx.resolver.invalidate();
  } else {
    renameSync(path, target);
  }
}

function setOwner(path: string, st: BigIntStats, caller: Caller, parent: BigIntStats, mode: number): void {
  const parentSetgid = (Number(parent.mode) & S_ISGID) !== 0;
  lchownSync(path, caller.uid, parentSetgid ? Number(parent.gid) : caller.gid);
  if (st.isSymbolicLink()) return;
  let perm = mode & PERMISSION_BITS;
  if (parentSetgid && st.isDirectory()) perm |= S_ISGID;
  chmodSync(path, perm); // after chown, which clears setuid/setgid
}

export function link(ctx: OverlayContext, fromV: string, toV: string): void {
  const from = ctx.resolver.lookup(fromV);
  if (from.dirLayers.length > 0) fail('EPERM', `${fromV} is a directory`);
  const parent = ctx.resolver.lookupDir(parentOf(toV));
  if (ctx.resolver.child(parent, nameOf(toV))) fail('EEXIST', toV);
  const source = ctx.copyUp.ensure(fromV);
  ctx.copyUp.ensureDir(parent.vpath);
  const target = ctx.layers.topPath(toV);
  if (lstatOrNull(target)) {
    const tmp = ctx.work.tempPath();
    linkSync(source.real, tmp);
    renameSync(tmp, target);
  } else {
    linkSync(source.real, target);
  }
}

export function unlink(ctx: OverlayContext, vpath: string): void {
  const entry = ctx.resolver.lookup(vpath);
  if (entry.dirLayers.length > 0) fail('EISDIR', vpath);
  if (entry.orphan) {
    if (entry.layer.writable) unlinkSync(entry.real); // the parked copy in the work dir
    ctx.orphans.delete(vpath);
    return;
  }
  removeName(ctx, entry);
}

/**
 * Unlink `vpath` from the union but keep the object reachable as `hiddenV` (an orphan): what
 * FUSE 2 asks for when an open file is unlinked or renamed over.
 */
export function detach(ctx: OverlayContext, vpath: string, hiddenV: string): void {
  const entry = ctx.resolver.lookup(vpath);
  if (entry.dirLayers.length > 0) fail('EISDIR', vpath);
  if (!entry.layer.writable) {
    removeName(ctx, entry); // a whiteout; the lower object stays where it is
    ctx.orphans.set(hiddenV, { real: entry.real, layer: entry.layer });
    return;
  }
  const parent = ctx.resolver.lookupDir(parentOf(vpath));
  const parked = ctx.work.tempPath();
  if (ctx.resolver.lowerHas(parent, nameOf(vpath))) native.rename2(entry.real, parked, RENAME_WHITEOUT);
  else renameSync(entry.real, parked);
  ctx.orphans.set(hiddenV, { real: parked, layer: entry.layer });
}

export function rmdir(ctx: OverlayContext, vpath: string): void {
  if (vpath === '/') fail('EBUSY', vpath);
  const entry = ctx.resolver.lookupDir(vpath);
  if (!isEmptyDir(ctx, entry)) fail('ENOTEMPTY', vpath);
  removeName(ctx, entry);
}

/** Remove the union's `entry`: drop its upper part and whiteout the name if a lower has it. */
function removeName(ctx: OverlayContext, entry: Entry): void {
  try {
    removeFromLayers(ctx, entry);
  } finally {
    if (entry.dirLayers.length > 0) ctx.resolver.invalidate();
  }
}

function removeFromLayers(ctx: OverlayContext, entry: Entry): void {
  const parent = ctx.resolver.lookupDir(parentOf(entry.vpath));
  const needsWhiteout = ctx.resolver.lowerHas(parent, nameOf(entry.vpath));
  const isDir = entry.dirLayers.length > 0;
  if (entry.layer.writable) {
    if (isDir) clearWhiteouts(entry.real);
    if (!needsWhiteout) {
      if (isDir) rmdirSync(entry.real);
      else unlinkSync(entry.real);
      return;
    }
    const tmp = ctx.work.tempPath();
    makeWhiteout(tmp);
    if (isDir) {
      native.rename2(tmp, entry.real, RENAME_EXCHANGE);
      rmdirSync(tmp);
    } else {
      renameSync(tmp, entry.real);
    }
    return;
  }
  if (needsWhiteout) {
    ctx.copyUp.ensureDir(parent.vpath);
    makeWhiteout(ctx.layers.topPath(entry.vpath));
  }
}

/** An upper directory whose union view is empty holds only whiteouts; remove them. */
function clearWhiteouts(realDir: string): void {
  for (const name of readdirSync(realDir)) {
    const path = `${realDir}/${name}`;
    const st = lstatOrNull(path);
    if (st && !isWhiteout(st)) fail('ENOTEMPTY', realDir);
    unlinkSync(path);
  }
}

/** Copy directory `vpath` and everything the union shows in it into the writable layer. */
function copyUpTree(ctx: OverlayContext, vpath: string): Entry {
  const dir = ctx.copyUp.ensure(vpath);
  if (dir.dirLayers.length === 1) return dir; // nothing below it
  for (const { name } of listDir(ctx, ctx.resolver.lookupDir(vpath))) {
    const child = childOf(vpath, name);
    if (ctx.resolver.lookup(child).dirLayers.length > 0) copyUpTree(ctx, child);
    else ctx.copyUp.ensure(child);
  }
  return ctx.resolver.lookup(vpath);
}

function removeWhiteoutsIn(realDir: string): void {
  for (const dirent of readdirSync(realDir, { withFileTypes: true })) {
    const path = `${realDir}/${dirent.name}`;
    if (dirent.isDirectory()) removeWhiteoutsIn(path);
    else if (dirent.isCharacterDevice() && isWhiteout(lstatOrNull(path)!)) unlinkSync(path);
  }
}

function isEmptyDir(ctx: OverlayContext, dir: Entry): boolean {
  return listDir(ctx, dir).length === 0;
}

export function rename(ctx: OverlayContext, fromV: string, toV: string): void {
  const from = ctx.resolver.lookup(fromV);
  if (fromV === '/' || toV === '/') fail('EBUSY', fromV);
  if (toV.startsWith(`${fromV}/`)) fail('EINVAL', `cannot move ${fromV} into itself`);
  const fromIsDir = from.dirLayers.length > 0;
  const toParent = ctx.resolver.lookupDir(parentOf(toV));
  const to = ctx.resolver.child(toParent, nameOf(toV));
  // The order of checks is the kernel's: the VFS's type checks, then overlayfs's EXDEV, then
  // the emptiness of a replaced directory.
  if (to) {
    if (to.layer === from.layer && to.stat.ino === from.stat.ino) return; // same object: no-op
    const toIsDir = to.dirLayers.length > 0;
    if (fromIsDir && !toIsDir) fail('ENOTDIR', toV);
    if (!fromIsDir && toIsDir) fail('EISDIR', toV);
  }
  // Like overlayfs without redirect_dir: a directory with lower parts cannot move (callers such
  // as mv fall back to copy and delete).
  if (fromIsDir && from.dirLayers.some((l) => l.kind === 'lower')) fail('EXDEV', fromV);
  if (to && to.dirLayers.length > 0 && !isEmptyDir(ctx, to)) fail('ENOTEMPTY', toV);

  try {
    moveInUpper(ctx, from, toV, to);
  } finally {
    if (fromIsDir) ctx.resolver.invalidate();
  }
}

/** The rename itself, once the union's rules allow it. */
function moveInUpper(ctx: OverlayContext, from: Entry, toV: string, to: Entry | null): void {
  const fromV = from.vpath;
  const fromIsDir = from.dirLayers.length > 0;
  const toParent = ctx.resolver.lookupDir(parentOf(toV));
  const fromParent = ctx.resolver.lookupDir(parentOf(fromV));
  const fromNeedsWhiteout = ctx.resolver.lowerHas(fromParent, nameOf(fromV));
  const toHasLower = ctx.resolver.lowerHas(toParent, nameOf(toV));
  // A directory still partly in the upper or a frozen snapshot (staged mode) moves whole: the
  // stage gets all of it first.
  const source = fromIsDir ? copyUpTree(ctx, fromV) : ctx.copyUp.ensure(fromV);
  ctx.copyUp.ensureDir(toParent.vpath);
  const target = ctx.layers.topPath(toV);
  const atTarget = lstatOrNull(target);
  if (atTarget && to && to.layer.writable && fromIsDir) clearWhiteouts(target);
  if (fromIsDir && toHasLower) {
    // Keep what the layers below have at the new name hidden; inside an opaque directory no
    // whiteout has a meaning (and the kernel's format forbids them there).
    removeWhiteoutsIn(source.real);
    markOpaque(source.real);
  }

  if (fromIsDir && atTarget && isWhiteout(atTarget)) {
    // A directory cannot be renamed over a non-directory: swap, then the whiteout sits at the
    // old name, which is what a lower copy of that name needs.
    native.rename2(source.real, target, RENAME_EXCHANGE);
    if (!fromNeedsWhiteout) unlinkSync(source.real);
    return;
  }
  if (fromNeedsWhiteout) native.rename2(source.real, target, RENAME_WHITEOUT);
  else renameSync(source.real, target);
}
