/**
 * What persistd offers its control socket (src/control/protocol.ts's ControlTarget), built on the
 * stage's owner (src/stage) and the union. Paths arrive normalised (src/control/paths.ts).
 *
 * Listings are cached by the versions of what they are made of (the stage's record, the upper),
 * so paging through 50,000 changes sorts them once; everything long (walking the upper, reading
 * a file for a diff) yields to the FUSE operations between chunks.
 */
import { dirname } from 'node:path';
import {
  ControlError,
  type ChangeEntry,
  type ChangesPage,
  type ChangeKind,
  type ChangeState,
  type CommitResult,
  type ControlTarget,
  type Diff,
  type DiscardResult,
  type Event,
  type ResetResult,
  type RevertResult,
  type Status,
  type Top,
} from '../control/protocol.js';
import type { FlushPolicy } from '../flush/flusher.js';
import { bytesAvoided } from '../flush/metrics.js';
import { errnoCode, type Layer, type Overlay } from '../overlay/index.js';
import { lstatOrNull } from '../overlay/format.js';
import type { Layout } from '../overlay/validate.js';
import type { ChangeSink } from '../overlay/index.js';
import { StageEvents } from '../stage/events.js';
import { Refused, type Stage } from '../stage/index.js';
import { WearByPath } from '../stage/wear.js';
import { diffPath } from './diff.js';
import { PersistedChanges } from './persisted-changes.js';
import { resetPending, scheduleReset } from './reset.js';

export interface ControlTargetOptions {
  layout: Layout;
  mountpoint: string;
  union: Overlay;
  /** Staged and volatile modes. */
  stage: Stage | null;
  /** Direct mode: what the union reports its changes to (for versions, wear and events). */
  directChanges: DirectChanges | null;
  policy: FlushPolicy;
  log: (line: string) => void;
  /** Drops the kernel's caches of paths changed behind its back (MountedUnion.invalidate). */
  invalidate: (unionPaths: readonly string[]) => Promise<void>;
  /** Why this boot does not persist as its profile asks (src/boot/plan.ts), or null. */
  bootFallback?: string | null;
}

/** Direct mode keeps no record of changes (they are on the upper at once): it only passes them on. */
export class DirectChanges implements ChangeSink {
  onNote: ((vpath: string, bytes: number) => void) | null = null;

  note(vpath: string, _kind: unknown, bytes: number): void {
    this.onNote?.(vpath, bytes);
  }

  renamed(from: string, to: string): void {
    this.onNote?.(from, 0);
    this.onNote?.(to, 0);
  }
}

export function createControlTarget(options: ControlTargetOptions): ControlTarget {
  return new PersistControl(options);
}

class PersistControl implements ControlTarget {
  private readonly started = Date.now();
  private readonly events: StageEvents;
  private readonly wear: WearByPath;
  private readonly persisted: PersistedChanges | null;
  private listing: { key: string; entries: ChangeEntry[] } | null = null;
  private directVersion = 0;

  constructor(private readonly o: ControlTargetOptions) {
    const { stage, directChanges, layout } = o;
    if (stage) {
      this.events = stage.events;
      this.wear = stage.wear;
    } else {
      this.events = new StageEvents();
      this.wear = new WearByPath();
      if (directChanges) {
        directChanges.onNote = (vpath, bytes) => {
          this.directVersion++;
          this.wear.written(vpath, bytes);
          this.wear.flushed(vpath, bytes); // direct mode: every byte goes to the upper as written
          this.events.changed(vpath);
        };
      }
    }
    const flashVersion = (): number => (stage ? stage.flashVersion : this.directVersion);
    this.persisted = layout.upper ? new PersistedChanges(layout.upper, o.union, flashVersion) : null;
  }

