/**
 * `diff PATH`: the union's current version of a path against an older one, the factory's (the
 * lowers') or the flash's (upper over lowers: what a discard goes back to).
 *
 * The current version is read through the union's own open/read (never through the mount, which
 * this process serves: that would deadlock), so stubs of large files read right. Reads go in
 * chunks with a yield between them: a diff of a big file must not stall the filesystem. Files
 * over MAX_TEXT_DIFF_BYTES or binary are compared by size and sha256 only.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, readlinkSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Diff, FileVersion } from '../control/protocol.js';
import { looksBinary, MAX_TEXT_DIFF_BYTES } from '../diff/content.js';
import { unifiedDiff } from '../diff/unified.js';
import { errnoCode, type Layer, type Overlay } from '../overlay/index.js';
import type { DirLayers } from '../overlay/resolve.js';

const CHUNK = 256 * 1024;

/** A side of a diff: its version, and its content when it is a regular file. */
interface Side {
  version: FileVersion | null;
  read?: () => Promise<{ sha256: string; text: Buffer | null }>;
}

export async function diffPath(union: Overlay, vpath: string, base: 'factory' | 'flash', baseLayers: readonly Layer[]): Promise<Diff> {
  const now = currentSide(union, vpath);
  const before = baseSide(union, vpath, baseLayers);
  const diff: Diff = { path: vpath, base, old: before.version, new: now.version, format: 'type' };
  const oldRead = before.read;
  const newRead = now.read;
  if (!oldRead && !newRead) return diff;
  if ((before.version && !oldRead) || (now.version && !newRead)) return diff; // a file against a non-file
  const [oldContent, newContent] = [await oldRead?.(), await newRead?.()];
  if (oldContent && diff.old) diff.old.sha256 = oldContent.sha256;
  if (newContent && diff.new) diff.new.sha256 = newContent.sha256;
  const oldText = oldContent ? oldContent.text : Buffer.alloc(0);
  const newText = newContent ? newContent.text : Buffer.alloc(0);
  if (!oldText || !newText) return { ...diff, format: 'binary' };
  const result = unifiedDiff(oldText.toString('utf8'), newText.toString('utf8'), {
    oldLabel: oldContent ? `${base}${vpath}` : '/dev/null',
    newLabel: newContent ? `current${vpath}` : '/dev/null',
  });
  if (result.tooLarge) return { ...diff, format: 'binary' };
  return { ...diff, format: 'text', unified: result.unified };
}

function currentSide(union: Overlay, vpath: string): Side {
  let attrs;
  try {
    attrs = union.getattr(vpath);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return { version: null };
    throw err;
  }
  const version = versionOf(attrs.mode, attrs.size);
  if (version.type === 'symlink') version.target = union.readlink(vpath);
  if (version.type !== 'file') return { version };
  return {
    version,
    read: async () => {
      const id = union.files.open(vpath, fsc.O_RDONLY);
      try {
        return await readChunks(attrs.size, async (buf, position) => union.files.read(id, buf, buf.length, position));
      } finally {
        union.files.release(id);
      }
    },
  };
}

function baseSide(union: Overlay, vpath: string, layers: readonly Layer[]): Side {
  const entry = lookupIn(union, layers, vpath);
  if (!entry) return { version: null };
  const version = versionOf(Number(entry.stat.mode), Number(entry.stat.size));
  if (version.type !== 'file') {
    if (version.type === 'symlink') version.target = readlinkOf(entry.real);
    return { version };
  }
  return {
    version,
    read: async () => {
      const file = await open(entry.real, 'r');
      try {
        return await readChunks(Number(entry.stat.size), async (buf, position) => (await file.read(buf, 0, buf.length, position)).bytesRead);
      } finally {
        await file.close();
      }
    },
  };
}

/** Hash the whole file; keep the text when it is small and not binary. Yields between chunks. */
async function readChunks(size: number, readAt: (buf: Buffer, position: number) => Promise<number>): Promise<{ sha256: string; text: Buffer | null }> {
  const hash = createHash('sha256');
  const keep = size <= MAX_TEXT_DIFF_BYTES ? [] as Buffer[] : null;
  for (let position = 0; ; ) {
    const buf = Buffer.allocUnsafe(CHUNK);
    const n = await readAt(buf, position);
    if (n <= 0) break;
    const chunk = buf.subarray(0, n);
    hash.update(chunk);
    keep?.push(chunk);
    position += n;
    await new Promise((next) => setImmediate(next));
  }
  const text = keep ? Buffer.concat(keep) : null;
  return { sha256: hash.digest('hex'), text: text && !looksBinary(text) ? text : null };
}

/** `vpath` as `layers` alone show it (e.g. the lowers: the factory version), or null. */
function lookupIn(union: Overlay, layers: readonly Layer[], vpath: string): { real: string; stat: BigIntStats } | null {
  let dir: DirLayers | null = union.rootOf(layers);
  if (!dir) return null;
  if (vpath === '/') return null; // the root is a directory on every side
  const names = vpath.split('/').slice(1);
  for (let i = 0; i < names.length; i++) {
    const entry = union.childIn(dir, names[i]!);
    if (!entry) return null;
    if (i === names.length - 1) return { real: entry.real, stat: entry.stat };
    if (entry.dirLayers.length === 0) return null;
    dir = { vpath: entry.vpath, dirLayers: entry.dirLayers };
  }
  return null;
}

function versionOf(mode: number, size: number): FileVersion {
  const type = mode & 0o170000;
  if (type === fsc.S_IFREG) return { type: 'file', size };
  if (type === fsc.S_IFDIR) return { type: 'directory', size: 0 };
  if (type === fsc.S_IFLNK) return { type: 'symlink', size };
  return { type: 'other', size: 0 };
}

function readlinkOf(real: string): string {
  try {
    return readlinkSync(real);
  } catch {
    return '';
  }
}
