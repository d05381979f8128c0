/**
 * Merged directory listing: each name once, from the topmost layer that has it; whiteouts hide
 * the name below; aufs/OCI markers (`.wh.*`) in read-only layers are never shown.
 */
import { readdirSync } from 'node:fs';
import type { OverlayContext } from './context.js';
import { AUFS_WHITEOUT_PREFIX, isWhiteout, lstatOrNull } from './format.js';
import type { Entry } from './resolve.js';

/** Names in directory `dir` (without '.' and '..'), in a stable order for one listing. */
export function listDir(ctx: OverlayContext, dir: Entry): string[] {
  const seen = new Set<string>();
  const names: string[] = [];
  for (const layer of dir.dirLayers) {
    const real = ctx.layers.real(layer, dir.vpath);
    for (const dirent of readdirSync(real, { withFileTypes: true })) {
      const name = dirent.name;
      if (seen.has(name)) continue;
      seen.add(name);
      if (!layer.writable && name.startsWith(AUFS_WHITEOUT_PREFIX)) {
        seen.add(name.slice(AUFS_WHITEOUT_PREFIX.length)); // hides that name below
        continue;
      }
      if (dirent.isCharacterDevice()) {
        const st = lstatOrNull(`${real}/${name}`);
        if (!st || isWhiteout(st)) continue;
      }
      names.push(name);
    }
  }
  return names;
}
