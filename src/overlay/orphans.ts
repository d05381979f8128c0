/**
 * Objects unlinked from the union while still open. FUSE 2's high-level library keeps such a file
 * alive by renaming it to a hidden name and using that name until the last handle closes. The
 * union removes the visible name at once (a whiteout where a lower has it) and parks the object
 * in the work directory (or leaves it in its lower layer), reachable only through the hidden name:
 * nothing hidden is ever listed in the union or left in the upper.
 */
import type { Layer } from './layers.js';

export interface Orphan {
  /** Where the object lives now: a temp path in the work dir, or its path in a lower layer. */
  readonly real: string;
  readonly layer: Layer;
}

export class Orphans {
  private readonly byPath = new Map<string, Orphan>();

  get(vpath: string): Orphan | undefined {
    return this.byPath.get(vpath);
  }

  set(vpath: string, orphan: Orphan): void {
    this.byPath.set(vpath, orphan);
  }

  delete(vpath: string): void {
    this.byPath.delete(vpath);
  }
}
