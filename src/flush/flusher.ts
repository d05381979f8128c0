/**
 * The flusher: the stage's worker towards the flash (src/stage owns the stage and creates it in
 * staged mode). A flush freezes the stage (one instant, O(1): src/stage/freeze.ts), then plans,
 * prepares, commits and applies the snapshot through the journal while the union keeps serving
 * from a fresh stage. Snapshots reach the flash oldest
 * first; one that fails (ENOSPC, EIO) stays in RAM, in the layer stack, and is retried with
 * backoff. Triggers: the oldest pending change reaching the interval, pending bytes reaching
 * max-dirty (never closer together than min-interval), an explicit flush, and shutdown.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot, Stage } from '../stage/index.js';
import type { Plan } from './plan.js';
import { stepsSoFar } from './crash.js';
import { compactInodeMaps } from './inode-maps.js';
import { applyBatch, prepareBatch, type FlashPaths, type Pace, type PreparedBatch } from './journal/index.js';
import { deviceStatPath, prometheusText, readDeviceCounters, writeAtomically, type FlushStats } from './metrics.js';
import { sleep } from './sleep.js';

export interface FlushPolicy {
  intervalMs: number;
  maxDirtyBytes: number;
  minIntervalMs: number;
  rateBytesPerSec: number;
}

export const DEFAULT_POLICY: FlushPolicy = {
  intervalMs: 30_000,
  maxDirtyBytes: 32 * 1024 * 1024,
  minIntervalMs: 5_000,
  rateBytesPerSec: 8 * 1024 * 1024,
};

export interface FlusherOptions {
  paths: FlashPaths;
  policy: FlushPolicy;
  /** Batches up to this number are on the flash already. */
  lastSeq: number;
  metricsFile?: string;
  log: (line: string) => void;
}

const TICK_MS = 200;
const METRICS_EVERY_MS = 5_000;
const MAX_BACKOFF_MS = 60_000;
/** Flushes between compactions of FLASH/inodes. */
const COMPACT_EVERY = 64;

export class Flusher {
  /** Every snapshot up to this number is on the flash. */
  private durableSeq: number;
  /** Batches prepared (journaled) but not yet applied, by snapshot. */
  private readonly prepared = new WeakMap<Snapshot, PreparedBatch>();
  private running: Promise<void> | null = null;
  private lastFreeze = 0;
  private retryAt = 0;
  private backoffMs = 1_000;
  private lastError: unknown = null;
  private lastMetrics = 0;
  private sinceCompaction = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly stats: FlushStats;
  private readonly deviceStat: string | null;
  private readonly pace: Pace;

  constructor(
    private readonly stage: Stage,
    private readonly options: FlusherOptions,
  ) {
    this.durableSeq = options.lastSeq;
    this.deviceStat = deviceStatPath(options.paths.upper);
    this.stats = {
      appBytesWritten: 0, flashBytesWritten: 0, flushes: 0, flushFailures: 0, pendingBytes: 0,
      oldestPendingSeconds: 0, lastFlush: null, device: null, bookkeeping: stage.bookkeeping(),
    };
    const limit = rateLimiter(options.policy.rateBytesPerSec);
    this.pace = (bytes) => {
      this.progress.bytes += bytes;
      stage.events.flushProgress(this.progress.seq, this.progress.bytes);
      return limit(bytes);
    };
  }

  /** The batch being written and its bytes so far (progress events). */
  private readonly progress = { seq: 0, bytes: 0 };

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.writeMetrics();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The last flush failed (the flash is full or failing). */
  get failing(): boolean {
    return this.lastError !== null;
  }

  /** Bytes and age of what is not on the flash yet; counters; the last result. */
  status(): FlushStats {
    const unfrozen = this.stage.unfrozen;
    const snapshots = this.stage.snapshots;
    const since = [unfrozen.since, ...snapshots.map((s) => s.since)].filter((t): t is number => t !== null);
    this.stats.appBytesWritten = this.stage.changes.appBytes;
    this.stats.pendingBytes = unfrozen.bytes + snapshots.reduce((sum, s) => sum + s.bytes, 0);
    this.stats.oldestPendingSeconds = since.length ? (Date.now() - Math.min(...since)) / 1000 : 0;
    this.stats.bookkeeping = this.stage.bookkeeping();
    if (this.deviceStat) this.stats.device = { name: this.deviceStat.split('/')[4]!, ...readDeviceCounters(this.deviceStat) };
    return { ...this.stats };
  }

