/**
 * Wear per path since start: bytes applications wrote to each path, and bytes flushes wrote to
 * the flash for it. The answer to "which paths wear out my flash?" (the control plane's `top`).
 *
 * Bounded: past MAX_PATHS distinct paths, the paths are folded into their parent directories
 * (shown as `/dir/…`), so a workload that makes a new file name per write cannot grow it without
 * end; the totals stay exact.
 */
import { dirname } from 'node:path';

const MAX_PATHS = 50_000;
const FOLDED = '/…';

export interface PathWear {
  path: string;
  written: number;
  flushed: number;
  avoided: number;
}

interface Counts {
  written: number;
  flushed: number;
}

export class WearByPath {
  private readonly byPath = new Map<string, Counts>();
  readonly totals = { written: 0, flushed: 0 };

  written(vpath: string, bytes: number): void {
    if (bytes <= 0) return;
    this.totals.written += bytes;
    this.counts(vpath).written += bytes;
  }

  flushed(vpath: string, bytes: number): void {
    if (bytes <= 0) return;
    this.totals.flushed += bytes;
    this.counts(vpath).flushed += bytes;
  }

  /** The heaviest writers first; with `depth` > 0 grouped by their first `depth` components. */
  top(depth: number, limit: number): PathWear[] {
    const groups = new Map<string, Counts>();
    for (const [vpath, counts] of this.byPath) {
      const key = depth > 0 ? prefixOf(vpath, depth) : vpath;
      const group = groups.get(key) ?? { written: 0, flushed: 0 };
      group.written += counts.written;
      group.flushed += counts.flushed;
      groups.set(key, group);
    }
    return [...groups]
      .map(([path, c]) => ({ path, written: c.written, flushed: c.flushed, avoided: Math.max(0, c.written - c.flushed) }))
      .sort((a, b) => b.written - a.written || b.flushed - a.flushed || (a.path < b.path ? -1 : 1))
      .slice(0, limit);
  }

  private counts(vpath: string): Counts {
    let counts = this.byPath.get(vpath);
    if (!counts) {
      if (this.byPath.size >= MAX_PATHS) this.fold();
      const key = this.byPath.has(vpath) ? vpath : foldedKey(vpath, this.byPath);
      counts = this.byPath.get(key) ?? { written: 0, flushed: 0 };
      this.byPath.set(key, counts);
    }
    return counts;
  }

  /** Fold every path into its parent directory's `/…` entry. */
  private fold(): void {
    const entries = [...this.byPath];
    this.byPath.clear();
    for (const [vpath, counts] of entries) {
      const key = vpath.endsWith(FOLDED) ? parentFolded(vpath.slice(0, -FOLDED.length)) : parentFolded(vpath);
      const into = this.byPath.get(key) ?? { written: 0, flushed: 0 };
      into.written += counts.written;
      into.flushed += counts.flushed;
      this.byPath.set(key, into);
    }
  }
}

/** After a fold, a new path joins its directory's folded entry when there is one. */
function foldedKey(vpath: string, byPath: Map<string, Counts>): string {
  for (let dir = dirname(vpath); ; dir = dirname(dir)) {
    const key = (dir === '/' ? '' : dir) + FOLDED;
    if (byPath.has(key)) return key;
    if (dir === '/') return vpath;
  }
}

function parentFolded(vpath: string): string {
  const parent = dirname(vpath);
  return (parent === '/' ? '' : parent) + FOLDED;
}

function prefixOf(vpath: string, depth: number): string {
  const parts = vpath.split('/').filter(Boolean);
  return parts.length <= depth ? vpath : `/${parts.slice(0, depth).join('/')}`;
}
