/**
 * Merged directory listing: each name once, from the topmost layer that has it; whiteouts hide
 * the name below; aufs/OCI markers (`.wh.*`) in read-only layers are never shown.
 */
import { constants as fsc, readdirSync, type Dirent } from 'node:fs';
import type { OverlayContext } from './context.js';
import { AUFS_WHITEOUT_PREFIX, isWhiteout, lstatOrNull } from './format.js';
import type { Entry } from './resolve.js';

export interface DirEntry {
  name: string;
  /** The S_IFMT bits: readdir's d_type, so that callers need not stat each entry. */
  type: number;
}

/** Entries of directory `dir` (without '.' and '..'), in a stable order for one listing. */
export function listDir(ctx: OverlayContext, dir: Entry): DirEntry[] {
  const seen = new Set<string>();
  const entries: DirEntry[] = [];
  for (const layer of dir.dirLayers) {
    const real = ctx.layers.real(layer, dir.vpath);
    for (const dirent of readdirSync(real, { withFileTypes: true })) {
      const name = dirent.name;
      if (seen.has(name)) continue;
      seen.add(name);
      if (layer.readsAufs && name.startsWith(AUFS_WHITEOUT_PREFIX)) {
        seen.add(name.slice(AUFS_WHITEOUT_PREFIX.length)); // hides that name below
        continue;
      }
      if (dirent.isCharacterDevice()) {
        const st = lstatOrNull(`${real}/${name}`);
        if (!st || isWhiteout(st)) continue;
      }
      entries.push({ name, type: typeOf(dirent) });
    }
  }
  return entries;
}

function typeOf(dirent: Dirent): number {
  if (dirent.isDirectory()) return fsc.S_IFDIR;
  if (dirent.isFile()) return fsc.S_IFREG;
  if (dirent.isSymbolicLink()) return fsc.S_IFLNK;
  if (dirent.isFIFO()) return fsc.S_IFIFO;
  if (dirent.isSocket()) return fsc.S_IFSOCK;
  if (dirent.isCharacterDevice()) return fsc.S_IFCHR;
  return fsc.S_IFBLK;
}