  /**
   * Make everything written so far durable (an explicit commit, fsync "honor", shutdown).
   * Ignores min-interval. Rejects with the flush's error if the data could not be written.
   */
  async flush(only?: readonly string[]): Promise<void> {
    this.freeze(only);
    // By number, not by snapshot: after a failure newer snapshots are folded into an older one,
    // and only the flush of that one makes this data durable.
    const target = this.stage.lastSeq;
    while (this.durableSeq < target) {
      await (this.running ??= this.drain().finally(() => (this.running = null)));
      if (this.durableSeq < target && this.lastError) throw this.lastError;
    }
  }

  /** Resolves once no flush is running (one may start again right after: act synchronously). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }

  /** The snapshot's batch is journaled already: its content can no longer change. */
  isPrepared(snapshot: Snapshot): boolean {
    return this.prepared.has(snapshot);
  }

  /**
   * Journal and apply a plan that no snapshot stands for (a revert) as batch `seq`, atomically
   * like any flush. Only when no snapshot waits (the caller checks, after idle()): batches reach
   * the flash in order. Returns the batch's inode map for the union to adopt.
   */
  async applyPlan(seq: number, plan: Plan): Promise<string> {
    await this.idle();
    const run = this.applyPlanNow(seq, plan);
    // Held like a drain: the timer starts no flush meanwhile, so batches stay in order.
    const held = run.then(() => {}, () => {}).finally(() => (this.running = null));
    this.running = held;
    return run;
  }

  private async applyPlanNow(seq: number, plan: Plan): Promise<string> {
    const { paths } = this.options;
    const started = Date.now();
    this.progress.seq = seq;
    this.progress.bytes = 0;
    this.stage.events.emit({ event: 'flush-started', seq, time: started / 1000 });
    let batch: PreparedBatch;
    try {
      batch = await prepareBatch(paths, seq, plan, () => 0, this.pace, this.stage.stubs);
    } catch (err) {
      await rm(join(paths.journal, `batch-${seq}.tmp`), { recursive: true, force: true }).catch(() => {});
      this.stage.events.emit({ event: 'flush-failed', seq, error: (err as Error).message, time: Date.now() / 1000 });
      throw err;
    }
    this.stats.flashBytesWritten += batch.bytes;
    const inodeMap = await applyBatch(paths, batch.dir);
    this.durableSeq = seq;
    this.stats.flushes++;
    const durationSeconds = (Date.now() - started) / 1000;
    this.stats.lastFlush = { success: true, timestamp: Date.now() / 1000, durationSeconds, bytes: batch.bytes };
    this.stage.events.emit({ event: 'flush-finished', seq, bytes: batch.bytes, durationSeconds, time: Date.now() / 1000 });
    this.options.log(`persistd: applied batch ${seq} (a revert): ${batch.bytes} bytes`);
    this.writeMetrics();
    return inodeMap;
  }

  /** Stage filling up: flush now, whatever min-interval says. */
  relieve(): void {
    if (!this.running) void this.flush().catch(() => {});
  }

  /** The timer: never throws (an exception here would take the root filesystem down). */
  private tick(): void {
    try {
      const now = Date.now();
      if (now - this.lastMetrics >= METRICS_EVERY_MS) this.writeMetrics();
      if (this.running) return;
      const { policy } = this.options;
      const unfrozen = this.stage.unfrozen;
      const dueByAge = unfrozen.since !== null && now - unfrozen.since >= policy.intervalMs;
      const dueBySize = unfrozen.bytes >= policy.maxDirtyBytes;
      const spaced = now - this.lastFreeze >= policy.minIntervalMs;
      const retry = this.stage.snapshots.length > 0 && now >= this.retryAt;
      if ((dueByAge || dueBySize) && spaced) this.freeze();
      if ((this.stage.snapshots.length > 0 && !this.lastError) || retry) {
        this.running = this.drain().finally(() => (this.running = null));
      }
    } catch (err) {
      this.failed(null, err);
    }
  }

  /** Freeze the stage (or just `only`) if anything changed since the last freeze. */
  private freeze(only?: readonly string[]): void {
    try {
      if (this.stage.freeze(only)) this.lastFreeze = Date.now();
    } catch (err) {
      // Nothing changed: the writes stay in the live stage and the next tick tries again.
      this.lastFreeze = Date.now();
      throw Object.assign(new Error(`cannot freeze the stage: ${(err as Error).message}`), { code: (err as { code?: string }).code });
    }
  }

