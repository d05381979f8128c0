/**
 * The flusher: moves the stage to the flash in batches. A flush freezes the stage (one instant,
 * O(1): see Overlay.freezeStage), then plans, prepares, commits and applies the snapshot through
 * the journal while the union keeps serving from a fresh stage. Snapshots reach the flash oldest
 * first; one that fails (ENOSPC, EIO) stays in RAM, in the layer stack, and is retried with
 * backoff. Triggers: the oldest pending change reaching the interval, pending bytes reaching
 * max-dirty (never closer together than min-interval), an explicit flush, and shutdown.
 */
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layer, Overlay } from '../overlay/index.js';
import { stepsSoFar } from './crash.js';
import { applyBatch, prepareBatch, type FlashPaths, type Pace, type PreparedBatch } from './journal.js';
import { deviceStatPath, prometheusText, readDeviceCounters, writeAtomically, type FlushStats } from './metrics.js';
import { applyInRam, planFlush } from './plan.js';
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
  /** The --stage directory (frozen snapshots are renamed inside it). */
  stageDir: string;
  paths: FlashPaths;
  policy: FlushPolicy;
  /** Batches continue after this number. */
  lastSeq: number;
  metricsFile?: string;
  /** Path prefixes kept in RAM only: never flushed. */
  volatile: string[];
  log: (line: string) => void;
}

interface Snapshot {
  layer: Layer;
  seq: number;
  /** The newest snapshot whose changes this one carries (newer ones are folded in after a failure). */
  carriesUpTo: number;
  since: number | null;
  bytes: number;
  batch: PreparedBatch | null;
  /** A flush of it failed: before the next attempt, newer snapshots are merged into it. */
  failed: boolean;
}

const TICK_MS = 200;
const METRICS_EVERY_MS = 5_000;
const MAX_BACKOFF_MS = 60_000;

export class Flusher {
  private readonly snapshots: Snapshot[] = []; // oldest first
  private seq: number;
  /** Every snapshot up to this number is on the flash. */
  private durableSeq: number;
  private running: Promise<void> | null = null;
  private lastFreeze = 0;
  private retryAt = 0;
  private backoffMs = 1_000;
  private lastError: unknown = null;
  private lastMetrics = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly stats: FlushStats;
  private readonly deviceStat: string | null;
  private readonly pace: Pace;

  constructor(
    private readonly overlay: Overlay,
    private readonly options: FlusherOptions,
  ) {
    this.seq = options.lastSeq;
    this.durableSeq = options.lastSeq;
    this.deviceStat = deviceStatPath(options.paths.upper);
    this.stats = {
      appBytesWritten: 0, flashBytesWritten: 0, flushes: 0, flushFailures: 0, pendingBytes: 0,
      oldestPendingSeconds: 0, lastFlush: null, device: null,
    };
    this.pace = rateLimiter(options.policy.rateBytesPerSec);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.writeMetrics();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Bytes and age of what is not on the flash yet; counters; the last result. */
  status(): FlushStats {
    const changes = this.overlay.changes;
    const since = [changes.pendingSince, ...this.snapshots.map((s) => s.since)].filter((t): t is number => t !== null);
    this.stats.appBytesWritten = changes.appBytes;
    this.stats.pendingBytes = changes.pendingBytes + this.snapshots.reduce((sum, s) => sum + s.bytes, 0);
    this.stats.oldestPendingSeconds = since.length ? (Date.now() - Math.min(...since)) / 1000 : 0;
    if (this.deviceStat) this.stats.device = { name: this.deviceStat.split('/')[4]!, ...readDeviceCounters(this.deviceStat) };
    return { ...this.stats };
  }

  /**
   * Make everything written so far durable (an explicit commit, fsync "honor", shutdown).
   * Ignores min-interval. Rejects with the flush's error if the data could not be written.
   */
  async flush(): Promise<void> {
    this.freeze();
    // By number, not by snapshot: after a failure newer snapshots are folded into an older one,
    // and only the flush of that one makes this data durable.
    const target = this.seq;
    while (this.durableSeq < target) {
      await (this.running ??= this.drain().finally(() => (this.running = null)));
      if (this.durableSeq < target && this.lastError) throw this.lastError;
    }
  }

  /** Stage filling up: flush now, whatever min-interval says. */
  relieve(): void {
    if (!this.running) void this.flush().catch(() => {});
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastMetrics >= METRICS_EVERY_MS) this.writeMetrics();
    if (this.running) return;
    const { policy } = this.options;
    const changes = this.overlay.changes;
    const dueByAge = changes.pendingSince !== null && now - changes.pendingSince >= policy.intervalMs;
    const dueBySize = changes.pendingBytes >= policy.maxDirtyBytes;
    const spaced = now - this.lastFreeze >= policy.minIntervalMs;
    const retry = this.snapshots.length > 0 && now >= this.retryAt;
    if ((dueByAge || dueBySize) && spaced) this.freeze();
    if ((this.snapshots.length > 0 && !this.lastError) || retry) {
      this.running = this.drain().finally(() => (this.running = null));
    }
  }

