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

  /** Fold a newer period's record into this one (an older snapshot absorbing newer ones). */
  absorb(newer: ChangeRecord): void {
    for (const [vpath, change] of newer.paths) this.note(vpath, change.kind, change.bytes);
  }
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
  }

  renamed(from: string, to: string, toExisted: boolean, isDir: boolean): void {
    this.pendingSince ??= Date.now();
    this.record.renamed(from, to, toExisted, isDir);
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
    return taken;
  }
}