  /** Flush snapshots oldest first; stop at the first failure (order matters) and back off. */
  private async drain(): Promise<void> {
    while (this.stage.snapshots.length > 0) {
      const snapshot = this.stage.snapshots[0]!;
      const started = Date.now();
      this.progress.seq = snapshot.seq;
      this.progress.bytes = 0;
      this.stage.events.emit({ event: 'flush-started', seq: snapshot.seq, time: started / 1000 });
      try {
        if (snapshot.failed && !this.prepared.has(snapshot)) this.stage.foldNewerInto(snapshot);
        const bytes = await this.flushOne(snapshot);
        this.lastError = null;
        this.backoffMs = 1_000;
        this.stats.flushes++;
        const durationSeconds = (Date.now() - started) / 1000;
        this.stats.lastFlush = { success: true, timestamp: Date.now() / 1000, durationSeconds, bytes };
        this.stage.events.emit({ event: 'flush-finished', seq: snapshot.seq, bytes, durationSeconds, time: Date.now() / 1000 });
      } catch (err) {
        snapshot.failed = true;
        this.failed(snapshot, err, started);
        this.stage.events.emit({ event: 'flush-failed', seq: snapshot.seq, error: (err as Error).message, time: Date.now() / 1000 });
        break;
      } finally {
        this.writeMetrics();
      }
    }
  }

  /** Record and report a failure; the data stays in RAM and a retry comes after a backoff. */
  private failed(snapshot: Snapshot | null, err: unknown, started = Date.now()): void {
    this.lastError = err;
    this.stats.flushFailures++;
    const message = (err as Error).message;
    this.stats.lastFlush = { success: false, timestamp: Date.now() / 1000, durationSeconds: (Date.now() - started) / 1000, bytes: 0, error: message };
    this.retryAt = Date.now() + this.backoffMs;
    const what = snapshot ? `flush of batch ${snapshot.seq}` : 'flush';
    this.options.log(`persistd: ${what} failed, the data stays in RAM, retry in ${this.backoffMs / 1000}s: ${message}`);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  /** Journal (once), apply and retire one snapshot; returns the bytes it cost the flash. */
  private async flushOne(snapshot: Snapshot): Promise<number> {
    const stepsBefore = stepsSoFar();
    const { paths } = this.options;
    let batch = this.prepared.get(snapshot);
    if (!batch) {
      const plan = this.stage.plan(snapshot, paths.upper);
      try {
        batch = await prepareBatch(paths, snapshot.seq, plan, (_, st) => this.stage.shownIno(snapshot, st), this.pace, this.stage.stubs);
      } catch (err) {
        await rm(join(paths.journal, `batch-${snapshot.seq}.tmp`), { recursive: true, force: true }).catch(() => {});
        throw err;
      }
      this.prepared.set(snapshot, batch);
      this.stats.flashBytesWritten += batch.bytes;
    }
    const inodeMap = await applyBatch(paths, batch.dir);
    // The batch is on the flash and retired: from here on nothing may fail the flush.
    const leftover = this.stage.retire(snapshot, inodeMap);
    for (const [vpath, bytes] of batch.bytesByPath) this.stage.wear.flushed(vpath, bytes);
    this.durableSeq = snapshot.carriesUpTo;
    this.options.log(
      `persistd: flushed batch ${snapshot.seq}: ${stepsSoFar() - stepsBefore} steps, ${batch.bytes} bytes, ${batch.objects} objects`,
    );
    if (++this.sinceCompaction >= COMPACT_EVERY) this.compactInodeMaps();
    await rm(leftover, { recursive: true, force: true }).catch((err: unknown) => {
      this.options.log(`persistd: cannot remove the flushed snapshot ${leftover}: ${(err as Error).message}`);
    });
    return batch.bytes;
  }

  /** One mapping file per flush would pile up on the flash: fold them into one now and then. */
  private compactInodeMaps(): void {
    this.sinceCompaction = 0;
    try {
      compactInodeMaps(this.options.paths.inodes);
    } catch (err) {
      this.options.log(`persistd: cannot compact the inode maps in ${this.options.paths.inodes} (kept as they are): ${(err as Error).message}`);
    }
  }

  private writeMetrics(): void {
    this.lastMetrics = Date.now();
    if (!this.options.metricsFile) return;
    try {
      writeAtomically(this.options.metricsFile, prometheusText(this.status()));
    } catch (err) {
      this.options.log(`persistd: cannot write metrics to ${this.options.metricsFile}: ${(err as Error).message}`);
    }
  }
}

/** True when `vpath` is one of `prefixes` or inside one. */
export function underAny(vpath: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => {
    const p = prefix.replace(/\/+$/, '') || '/';
    return p === '/' || vpath === p || vpath.startsWith(`${p}/`);
  });
}

/** A pacer that lets `rate` bytes per second through, with up to 100 ms of burst. */
function rateLimiter(rate: number): Pace {
  let next = 0;
  return async (bytes) => {
    if (!(rate > 0)) return;
    const now = Date.now();
    next = Math.max(next, now - 100) + (bytes * 1000) / rate;
    if (next > now) await sleep(next - now);
  };
}
