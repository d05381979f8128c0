/**
 * What changed in the stage since it was last frozen: the flush policy's input (bytes and age)
 * and a per-path record of what kind of change each path saw (for the control plane: what is
 * pending in RAM). Bytes count what applications wrote; other changes count with no bytes.
 */

import type { ChangeKind, ChangeSink } from '../overlay/index.js';

export type { ChangeKind };

export interface PathChange {
  kind: ChangeKind;
  /** Bytes applications wrote to this path. */
  bytes: number;
}

/** Per union path, the net change of a period (several changes to one path fold into one). */
export class ChangeRecord {
  readonly paths = new Map<string, PathChange>();

  note(vpath: string, kind: ChangeKind, bytes: number): void {
    const before = this.paths.get(vpath);
    const folded = before ? fold(before.kind, kind) : kind;
    if (folded === null) this.paths.delete(vpath);
    else this.paths.set(vpath, { kind: folded, bytes: (before?.bytes ?? 0) + bytes });
  }

  /** `from` now lives at `to`; a directory takes everything recorded under it along. */
  renamed(from: string, to: string, toExisted: boolean, isDir: boolean): void {
    const under = `${from}/`;
    // Only a directory has paths under it: a file's rename (the common case) scans nothing.
    for (const [vpath, change] of isDir ? [...this.paths] : []) {
      if (!vpath.startsWith(under)) continue;
      this.paths.delete(vpath);
      this.paths.set(to + vpath.slice(from.length), change);
    }
    const moved = this.paths.get(from);
    this.note(from, 'deleted', 0);
    this.note(to, toExisted ? 'modified' : 'added', moved?.bytes ?? 0);
  }

  /** Remove what is recorded at each of `roots` or under it; returns the removed paths and bytes. */
  drop(roots: readonly string[]): { paths: string[]; bytes: number } {
    const removed: string[] = [];
    let bytes = 0;
    for (const [vpath, change] of this.paths) {
      if (!roots.some((root) => isAtOrUnder(vpath, root))) continue;
      this.paths.delete(vpath);
      removed.push(vpath);
      bytes += change.bytes;
    }
    return { paths: removed, bytes };
  }

  /** Split off what is recorded at `roots` or under them into a new record (a partial commit). */
  split(roots: readonly string[]): ChangeRecord {
    const selected = new ChangeRecord();
    for (const [vpath, change] of this.paths) {
      if (!roots.some((root) => isAtOrUnder(vpath, root))) continue;
      this.paths.delete(vpath);
      selected.paths.set(vpath, change);
    }
    return selected;
  }

  get bytes(): number {
    let sum = 0;
    for (const change of this.paths.values()) sum += change.bytes;
    return sum;
  }

  /** Fold a newer period's record into this one (an older snapshot absorbing newer ones). */
  absorb(newer: ChangeRecord): void {
    for (const [vpath, change] of newer.paths) this.note(vpath, change.kind, change.bytes);
  }
}

/** True when `vpath` is `root` or inside it. */
export function isAtOrUnder(vpath: string, root: string): boolean {
  return root === '/' || vpath === root || vpath.startsWith(`${root}/`);
}

/** The net kind of `before` then `after` on one path; null when they cancel out. */
function fold(before: ChangeKind, after: ChangeKind): ChangeKind | null {
  if (before === 'added') return after === 'deleted' ? null : 'added';
  if (before === 'deleted') return after === 'added' ? 'modified' : after;
  if (after === 'metadata') return before;
  return after;
}

export class Changes implements ChangeSink {
  /** Bytes applications wrote through the union, ever. */
  appBytes = 0;
  /** Bumped on every change to what is recorded (the control plane caches listings by it). */
  version = 0;
  /** Told of every path that changed (the control plane's events, wear per path). */
  onNote: ((vpath: string, bytes: number) => void) | null = null;
  /** Bytes written since the stage was last frozen. */
  pendingBytes = 0;
  /** When the oldest change not yet frozen happened (ms since the epoch), or null. */
  pendingSince: number | null = null;
  /** Changes since the stage was last frozen, per path. */
  private record = new ChangeRecord();

  note(vpath: string, kind: ChangeKind, bytes: number): void {
    this.appBytes += bytes;
    this.pendingBytes += bytes;
    this.pendingSince ??= Date.now();
    this.record.note(vpath, kind, bytes);
    this.version++;
    this.onNote?.(vpath, bytes);
  }

  renamed(from: string, to: string, toExisted: boolean, isDir: boolean): void {
    this.pendingSince ??= Date.now();
    this.record.renamed(from, to, toExisted, isDir);
    this.version++;
    this.onNote?.(from, 0);
    this.onNote?.(to, 0);
  }

  get pending(): boolean {
    return this.pendingSince !== null;
  }

  /** Per path, what changed since the last freeze (read only). */
  get current(): ChangeRecord {
    return this.record;
  }

  /** The stage was frozen: what was pending is now the snapshot's. */
  taken(): { bytes: number; since: number | null; record: ChangeRecord } {
    const taken = { bytes: this.pendingBytes, since: this.pendingSince, record: this.record };
    this.pendingBytes = 0;
    this.pendingSince = null;
    this.record = new ChangeRecord();
    this.version++;
    return taken;
  }

  /**
   * What a partial freeze took but left in the live stage goes back to being pending here (it is
   * older than anything recorded since, so the age is the older of the two).
   */
  giveBack(record: ChangeRecord, since: number | null): void {
    const newer = this.record;
    this.record = record;
    this.record.absorb(newer);
    const bytes = record.bytes;
    this.pendingBytes += bytes;
    if (since !== null && record.paths.size > 0) this.pendingSince = Math.min(since, this.pendingSince ?? since);
    this.version++;
  }

  /** Pending changes at `roots` or under them were thrown away (discard). */
  dropped(roots: readonly string[]): string[] {
    const { paths, bytes } = this.record.drop(roots);
    this.pendingBytes = Math.max(0, this.pendingBytes - bytes);
    if (this.record.paths.size === 0) {
      this.pendingBytes = 0;
      this.pendingSince = null;
    }
    this.version++;
    return paths;
  }
}