  /** Freeze the stage if anything changed since the last freeze. */
  private freeze(): void {
    if (!this.overlay.changes.pending) return;
    const seq = ++this.seq;
    const keep = this.options.volatile.map((p) => p.replace(/\/+$/, '')).filter(Boolean);
    const layer = this.overlay.freezeStage(join(this.options.stageDir, `frozen-${seq}`), keep);
    const taken = this.overlay.changes.taken();
    this.snapshots.push({ layer, seq, carriesUpTo: seq, since: taken.since, bytes: taken.bytes, batch: null, failed: false });
    this.lastFreeze = Date.now();
  }

  /** Flush snapshots oldest first; stop at the first failure (order matters) and back off. */
  private async drain(): Promise<void> {
    while (this.snapshots.length > 0) {
      const snapshot = this.snapshots[0]!;
      const started = Date.now();
      try {
        if (snapshot.failed && !snapshot.batch) this.mergeNewerInto(snapshot);
        await this.flushOne(snapshot);
        this.lastError = null;
        this.backoffMs = 1_000;
        this.stats.flushes++;
        this.stats.lastFlush = { success: true, timestamp: Date.now() / 1000, durationSeconds: (Date.now() - started) / 1000, bytes: snapshot.batch?.bytes ?? 0 };
      } catch (err) {
        snapshot.failed = true;
        this.lastError = err;
        this.stats.flushFailures++;
        const message = (err as Error).message;
        this.stats.lastFlush = { success: false, timestamp: Date.now() / 1000, durationSeconds: (Date.now() - started) / 1000, bytes: 0, error: message };
        this.retryAt = Date.now() + this.backoffMs;
        this.options.log(`persistd: flush of batch ${snapshot.seq} failed, the data stays in RAM, retry in ${this.backoffMs / 1000}s: ${message}`);
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
        break;
      } finally {
        this.writeMetrics();
      }
    }
  }

  private async flushOne(snapshot: Snapshot): Promise<void> {
    const stepsBefore = stepsSoFar();
    const { paths } = this.options;
    if (!snapshot.batch) {
      const plan = planFlush({
        frozen: snapshot.layer,
        upperRoot: paths.upper,
        lowerRoot: this.overlay.rootOf(this.overlay.layers.lowers),
        lowerChild: (dir, name) => this.overlay.childIn(dir, name),
        volatile: (vpath) => underAny(vpath, this.options.volatile),
      });
      try {
        snapshot.batch = await prepareBatch(paths, snapshot.seq, plan, (_, st) => this.overlay.inodes.of(snapshot.layer, st), this.pace, this.overlay.stubs);
      } catch (err) {
        await rm(join(paths.journal, `batch-${snapshot.seq}.tmp`), { recursive: true, force: true }).catch(() => {});
        throw err;
      }
      this.stats.flashBytesWritten += snapshot.batch.bytes;
    }
    const inodeMap = await applyBatch(paths, snapshot.batch.dir);
    // The batch is on the flash and retired: from here on nothing may fail the flush.
    this.snapshots.shift();
    this.durableSeq = snapshot.carriesUpTo;
    try {
      this.overlay.inodes.adopt(inodeMap);
      this.overlay.stubs.flushed(snapshot.layer, paths.upper);
    } catch (err) {
      this.options.log(`persistd: bug after flushing batch ${snapshot.seq}: ${(err as Error).stack}`);
    }
    this.overlay.dropFrozen(snapshot.layer);
    this.options.log(
      `persistd: flushed batch ${snapshot.seq}: ${stepsSoFar() - stepsBefore} steps, ${snapshot.batch.bytes} bytes, ${snapshot.batch.objects} objects`,
    );
    await rm(snapshot.layer.root, { recursive: true, force: true });
  }

  /**
   * A snapshot that could not be flushed (e.g. the flash is full) must not block what came after:
   * deleting files to make room only shows in newer snapshots. So everything newer, the current
   * stage included, is folded into it (on the stage's tmpfs: renames, no copies) and the next
   * attempt flushes the union's current state.
   */
  private mergeNewerInto(oldest: Snapshot): void {
    this.freeze();
    const below = [...(this.overlay.layers.upper ? [this.overlay.layers.upper] : []), ...this.overlay.layers.lowers];
    while (this.snapshots.length > 1) {
      const newer = this.snapshots.splice(1, 1)[0]!;
      const plan = planFlush({
        frozen: newer.layer,
        upperRoot: oldest.layer.root,
        lowerRoot: this.overlay.rootOf(below),
        lowerChild: (dir, name) => this.overlay.childIn(dir, name),
      });
      applyInRam(plan, oldest.layer.root);
      this.overlay.stubs.merged(newer.layer, oldest.layer);
      this.overlay.dropFrozen(newer.layer);
      oldest.bytes += newer.bytes;
      oldest.carriesUpTo = newer.carriesUpTo;
      oldest.since = oldest.since ?? newer.since;
      rmSync(newer.layer.root, { recursive: true, force: true });
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