  status(): Status {
    const { layout, stage } = this.o;
    const stats = stage?.status() ?? null;
    const flashDir = this.flashDir();
    const warnings: string[] = [];
    if (this.o.bootFallback) warnings.push(`boot fallback: ${this.o.bootFallback}`);
    if (layout.mode === 'volatile') warnings.push('volatile mode: nothing persists; every change is gone at the next start');
    if (stats?.lastFlush && !stats.lastFlush.success) {
      warnings.push(`the last flush failed (${stats.lastFlush.error ?? 'unknown error'}): the changes stay in RAM and are retried`);
    }
    const reset = flashDir !== null && resetPending(flashDir);
    if (reset) warnings.push('a factory reset is scheduled: the next boot wipes the upper');
    return {
      mode: layout.mode,
      mountpoint: this.o.mountpoint,
      pid: process.pid,
      uptimeSeconds: (Date.now() - this.started) / 1000,
      layers: { lowers: layout.lowers, upper: layout.upper, stage: layout.stage },
      flash: stats && stage
        ? {
            pendingBytes: stats.pendingBytes,
            pendingPaths: stats.bookkeeping.pendingPaths,
            oldestPendingSeconds: stats.oldestPendingSeconds,
            lastFlush: stats.lastFlush,
            flushes: stats.flushes,
            flushFailures: stats.flushFailures,
            failing: stats.lastFlush?.success === false,
            appBytesWritten: stats.appBytesWritten,
            flashBytesWritten: stats.flashBytesWritten,
            bytesAvoided: bytesAvoided(stats),
            device: stats.device ? { name: stats.device.name, writeRequests: stats.device.writeIos, sectorsWritten: stats.device.sectorsWritten } : null,
            policy: { ...this.o.policy },
          }
        : null,
      resetPending: reset,
      warnings,
    };
  }

  async changes(query: { prefix: string; offset: number; limit: number; state?: ChangeState; kinds?: ChangeKind[] }): Promise<ChangesPage> {
    const all = await this.allChanges();
    const { prefix, state, kinds } = query;
    const matches = (entry: ChangeEntry): boolean =>
      (prefix === '/' || entry.path === prefix || entry.path.startsWith(`${prefix}/`)) &&
      (!state || entry.state === state || (state === 'persisted' && entry.onFlash !== undefined)) &&
      (!kinds || kinds.length === 0 || kinds.includes(state === 'persisted' && entry.onFlash ? entry.onFlash : entry.kind));
    const selected = prefix === '/' && !state && !kinds?.length ? all : all.filter(matches);
    const page = selected.slice(query.offset, query.offset + query.limit).map((entry) =>
      state === 'persisted' && entry.onFlash ? { path: entry.path, kind: entry.onFlash, state: 'persisted' as const } : entry,
    );
    return { total: selected.length, offset: query.offset, entries: page };
  }

  /** Pending over persisted, one entry per path, sorted by path; cached by version. */
  private async allChanges(): Promise<ChangeEntry[]> {
    const { stage } = this.o;
    const persisted = this.persisted ? await this.persisted.list() : new Map<string, ChangeKind>();
    const key = `${stage?.pendingVersion ?? ''}/${stage?.flashVersion ?? this.directVersion}/${persisted.size}`;
    if (this.listing?.key === key) return this.listing.entries;
    const byPath = new Map<string, ChangeEntry>();
    for (const [path, kind] of persisted) byPath.set(path, { path, kind, state: 'persisted' });
    for (const change of stage?.pendingChanges() ?? []) {
      const onFlash = persisted.get(change.path);
      byPath.set(change.path, { path: change.path, kind: change.kind, state: 'pending', bytes: change.bytes, ...(onFlash ? { onFlash } : {}) });
    }
    const entries = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    this.listing = { key, entries };
    return entries;
  }

  async diff(path: string, base: 'factory' | 'flash'): Promise<Diff> {
    const { union, layout } = this.o;
    const baseLayers: Layer[] = base === 'factory' || !union.layers.upper || layout.mode === 'direct' ? [...union.layers.lowers] : [union.layers.upper, ...union.layers.lowers];
    const diff = await diffPath(union, path, base, baseLayers);
    if (!diff.old && !diff.new) throw new ControlError('not-found', `${path} does not exist, now or in the ${base === 'factory' ? 'factory version' : 'flash version'}`, 'persistctl changes lists what changed');
    return diff;
  }

  async commit(paths: string[]): Promise<CommitResult> {
    const stage = this.requireStage('commit', 'there is nothing to commit');
    if (stage.mode === 'volatile') throw new ControlError('unsupported', 'volatile mode: there is no flash to commit to', 'start persistd with --upper and --stage (staged mode) to persist changes');
    const before = stage.status()!;
    const everything = paths.length === 0 || paths.includes('/');
    try {
      if (everything) await stage.commit();
      else if (!(await stage.commitPaths(paths))) this.requireKnown(paths);
    } catch (err) {
      throw asControlError(err, 'the flush failed');
    }
    const after = stage.status()!;
    return { paths: everything ? [] : paths, batches: after.flushes - before.flushes, bytes: after.flashBytesWritten - before.flashBytesWritten };
  }

