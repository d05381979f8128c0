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
import { lstatOrNull } from '../overlay/format.js';
import type { Stubs } from '../overlay/stubs.js';
import { backpressure, type AdmitWrite } from './backpressure.js';
import { Changes, ChangeRecord, isAtOrUnder, type PathChange } from './changes.js';
import { prepareStage } from './dir.js';
import { StageEvents } from './events.js';
import { freezeStage } from './freeze.js';
import { Refused } from './refused.js';
import type { Snapshot } from './snapshot.js';
import { WearByPath } from './wear.js';

export type { Snapshot } from './snapshot.js';
export type { ChangeKind, PathChange } from './changes.js';
export type { StageEvent } from './events.js';
export type { PathWear } from './wear.js';
export { Refused } from './refused.js';

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

/** How long discard and revert wait for files on their paths to be closed. */
const RELEASE_WAIT_MS = 1_000;

export class Stage {
  readonly union: Overlay;
  readonly changes = new Changes();
  readonly events = new StageEvents();
  readonly wear = new WearByPath();
  /** Bumped whenever the upper on the flash changed (a flush, a revert): persisted listings are stale. */
  flashVersion = 0;
  /** Bumped whenever a frozen snapshot's record changed (freeze, fold, retire, discard). */
  private snapshotsVersion = 0;
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
    this.changes.onNote = (vpath, bytes) => {
      this.wear.written(vpath, bytes);
      this.events.changed(vpath);
    };
  }

  get mode(): 'staged' | 'volatile' {
    return this.flusher ? 'staged' : 'volatile';
  }

  /** Changes whenever what pendingChanges() returns may have changed. */
  get pendingVersion(): string {
    return `${this.changes.version}:${this.snapshotsVersion}`;
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

  /**
   * Commit just `paths` (and what is under them): they and the parent directories their
   * existence depends on go to the flash in one batch; every other change stays pending in RAM.
   * Resolves with false when none of them had a change to commit.
   */
  commitPaths(paths: readonly string[]): Promise<boolean> {
    return this.serialized(async () => {
      if (!this.flusher) return false;
      const inStage = [...this.changes.current.paths.keys()].some((vpath) => paths.some((root) => isAtOrUnder(vpath, root)));
      const inSnapshots = this.queue.length > 0;
      if (!inStage && !inSnapshots) return false;
      await this.flusher.flush(inStage ? paths : []);
      return true;
    });
  }

  /**
   * Drop the changes of `paths` (and what is under them) that are only in RAM: the union shows
   * their last persisted version again (the lower's, in volatile mode). Refused while files are
   * open there. Returns the recorded paths dropped.
   */
  discard(paths: readonly string[]): Promise<string[]> {
    return this.serialized(async () => {
      await this.whenClosed(paths, 'discard');
      return this.dropPending(paths); // synchronously after the check: nothing opens in between
    });
  }

  /**
   * Back to the factory version (the lowers') for `paths`: what the upper holds for them goes in
   * one flush batch (atomic, crash-safe like any flush), then the pending changes are dropped.
   * Refused while files are open there, and while a failed flush waits to be retried (batches
   * reach the flash in order).
   */
  revert(paths: readonly string[]): Promise<string[]> {
    return this.serialized(async () => {
      await this.whenClosed(paths, 'revert');
      const upper = this.options.upper;
      if (!this.flusher || !upper) return this.dropPending(paths);
      if (this.queue.length > 0) {
        throw new Refused('failing', 'a flush is waiting to be retried (the flash did not take it)', 'see persistctl status; revert once the flash takes flushes again');
      }
      // Stubs of files being dropped anyway do not count.
      const dropped = new Set<bigint>();
      for (const layer of [this.union.layers.top, ...this.queue.map((s) => s.layer)]) {
        for (const vpath of paths) collectInos(vpath === '/' ? layer.root : layer.root + vpath, dropped);
      }
      for (const vpath of paths) {
        const real = vpath === '/' ? upper : upper + vpath;
        if (this.stubs.readingFrom(real, dropped) > 0) {
          throw new Refused('busy', `a large file renamed away from ${vpath} still reads its unchanged bytes from the flash version`, 'commit first (persistctl commit), then revert');
        }
      }
      const removals = paths.flatMap((vpath) => upperEntriesAt(upper, vpath));
      const reverted = new Set<string>(removals);
      if (removals.length > 0) {
        const seq = ++this.seq;
        const inodeMap = await this.flusher.applyPlan(seq, { ops: removals.map((path) => ({ op: 'remove' as const, path })), objects: new Map() });
        this.flashVersion++;
        try {
          this.union.inodes.adopt(inodeMap);
        } catch (err) {
          this.options.log(`persistd: bug after the revert batch ${seq}: ${(err as Error).stack}`);
        }
        this.union.layersEdited();
      }
      await this.whenClosed(paths, 'revert');
      for (const vpath of this.dropPending(paths)) reverted.add(vpath);
      return [...reverted].sort();
    });
  }

  /**
   * Resolves, with no flush running, once no file is open at `paths`; refuses after a second.
   * The wait is for the kernel: FUSE sends a file's release after close(2) has returned, so
   * `cat FILE; persistctl discard FILE` would otherwise find it still open.
   */
  private async whenClosed(paths: readonly string[], what: string): Promise<void> {
    const deadline = Date.now() + RELEASE_WAIT_MS;
    for (;;) {
      await this.flusher?.idle();
      const open = this.union.files.openUnder(paths);
      if (open.length === 0) return;
      if (Date.now() >= deadline) this.refuseOpen(open, what);
      await new Promise((next) => setTimeout(next, 20));
    }
  }

  private refuseOpen(open: readonly string[], what: string): never {
    const shown = open.slice(0, 5).join(', ') + (open.length > 5 ? ` and ${open.length - 5} more` : '');
    throw new Refused('busy', `cannot ${what}: files are open there (${shown})`, 'close them (e.g. stop the program using them; fuser -vm MOUNTPOINT shows who) and try again');
  }

  /**
   * Remove `paths` from the live stage and from every snapshot not yet journaled, with their
   * records and stubs. Synchronous: no FUSE operation sees a half-done discard.
   */
  private dropPending(paths: readonly string[]): string[] {
    const layers = [this.union.layers.top, ...this.queue.filter((s) => !this.flusher?.isPrepared(s)).map((s) => s.layer)];
    const stubInos = new Set<bigint>();
    for (const layer of layers) {
      for (const vpath of paths) {
        const real = vpath === '/' ? layer.root : layer.root + vpath;
        if (this.stubs.size > 0) collectInos(real, stubInos);
        if (vpath === '/') {
          for (const name of readdirSync(real)) rmSync(join(real, name), { recursive: true, force: true });
        } else {
          rmSync(real, { recursive: true, force: true });
        }
      }
    }
    this.stubs.discarded(stubInos);
    const dropped = new Set(this.changes.dropped(paths));
    for (const snapshot of this.queue) {
      if (this.flusher?.isPrepared(snapshot)) continue;
      const { paths: gone, bytes } = snapshot.record.drop(paths);
      snapshot.bytes = Math.max(0, snapshot.bytes - bytes);
      for (const vpath of gone) dropped.add(vpath);
    }
    this.snapshotsVersion++;
    this.union.layersEdited();
    return [...dropped].sort();
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
  freeze(only?: readonly string[]): Snapshot | null {
    if (!this.changes.pending) return null;
    if (only?.length === 0) return null;
    const seq = this.seq + 1;
    const frozen = freezeStage(this.union, join(this.options.dir, `frozen-${seq}`), this.volatileRoots, this.options.log, only);
    const { layer } = frozen;
    this.seq = seq;
    const taken = this.changes.taken();
    this.stubs.frozen(layer);
    if (frozen.keptInStage.length > 0 && this.stubs.size > 0) {
      const inos = new Set<bigint>();
      for (const vpath of frozen.keptInStage) collectInos(this.union.layers.top.root + vpath, inos);
      this.stubs.backInStage(inos);
    }
    let { record, bytes } = taken;
    if (only) {
      // What went back to the live stage is pending there again.
      record = taken.record.split(only);
      this.changes.giveBack(taken.record, taken.since);
      bytes = record.bytes;
    }
    const snapshot: Snapshot = { seq, layer, carriesUpTo: seq, since: taken.since, bytes, record, failed: false };
    this.queue.push(snapshot);
    this.snapshotsVersion++;
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
    this.snapshotsVersion++;
  }

  /**
   * `snapshot` (the oldest) is on the flash: the upper now shows what it showed. Its inode numbers
   * move to the upper's objects, its stubs' origins to the upper files, and it leaves the stack.
   * Returns the directory to delete (the caller does it off the hot path).
   */
  retire(snapshot: Snapshot, inodeMap: string): string {
    if (this.queue[0] !== snapshot) throw new Error(`bug: batch ${snapshot.seq} retired out of order`);
    this.queue.shift();
    this.snapshotsVersion++;
    this.flashVersion++;
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

/** The union paths under which the upper has something for `vpath` (what a revert removes). */
function upperEntriesAt(upperRoot: string, vpath: string): string[] {
  if (vpath !== '/') return lstatOrNull(upperRoot + vpath) ? [vpath] : [];
  return readdirSync(upperRoot).map((name) => `/${name}`);
}

/** Inode numbers of the regular files at `real` or under it (to find their stubs). */
function collectInos(real: string, into: Set<bigint>): void {
  const st = lstatOrNull(real);
  if (!st) return;
  if (st.isFile()) into.add(st.ino);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(real)) collectInos(join(real, name), into);
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
