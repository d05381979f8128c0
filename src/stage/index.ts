/**
 * The stage's one owner (staged and volatile modes). The stage is the RAM layer every write lands
 * in first; this class holds everything about it: the union built over it, the per-path record of
 * what changed, the frozen snapshots on their way to the flash (oldest first), the stubs of large
 * files, the backpressure that slows writers before it fills, and what fsync means.
 *
 * Everyone else goes through its commands: the FUSE adapter serves `union` and asks `admitWrite`
 * and `fsync`; signals and the control plane call `commit` and `status`; the flusher (the stage's
 * worker towards the flash, created here in staged mode) freezes, folds and retires snapshots.
 */
import { lstatSync, readdirSync, rmSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { Flusher, underAny, type FlushPolicy } from '../flush/flusher.js';
import type { FlashPaths } from '../flush/journal/index.js';
import type { Bookkeeping, FlushStats } from '../flush/metrics.js';
import { applyInRam, planFlush, type Plan } from '../flush/plan.js';
import { Overlay, type Layer } from '../overlay/index.js';
import { identityOf, type InodeStore } from '../overlay/inodes.js';
import type { Stubs } from '../overlay/stubs.js';
import { backpressure, type AdmitWrite } from './backpressure.js';
import { Changes, ChangeRecord, type PathChange } from './changes.js';
import { prepareStage } from './dir.js';
import { freezeStage } from './freeze.js';
import type { Snapshot } from './snapshot.js';

export type { Snapshot } from './snapshot.js';
export type { ChangeKind, PathChange } from './changes.js';

export interface StageOptions {
  /** The --stage directory (a tmpfs): the writable layer, frozen snapshots, scratch space. */
  dir: string;
  /** The upper on flash (staged mode); none in volatile mode. */
  upper?: string;
  lowers: string[];
  inodes: InodeStore;
  /** Staged mode: where flushes go and when. */
  flash?: { paths: FlashPaths; policy: FlushPolicy; lastSeq: number; metricsFile?: string };
  /** Path prefixes kept in RAM only: never flushed, gone at restart. */
  volatile: string[];
  /** Path prefixes where fsync waits for a flush; elsewhere it returns once data is in RAM. */
  fsyncHonor: string[];
  log: (line: string) => void;
}

/** A pending change and where it waits: in the live stage, or in a frozen snapshot being flushed. */
export interface PendingChange extends PathChange {
  path: string;
  in: 'stage' | 'frozen';
}

export class Stage {
  readonly union: Overlay;
  readonly changes = new Changes();
  /** Before each write: a promise to wait for (backpressure), or null. Staged mode only. */
  readonly admitWrite: AdmitWrite | undefined;
  private readonly queue: Snapshot[] = []; // oldest first
  private seq: number;
  private readonly flusher: Flusher | null;
  private readonly volatileRoots: string[];
  private commands: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: StageOptions) {
    const dirs = prepareStage(options.dir, options.upper ?? options.lowers[0]!, options.log);
    this.union = new Overlay({
      layers: { upper: options.upper, stage: dirs.top, work: dirs.work, lowers: options.lowers },
      inodes: options.inodes,
      changes: this.changes,
    });
    this.volatileRoots = options.volatile.map((p) => p.replace(/\/+$/, '')).filter(Boolean);
    this.seq = options.flash?.lastSeq ?? 0;
    const { flash } = options;
    this.flusher = flash
      ? new Flusher(this, { paths: flash.paths, policy: flash.policy, lastSeq: flash.lastSeq, metricsFile: flash.metricsFile, log: options.log })
      : null;
    const flusher = this.flusher;
    this.admitWrite = flusher ? backpressure(options.dir, { relieve: () => flusher.relieve(), failing: () => flusher.failing }) : undefined;
  }

  // ---- commands ----------------------------------------------------------------------------

  start(): void {
    this.flusher?.start();
  }

  /**
   * Make everything written so far durable (an explicit commit, shutdown). Rejects with the
   * flush's error if the flash did not take it; resolves at once in volatile mode.
   */
  commit(): Promise<void> {
    return this.serialized(() => this.flusher?.flush());
  }

  /** What fsync of `path` means: 'skip' (RAM is enough) or a flush to wait for (EIO if it fails). */
  fsync(path: string): 'skip' | Promise<void> {
    if (!this.flusher || !underAny(path, this.options.fsyncHonor)) return 'skip';
    return this.commit().catch((err: unknown) => {
      this.options.log(`persistd: fsync of ${path} failed with EIO: the flush did not reach the flash (${(err as Error).message})`);
      throw Object.assign(new Error(`fsync ${path}: the flash did not take the flush`), { code: 'EIO' });
    });
  }

  /** Flash health and counters; null in volatile mode. */
  status(): FlushStats | null {
    return this.flusher?.status() ?? null;
  }

  /** Every change not yet on the flash, per path (the live stage's over the snapshots'). */
  pendingChanges(): PendingChange[] {
    const merged = new ChangeRecord();
    const where = new Map<string, PendingChange['in']>();
    for (const snapshot of this.queue) {
      merged.absorb(snapshot.record);
      for (const path of snapshot.record.paths.keys()) where.set(path, 'frozen');
    }
    merged.absorb(this.changes.current);
    for (const path of this.changes.current.paths.keys()) where.set(path, 'stage');
    return [...merged.paths].map(([path, change]) => ({ path, ...change, in: where.get(path) ?? 'stage' }));
  }

  /** What is kept in memory about the stage (it must shrink again once flushed). */
  bookkeeping(): Bookkeeping {
    const inodes = this.union.inodes.counts();
    const pendingPaths = this.queue.reduce((sum, s) => sum + s.record.paths.size, this.changes.current.paths.size);
    return { stubs: this.stubs.size, stageInodeMappings: inodes.stage, upperInodeMappings: inodes.upper, pendingPaths };
  }

  /** Stop the flusher's clock (after the last flush). */
  stop(): void {
    this.flusher?.stop();
    this.union.files.closeAll();
  }

  private serialized<T>(command: () => T | Promise<T>): Promise<T> {
    const run = this.commands.then(command, command);
    this.commands = run.catch(() => {});
    return run;
  }

  // ---- the flusher's side ------------------------------------------------------------------

  get stubs(): Stubs {
    return this.union.stubs;
  }

  /** Snapshots not yet on the flash, oldest first. */
  get snapshots(): readonly Snapshot[] {
    return this.queue;
  }

  /** Number of the newest snapshot taken. */
  get lastSeq(): number {
    return this.seq;
  }

  /** What is not frozen yet: bytes and the age of the oldest change. */
  get unfrozen(): { bytes: number; since: number | null } {
    return { bytes: this.changes.pendingBytes, since: this.changes.pendingSince };
  }

  /**
   * Freeze the stage if anything changed since the last freeze: one instant of the whole stage
   * becomes the newest snapshot. A failure leaves the stage as it was (and throws).
   */
  freeze(): Snapshot | null {
    if (!this.changes.pending) return null;
    const seq = this.seq + 1;
    const layer = freezeStage(this.union, join(this.options.dir, `frozen-${seq}`), this.volatileRoots, this.options.log);
    this.seq = seq;
    const taken = this.changes.taken();
    this.stubs.frozen(layer);
    const snapshot: Snapshot = { seq, layer, carriesUpTo: seq, since: taken.since, bytes: taken.bytes, record: taken.record, failed: false };
    this.queue.push(snapshot);
    return snapshot;
  }

  /** The flush plan of `snapshot` against the upper at `upperRoot`. */
  plan(snapshot: Snapshot, upperRoot: string): Plan {
    return planFlush({
      frozen: snapshot.layer,
      upperRoot,
      lowerRoot: this.union.rootOf(this.union.layers.lowers),
      lowerChild: (dir, name) => this.union.childIn(dir, name),
      volatile: (vpath) => underAny(vpath, this.options.volatile),
    });
  }

  /** The inode number the union shows for an object of `snapshot` (its flushed copy keeps it). */
  shownIno(snapshot: Snapshot, stat: BigIntStats): number {
    return this.union.inodes.of(snapshot.layer, stat);
  }

  /**
   * A snapshot that could not be flushed (e.g. the flash is full) must not block what came after:
   * deleting files to make room only shows in newer snapshots. So everything newer, the live stage
   * included, is folded into it (on the stage's tmpfs: renames, no copies) and the next attempt
   * flushes the union's current state.
   */
  foldNewerInto(oldest: Snapshot): void {
    this.freeze();
    const { upper, lowers } = this.union.layers;
    const below = [...(upper ? [upper] : []), ...lowers];
    while (this.queue.length > 1) {
      const newer = this.queue.splice(1, 1)[0]!;
      const plan = planFlush({
        frozen: newer.layer,
        upperRoot: oldest.layer.root,
        lowerRoot: this.union.rootOf(below),
        lowerChild: (dir, name) => this.union.childIn(dir, name),
      });
      applyInRam(plan, oldest.layer.root);
      this.stubs.merged(newer.layer, oldest.layer);
      this.union.dropFrozen(newer.layer);
      oldest.bytes += newer.bytes;
      oldest.since = oldest.since ?? newer.since;
      oldest.carriesUpTo = newer.carriesUpTo;
      oldest.record.absorb(newer.record);
      rmSync(newer.layer.root, { recursive: true, force: true });
    }
  }

  /**
   * `snapshot` (the oldest) is on the flash: the upper now shows what it showed. Its inode numbers
   * move to the upper's objects, its stubs' origins to the upper files, and it leaves the stack.
   * Returns the directory to delete (the caller does it off the hot path).
   */
  retire(snapshot: Snapshot, inodeMap: string): string {
    if (this.queue[0] !== snapshot) throw new Error(`bug: batch ${snapshot.seq} retired out of order`);
    this.queue.shift();
    try {
      this.union.inodes.adopt(inodeMap);
      // Its objects are the upper's now: the RAM copies' mappings would only pile up.
      this.union.inodes.forgetStage(identitiesIn(snapshot.layer));
      if (this.options.upper) this.stubs.flushed(snapshot.layer, this.options.upper);
    } catch (err) {
      this.options.log(`persistd: bug after flushing batch ${snapshot.seq}: ${(err as Error).stack}`);
    }
    this.union.dropFrozen(snapshot.layer);
    return snapshot.layer.root;
  }
}

/** The inode identities of every object in a (RAM) layer's tree. */
function identitiesIn(layer: Layer): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      found.push(identityOf(layer, lstatSync(path, { bigint: true })));
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(layer.root);
  return found;
}
