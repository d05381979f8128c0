// persistd as a child process for the benchmark. Like test/support/persistd.ts (own process, own
// process group, never touched by the process that serves the mount), but SIGTERM gets a long grace
// period: in staged mode the daemon flushes everything pending before it exits, and that final flush
// is part of what the benchmark measures.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Cleanup } from '../../test/support/cleanup.js';
import { findMount } from '../../test/support/mountinfo.js';
import { findRepoRoot } from '../../test/support/repo-root.js';
import { isMounted, unmountForcefully } from '../../test/support/unmount.js';
import { sleep } from './units.js';

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** SIGTERM was not enough (SIGKILL / connection abort / forced unmount were needed). */
  forced: boolean;
  output: string;
}

export interface Daemon {
  pid: number;
  output(): string;
  stop(): Promise<DaemonExit>;
}

const OUTPUT_TAIL = 256 * 1024;

export async function startDaemon(
  cleanup: Cleanup,
  args: readonly string[],
  mountpoint: string,
  options: { stopGraceMs: number; readyTimeoutMs?: number; fstype?: string },
): Promise<Daemon> {
  const script = join(findRepoRoot(), 'bin', 'persistd.js');
  const child = spawn(process.execPath, [script, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const exitsWithin = async (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
    clearTimeout(timer);
    return result;
  };
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };

  let stopping: Promise<DaemonExit> | undefined;
  const stop = async (): Promise<DaemonExit> => {
    let forced = false;
    if (!gone()) {
      child.kill('SIGTERM');
      if (!(await exitsWithin(options.stopGraceMs))) {
        forced = true;
        killGroup('SIGKILL');
        if (!(await exitsWithin(2000))) unmountForcefully(mountpoint, { abortFuse: true });
        await exitsWithin(5000);
      }
    }
    killGroup('SIGKILL');
    if (isMounted(mountpoint)) {
      forced = true;
      unmountForcefully(mountpoint, { abortFuse: true });
    }
    const status = gone() ? await exited : { code: null, signal: null };
    return { ...status, forced, output };
  };
  const daemon: Daemon = { pid: child.pid!, output: () => output, stop: () => (stopping ??= stop()) };
  cleanup.add(`stop persistd ${mountpoint}`, async () => {
    await daemon.stop();
  });

  const fstype = options.fstype ?? 'fuse.persistd';
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (findMount(mountpoint)?.fstype === fstype) return daemon;
    if (gone()) throw new Error(`persistd exited (code ${child.exitCode}, signal ${child.signalCode}) before mounting: ${output.trim()}`);
    if (Date.now() > deadline) throw new Error(`persistd did not mount ${mountpoint} in time; output: ${output.trim()}`);
    await sleep(50);
  }
}