  async discard(paths: string[]): Promise<DiscardResult> {
    const stage = this.requireStage('discard', 'nothing is pending');
    const targets = paths.length === 0 ? ['/'] : paths;
    try {
      const discarded = await stage.discard(targets);
      await this.forgetCached(targets, discarded);
      if (discarded.length === 0 && paths.length > 0) this.requireKnown(paths);
      return { discarded };
    } catch (err) {
      throw asControlError(err, 'the discard failed');
    }
  }

  async revert(paths: string[]): Promise<RevertResult> {
    const stage = this.requireStage('revert', 'there is no journal to revert through');
    if (paths.length === 0) throw new ControlError('bad-request', 'revert needs at least one path', 'name the paths to take back to their factory version');
    this.requireKnown(paths);
    try {
      const reverted = await stage.revert(paths);
      await this.forgetCached(paths, reverted);
      return { reverted };
    } catch (err) {
      throw asControlError(err, 'the revert failed');
    }
  }

  /**
   * After a discard or revert, no reader may see the old content: the kernel is told to drop
   * what it cached of the paths asked for and of every recorded path dropped under them. A
   * failure here is logged, not returned: the change itself is done, and the caches expire.
   */
  private async forgetCached(asked: readonly string[], dropped: readonly string[]): Promise<void> {
    try {
      await this.o.invalidate([...new Set([...asked, ...dropped])]);
    } catch (err) {
      this.o.log(`persistd: could not drop the kernel's cache of changed paths: ${(err as Error).message}`);
    }
  }

  async reset(): Promise<ResetResult> {
    const flashDir = this.flashDir();
    if (!flashDir) throw new ControlError('unsupported', 'volatile mode: nothing persists, so every restart is a factory reset already', 'restart to go back to the factory state');
    const marker = scheduleReset(flashDir, 'persistctl reset');
    this.o.log(`persistd: factory reset scheduled (${marker}): the next boot wipes ${this.o.layout.upper}`);
    return { marker, next: 'reboot: the boot code wipes the upper before mounting it (persistctl status shows the reset as pending until then)' };
  }

  top(depth: number, limit: number): Top {
    const { totals } = this.wear;
    return { depth, entries: this.wear.top(depth, limit), totals: { written: totals.written, flushed: totals.flushed, avoided: Math.max(0, totals.written - totals.flushed) } };
  }

  subscribe(listener: (event: Event) => void): () => void {
    return this.events.listen(listener);
  }

  /** Where bookkeeping beside the upper lives (the reset marker), or null without an upper. */
  private flashDir(): string | null {
    const { layout } = this.o;
    return layout.flashDir ?? (layout.upper ? dirname(layout.upper) : null);
  }

  private requireStage(what: string, because: string): Stage {
    if (this.o.stage) return this.o.stage;
    throw new ControlError('unsupported', `direct mode: every write goes straight to the upper, so ${because} (${what})`, 'start persistd with --stage (staged mode) to review changes before they reach the flash');
  }

  /** A path that neither the union, the upper nor the factory knows is a typo: say so. */
  private requireKnown(paths: string[]): void {
    const { union } = this.o;
    const upper = union.layers.upper;
    for (const path of paths) {
      if (existsInUnion(union, path) || existsIn(union, union.layers.lowers, path) || (upper && lstatOrNull(upper.root + path))) continue;
      throw new ControlError('not-found', `${path}: no such path, now or on the flash or in the factory version`, 'persistctl changes lists what changed');
    }
  }
}

function existsInUnion(union: Overlay, path: string): boolean {
  try {
    union.getattr(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}

function existsIn(union: Overlay, layers: readonly Layer[], path: string): boolean {
  let dir = union.rootOf(layers);
  for (const name of path.split('/').slice(1)) {
    if (!dir) return false;
    const entry = union.childIn(dir, name);
    if (!entry) return false;
    dir = entry.dirLayers.length ? { vpath: entry.vpath, dirLayers: entry.dirLayers } : null;
  }
  return true;
}

function asControlError(err: unknown, what: string): ControlError {
  if (err instanceof ControlError) return err;
  if (err instanceof Refused) return new ControlError(err.reason === 'busy' ? 'busy' : 'failed', err.message, err.hint);
  return new ControlError('failed', `${what}: ${(err as Error).message}`, 'the changes stay in RAM and are retried; see persistctl status');
}
