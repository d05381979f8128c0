/**
 * Checks before serving: every problem with the layers becomes one UserError that says what to
 * do, instead of a failure on the first write.
 */
import { accessSync, constants as fsc, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { native } from '../native/index.js';
import { errnoCode } from './errors.js';
import type { LayerConfig } from './layers.js';

const ST_RDONLY = 1;

export function validateLayers(input: LayerConfig): LayerConfig {
  const config: LayerConfig = {
    upper: resolve(input.upper),
    work: resolve(input.work),
    lowers: input.lowers.map((l) => resolve(l)),
  };
  if (config.lowers.length === 0) throw new UserError('no lower layer given', 'pass --lower DIR[:DIR...]');
  for (const lower of config.lowers) requireDirectory(lower, 'lower layer');
  for (const [dir, role] of [[config.upper, 'upper'], [config.work, 'work']] as const) {
    try {
      makeDirectory(dir);
    } catch (err) {
      throw new UserError(`cannot create the ${role} directory ${dir}: ${errnoCode(err) ?? err}`, 'create it on a writable filesystem');
    }
    requireDirectory(dir, `${role} directory`);
  }
  if (isInside(config.work, config.upper) || isInside(config.upper, config.work)) {
    throw new UserError(`the upper ${config.upper} and work ${config.work} directories overlap`, 'use two sibling directories, e.g. PERSIST/upper and PERSIST/work');
  }
  if (statSync(config.upper).dev !== statSync(config.work).dev) {
    throw new UserError(`the work directory ${config.work} is not on the upper's filesystem`, 'put both on the same filesystem (copy-ups are renamed from work into upper)');
  }
  requireWritable(config.upper);
  probeOverlayFormat(config.work);
  return config;
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
    throw new UserError(`the upper directory ${dir} is not writable (${errnoCode(err) ?? err})`, 'use a directory on a writable filesystem');
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
      `the upper's filesystem cannot hold the overlay format (trusted.* xattrs and whiteout device nodes): ${errnoCode(err) ?? err}`,
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
