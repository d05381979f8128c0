// The systems under test. Each one turns (lower, flash) into a mounted root for the workload and
// knows how to stop so that everything it will ever write to the flash has been handed to it.

import { spawn } from 'node:child_process';
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from '../../test/support/cleanup.js';
import { run } from '../../test/support/command.js';
import { mountKernelOverlay } from '../../test/support/overlayfs.js';
import { startPersistd } from '../../test/support/persistd.js';
import { mountTmpfs } from '../../test/support/tmpfs.js';
import type { Flash } from './flash.js';
import { formatDuration } from './units.js';

export interface SystemSettings {
  intervalMs: number;
  /** Flags given to persistd in staged mode after `--stage DIR`. */
  persistStagedArgs: readonly string[];
  stageSize: string;
  /** How long persistd may take to flush and exit after SIGTERM. */
  stopGraceMs: number;
}

export interface SystemContext {
  cleanup: Cleanup;
  /** Scratch directory of this run (not on the flash). */
  dir: string;
  lower: string;
  flash: Flash;
  settings: SystemSettings;
}

export interface StopReport {
  /** Free-form facts worth keeping (rsync passes, daemon exit, ...). */
  details: Record<string, unknown>;
}

export interface RunningSystem {
  mountpoint: string;
  /** The RAM layer (a tmpfs), whose usage is this system's RAM cost; undefined if none. */
  stageMount?: string;
  /** Unmounts the union and completes every write bound for the flash (final flush / rsync). */
  stop(): Promise<StopReport>;
}

export interface SystemDefinition {
  name: string;
  /** One line for the report: what this system is. */
  describe(settings: SystemSettings): string;
  start(context: SystemContext): Promise<RunningSystem>;
}

export function flashLayers(flash: Flash): { upper: string; work: string } {
  return { upper: join(flash.mountpoint, 'upper'), work: join(flash.mountpoint, 'work') };
}

/** Directories every system gets on the flash before the counters are read. */
export function prepareFlash(flash: Flash): void {
  const { upper, work } = flashLayers(flash);
  mkdirSync(upper, { recursive: true });
  mkdirSync(work, { recursive: true });
}

export function tmpfsUsedBytes(mountpoint: string): number {
  const stat = statfsSync(mountpoint);
  return (stat.blocks - stat.bfree) * stat.bsize;
}

const kernel: SystemDefinition = {
  name: 'kernel',
  describe: () => 'kernel overlayfs, upperdir and workdir on the flash',
  async start({ cleanup, dir, lower, flash }) {
    const mountpoint = join(dir, 'root');
    mountKernelOverlay(cleanup, { lowers: [lower], ...flashLayers(flash) }, mountpoint);
    return {
      mountpoint,
      async stop() {
        run('umount', [mountpoint], { timeoutMs: 60_000 });
        return { details: {} };
      },
    };
  },
};

function persistSystem(name: string, staged: boolean): SystemDefinition {
  return {
    name,
    describe: (settings) =>
      staged
        ? `persistd, stage on a tmpfs, upper on the flash: ${['--stage', 'STAGE', ...settings.persistStagedArgs].join(' ')}`
        : 'persistd without a stage, upper on the flash (every write goes to the flash, like kernel overlayfs)',
    async start({ cleanup, dir, lower, flash, settings }) {
      const mountpoint = join(dir, 'root');
      mkdirSync(mountpoint, { recursive: true });
      let stageMount: string | undefined;
      let stage: string | undefined;
      if (staged) {
        stageMount = mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: settings.stageSize });
        stage = join(stageMount, 'stage');
        mkdirSync(stage);
      }
      // No --work: persistd's default (a `work` directory beside the upper) is FLASH/work.
      // The final flush after SIGTERM is part of what is measured: it gets a long grace period.
      const daemon = await startPersistd(cleanup, {
        lowers: [lower],
        upper: flashLayers(flash).upper,
        stage,
        extraArgs: staged ? settings.persistStagedArgs : [],
        mountpoint,
        readyTimeoutMs: 20_000,
        stopGraceMs: settings.stopGraceMs,
      });
      return {
        mountpoint,
        ...(stageMount === undefined ? {} : { stageMount }),
        async stop() {
          const started = Date.now();
          const exit = await daemon.stop();
          const details = { exitCode: exit.code, signal: exit.signal, forced: exit.forced, stopMs: Date.now() - started };
          if (exit.code !== 0 || exit.forced) {
            throw new Error(
              `persistd did not stop cleanly (code ${exit.code}, signal ${exit.signal}, forced ${exit.forced}); ` +
                `its final flush may be missing, so the numbers would be wrong. Output tail:\n${exit.output.slice(-4000)}`,
            );
          }
          // persistd's own account: every `persistd: flushed batch SEQ: STEPS steps, BYTES bytes, OBJECTS objects`.
          const batches = daemon.flushedBatches();
          const flushedBytes = batches.reduce((sum, batch) => sum + batch.bytes, 0);
          return { details: { ...details, flushes: batches.length, flushedBytes, batches, outputTail: exit.output.slice(-2000) } };
        },
      };
    },
  };
}

/**
 * The log2ram / profile-sync-daemon pattern: the writable layer lives in RAM (kernel overlayfs with
 * its upper on a tmpfs) and `rsync` mirrors it to the flash every interval and at shutdown. Cheap on
 * the flash, but a power cut during an rsync leaves a mix of two states.
 */
const rsyncBaseline: SystemDefinition = {
  name: 'rsync',
  describe: (settings) =>
    `kernel overlayfs with upper on a tmpfs + \`rsync -aHX --delete\` of that upper to the flash every ${formatDuration(settings.intervalMs)} and at stop (log2ram/psd style)`,
  async start({ cleanup, dir, lower, flash, settings }) {
    const stageMount = mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: settings.stageSize });
    const stageUpper = join(stageMount, 'upper');
    const mountpoint = join(dir, 'root');
    mountKernelOverlay(cleanup, { lowers: [lower], upper: stageUpper, work: join(stageMount, 'work') }, mountpoint);
    const target = flashLayers(flash).upper;
    const passes: number[] = [];
    let failure: Error | undefined;
    let inFlight: Promise<void> | undefined;
    const sync = (): Promise<void> => {
      const started = Date.now();
      return new Promise<void>((resolve) => {
        const child = spawn('rsync', ['-aHX', '--delete', '--numeric-ids', `${stageUpper}/`, `${target}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
        });
        child.once('error', (error) => {
          failure ??= error;
          resolve();
        });
        child.once('exit', (code) => {
          if (code !== 0) failure ??= new Error(`rsync exited ${code}: ${stderr.trim()}`);
          passes.push(Date.now() - started);
          resolve();
        });
      });
    };
    const timer = setInterval(() => {
      if (!inFlight) inFlight = sync().finally(() => (inFlight = undefined));
    }, settings.intervalMs);
    cleanup.add('stop rsync timer', () => clearInterval(timer));
    return {
      mountpoint,
      stageMount,
      async stop() {
        clearInterval(timer);
        await inFlight;
        run('umount', [mountpoint], { timeoutMs: 60_000 });
        await sync();
        if (failure) throw failure;
        return { details: { rsyncPasses: passes.length, rsyncMs: passes } };
      },
    };
  },
};

export const SYSTEMS: readonly SystemDefinition[] = [kernel, persistSystem('persist', true), rsyncBaseline, persistSystem('persist-direct', false)];
