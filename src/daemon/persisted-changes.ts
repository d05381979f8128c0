/**
 * What the upper on the flash changes relative to the factory (the lowers), per path: the
 * "persisted" half of the control plane's change list. Read from the upper itself (whiteouts,
 * opaque directories, files that cover a lower one or not), so it is true after a restart too.
 *
 * The walk is asynchronous and yields every few hundred entries: it shares the JS thread with
 * the FUSE operations. The result is cached until the upper changes (`version`: a flush or a
 * revert bumps it; persistd is the upper's only writer), so paging through 50,000 entries walks
 * the upper once.
 */
import { opendir } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import type { ChangeKind } from '../control/protocol.js';
import { hasOpaqueXattr, isDirStat, isWhiteout, lstatOrNull } from '../overlay/format.js';
import type { Overlay } from '../overlay/index.js';
import { childOf } from '../overlay/layers.js';
import type { DirLayers } from '../overlay/resolve.js';

const YIELD_EVERY = 256;

export class PersistedChanges {
  private cached: { version: number; changes: Map<string, ChangeKind> } | null = null;
  private building: { version: number; done: Promise<Map<string, ChangeKind>> } | null = null;

  constructor(
    private readonly upperRoot: string,
    private readonly union: Overlay,
    /** Bumped whenever the upper changed. */
    private readonly version: () => number,
  ) {}

  /** Every persisted change, by union path. */
  async list(): Promise<Map<string, ChangeKind>> {
    for (let attempt = 0; ; attempt++) {
      const version = this.version();
      if (this.cached?.version === version) return this.cached.changes;
      if (this.building?.version !== version) {
        const done = this.walk();
        this.building = { version, done };
      }
      const changes = await this.building.done;
      // A flush that finished during the walk may have moved things: walk again (a few times).
      if (this.version() === version || attempt >= 3) {
        this.cached = { version, changes };
        return changes;
      }
    }
  }

  private async walk(): Promise<Map<string, ChangeKind>> {
    const found = new Map<string, ChangeKind>();
    const lowers = this.union.layers.lowers;
    let seen = 0;
    const visit = async (dirV: string, lowerDir: DirLayers | null): Promise<void> => {
      const real = dirV === '/' ? this.upperRoot : this.upperRoot + dirV;
      let dir;
      try {
        dir = await opendir(real);
      } catch {
        return; // gone meanwhile: the version check redoes the walk
      }
      const subdirs: [string, DirLayers | null][] = [];
      for await (const entry of dir) {
        if (++seen % YIELD_EVERY === 0) await new Promise((next) => setImmediate(next));
        const vpath = childOf(dirV, entry.name);
        const st = lstatOrNull(`${real}/${entry.name}`);
        if (!st) continue;
        const lower = lowerDir ? this.union.childIn(lowerDir, entry.name) : null;
        if (isWhiteout(st)) {
          if (lower) found.set(vpath, 'deleted');
          continue;
        }
        if (!isDirStat(st)) {
          found.set(vpath, !lower ? 'added' : sameContentLikely(st, lower.stat) ? 'metadata' : 'modified');
          continue;
        }
        const lowerIsDir = lower !== null && lower.dirLayers.length > 0;
        if (!lowerIsDir) {
          found.set(vpath, lower ? 'modified' : 'added');
          subdirs.push([vpath, null]);
        } else if (hasOpaqueXattr(`${real}/${entry.name}`)) {
          found.set(vpath, 'modified'); // replaced: deleted and made again
          subdirs.push([vpath, null]);
        } else {
          if (!sameOwnerAndMode(st, lower.stat)) found.set(vpath, 'metadata');
          subdirs.push([vpath, { vpath, dirLayers: lower.dirLayers }]);
        }
      }
      for (const [vpath, lowerView] of subdirs) await visit(vpath, lowerView);
    };
    await visit('/', lowers.length ? this.union.rootOf(lowers) : null);
    return found;
  }
}

/**
 * A copy-up keeps size and mtime, and a write changes the mtime: a file that still has its
 * lower's size and mtime most likely changed only its metadata (mode, owner, xattrs). Not read
 * and compared: that would cost the whole file.
 */
function sameContentLikely(upper: BigIntStats, lower: BigIntStats): boolean {
  return (upper.mode & 0o170000n) === (lower.mode & 0o170000n) && upper.size === lower.size && upper.mtimeNs === lower.mtimeNs;
}

function sameOwnerAndMode(a: BigIntStats, b: BigIntStats): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
}
