// Starts and stops the daemon under test. It runs in its own process (a process that touches the
// FUSE mount it serves deadlocks) and its own process group (so stray helpers die with it).
// Stopping always ends with no process and no mount left, escalating SIGTERM → SIGKILL →
// connection abort + lazy unmount when the daemon does not cooperate.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { findMount } from './mountinfo.js';
import { findRepoRoot } from './repo-root.js';
import { isMounted, unmountForcefully } from './unmount.js';

export interface PersistdOptions {
  /** Lower layers, uppermost first. */
  lowers: readonly string[];
  upper: string;
  /** Direct mode's --work; leave out in staged mode (pass --stage in extraArgs). */
  work?: string;
  mountpoint: string;
  extraArgs?: readonly string[];
  /** Filesystem type mountinfo shows once the daemon is serving. */
  fstype?: string;
  readyTimeoutMs?: number;
}

export interface PersistdExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True if SIGTERM was not enough (SIGKILL, connection abort or forced unmount were needed). */
  forced: boolean;
  output: string;
}

export interface PersistdHandle {
  pid: number;
  mountpoint: string;
  /** Everything the daemon printed so far (stdout and stderr interleaved, tail only). */
  output(): string;
  /** Stops the daemon and removes its mount; safe to call more than once. */
  stop(): Promise<PersistdExit>;
}

const OUTPUT_TAIL_BYTES = 64 * 1024;
const STOP_GRACE_MS = 10_000;

export async function startPersistd(cleanup: Cleanup, options: PersistdOptions): Promise<PersistdHandle> {
  const script = join(findRepoRoot(), 'bin', 'persistd.js');
  const args = [
    script, 'mount',
    '--lower', options.lowers.join(':'),
    '--upper', options.upper,
    ...(options.work ? ['--work', options.work] : []),
    ...(options.extraArgs ?? []),
    options.mountpoint,
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = waitForExit(child);

  let stopping: Promise<PersistdExit> | undefined;
  const handle: PersistdHandle = {
    pid: child.pid!,
    mountpoint: options.mountpoint,
    output: () => output,
    stop: () => (stopping ??= stopDaemon(child, exited, options.mountpoint, () => output)),
  };
  cleanup.add(`stop persistd ${options.mountpoint}`, async () => {
    await handle.stop();
  });

  await waitUntilServing(child, options, () => output);
  return handle;
}

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function waitForExit(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilServing(child: ChildProcess, options: PersistdOptions, output: () => string): Promise<void> {
  const fstype = options.fstype ?? 'fuse.persistd';
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    if (findMount(options.mountpoint)?.fstype === fstype) return;
    if (hasExited(child)) {
      throw new Error(
        `persistd exited (code ${child.exitCode}, signal ${child.signalCode}) before mounting ` +
          `${options.mountpoint}; its output:\n${output()}`,
      );
    }
    await sleep(50);
  }
  throw new Error(`persistd did not mount ${fstype} at ${options.mountpoint} within the timeout; its output:\n${output()}`);
}

/** Resolves true if `exited` settles within `ms`. */
async function exitsWithin(exited: Promise<ExitStatus>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([exited.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

async function stopDaemon(
  child: ChildProcess,
  exited: Promise<ExitStatus>,
  mountpoint: string,
  output: () => string,
): Promise<PersistdExit> {
  let forced = false;
  if (!hasExited(child)) {
    child.kill('SIGTERM');
    if (!(await exitsWithin(exited, STOP_GRACE_MS))) {
      forced = true;
      killGroup(child.pid!, 'SIGKILL');
      // A daemon stuck in uninterruptible sleep on its own mount only dies once the mount's
      // connection is aborted.
      if (!(await exitsWithin(exited, 2_000))) unmountForcefully(mountpoint, { abortFuse: true });
      await exitsWithin(exited, 5_000);
    }
  }
  // Helpers the daemon started (e.g. mknod) must not outlive it.
  killGroup(child.pid!, 'SIGKILL');
  if (isMounted(mountpoint)) {
    forced = true;
    unmountForcefully(mountpoint, { abortFuse: true });
  }
  const status = hasExited(child) ? await exited : { code: null, signal: null };
  return { code: status.code, signal: status.signal, forced, output: output() };
}
