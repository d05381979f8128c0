/**
 * Checks before serving: every problem with the layers becomes one UserError that says what to
 * do, instead of a failure on the first write.
 */
import { accessSync, constants as fsc, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { native } from '../native/index.js';
import { errnoCode } from './errors.js';

const ST_RDONLY = 1;

/** What the command line asked for. */
export interface LayoutRequest {
  lowers: string[];
  upper?: string;
  stage?: string;
  work?: string;
}

/**
 * Where everything lives. direct: writes go straight to the upper (kernel overlayfs's shape).
 * staged: writes land in the stage (RAM) and reach the upper in flushes; the journal, inode maps
 * and state sit in the upper's parent directory, on the same filesystem. volatile: a stage and
 * no upper, nothing persists.
 */
export interface Layout {
  mode: 'direct' | 'staged' | 'volatile';
  lowers: string[];
  upper: string | null;
  /** The --stage directory; the stage's layers and scratch space live inside it. */
  stage: string | null;
  /** Scratch space on the writable layer's filesystem. */
  work: string;
  /** The upper's parent, for bookkeeping beside the upper (staged mode). */
  flashDir: string | null;
}

export function validateLayout(request: LayoutRequest): Layout {
  const lowers = request.lowers.map((l) => resolve(l));
  if (lowers.length === 0) throw new UserError('no lower layer given', 'pass --lower DIR[:DIR...]');
  for (const lower of lowers) requireDirectory(lower, 'lower layer');
  const upper = request.upper ? resolve(request.upper) : null;
  const stage = request.stage ? resolve(request.stage) : null;
  if (!upper && !stage) throw new UserError('no writable layer given', 'pass --upper DIR, --stage DIR, or both');
  const mode = !stage ? 'direct' : upper ? 'staged' : 'volatile';
  const work = stage ? join(stage, 'work') : resolve(request.work ?? join(dirname(upper!), 'work'));
  if (stage && request.work) throw new UserError('--work goes with direct mode only', 'with --stage, the scratch space lives inside the stage');
  if (upper) createDirectory(upper, 'upper');
  if (stage) createDirectory(stage, 'stage');
  createDirectory(work, 'work');
  const writable = stage ?? upper!;
  if (isInside(work, upper ?? '/nonexistent') || (upper && isInside(upper, work))) {
    throw new UserError(`the upper ${upper} and work ${work} directories overlap`, 'use two sibling directories, e.g. PERSIST/upper and PERSIST/work');
  }
  if (statSync(writable).dev !== statSync(work).dev) {
    throw new UserError(`the work directory ${work} is not on the upper's filesystem`, 'put both on the same filesystem (copy-ups are renamed from work into upper)');
  }
  const flashDir = mode === 'staged' ? dirname(upper!) : null;
  if (flashDir && statSync(flashDir).dev !== statSync(upper!).dev) {
    throw new UserError(`the upper ${upper} is a mount point of its own`, 'use a directory inside the flash filesystem, e.g. FLASH/upper: the journal goes beside it');
  }
  if (upper) requireWritable(upper);
  if (stage) requireWritable(stage);
  probeOverlayFormat(work);
  if (flashDir) probeOverlayFormat(flashDir);
  return { mode, lowers, upper, stage, work, flashDir };
}

function createDirectory(dir: string, role: string): void {
  try {
    makeDirectory(dir);
  } catch (err) {
    throw new UserError(`cannot create the ${role} directory ${dir}: ${errnoCode(err) ?? err}`, 'create it on a writable filesystem');
  }
  requireDirectory(dir, `${role} directory`);
}

/** mkdir -p, but with the real errno: recursive mkdirSync reports EROFS as ENOENT. */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch {
    mkdirSync(dir, { mode: 0o755 });
  }
}

function requireDirectory(dir: string, role: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOTCONN') throw new UserError(`the ${role} ${dir} is a stale FUSE mount`, `unmount it: fusermount -uz ${dir}`);
    throw new UserError(`the ${role} ${dir} does not exist (${code ?? err})`, 'check the path');
  }
  if (!isDir) throw new UserError(`the ${role} ${dir} is not a directory`, 'pass a directory');
}

function requireWritable(dir: string): void {
  const readOnly = (native.statvfs(dir)[9]! & ST_RDONLY) !== 0;
  try {
    if (readOnly) throw Object.assign(new Error(), { code: 'EROFS' });
    accessSync(dir, fsc.W_OK);
  } catch (err) {
    throw new UserError(`the directory ${dir} is not writable (${errnoCode(err) ?? err})`, 'use a directory on a writable filesystem');
  }
}

/** Whiteouts are character devices 0/0 and opaque dirs need trusted.* xattrs: try both. */
function probeOverlayFormat(work: string): void {
  const probe = join(work, `.persist-probe-${process.pid}`);
  rmSync(probe, { force: true });
  try {
    writeFileSync(probe, '');
    native.lsetxattr(probe, 'trusted.overlay.opaque', Buffer.from('y'), 0);
    rmSync(probe);
    native.mknod(probe, fsc.S_IFCHR, 0);
  } catch (err) {
    throw new UserError(
      `the filesystem of ${work} cannot hold the overlay format (trusted.* xattrs and whiteout device nodes): ${errnoCode(err) ?? err}`,
      'use ext4, f2fs, btrfs, xfs or tmpfs (FAT needs an image file with ext4 inside)',
    );
  } finally {
    rmSync(probe, { force: true });
  }
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}
