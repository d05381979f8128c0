// The daemon in staged mode (`--stage`, with or without `--upper`), for the flush tests. Like
// persistd.ts it runs the daemon as a child in its own process group and always ends with no
// process and no mount left; in addition it lets a test pass environment (PERSIST_CRASH_AT),
// leave out --upper (volatile mode), send signals (SIGUSR1 = flush now), wait for lines the
// daemon prints (`persistd: flushed batch ...`) and wait for the daemon to die on its own.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { findMount } from './mountinfo.js';
import { findRepoRoot } from './repo-root.js';
import { isMounted, unmountForcefully } from './unmount.js';

export interface StagedPersistdOptions {
  /** Lower layers, uppermost first. */
  lowers: readonly string[];
  /** FLASH/upper; leave out for volatile mode. */
  upper?: string;
  stage: string;
  work?: string;
  mountpoint: string;
  /** Flush policy and other flags (--flush-interval 1s, --metrics-file F, ...). */
  extraArgs?: readonly string[];
  /** Added to this process's environment (e.g. PERSIST_CRASH_AT). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopResult extends DaemonExit {
  /** True if SIGTERM was not enough, or the daemon had died and left its mount behind. */
  forced: boolean;
  output: string;
}

/** One `persistd: flushed batch SEQ: STEPS steps, BYTES bytes, OBJECTS objects` line. */
export interface FlushedBatch {
  seq: number;
  steps: number;
  bytes: number;
  objects: number;
}

const FLUSHED_LINE = /persistd: flushed batch (\d+): (\d+) steps, (\d+) bytes, (\d+) objects/;
const STOP_GRACE_MS = 60_000; // SIGTERM flushes first; a rate-limited flush takes a while

export function parseFlushedBatches(output: string): FlushedBatch[] {
  const batches: FlushedBatch[] = [];
  for (const line of output.split('\n')) {
    const match = FLUSHED_LINE.exec(line);
    if (match) batches.push({ seq: Number(match[1]), steps: Number(match[2]), bytes: Number(match[3]), objects: Number(match[4]) });
  }
  return batches;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class StagedPersistd {
  readonly pid: number;
  readonly exited: Promise<DaemonExit>;
  private readonly child: ChildProcess;
  private text = '';
  private stopping: Promise<StopResult> | undefined;

  private constructor(private readonly options: StagedPersistdOptions) {
    const script = join(findRepoRoot(), 'bin', 'persistd.js');
    const args = [
      script, 'mount',
      '--lower', options.lowers.join(':'),
      ...(options.upper === undefined ? [] : ['--upper', options.upper]),
      '--stage', options.stage,
      ...(options.work === undefined ? [] : ['--work', options.work]),
      ...(options.extraArgs ?? []),
      options.mountpoint,
    ];
    this.child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(options.env ?? {}) },
    });
    this.pid = this.child.pid!;
    const collect = (chunk: Buffer): void => {
      this.text += chunk.toString('utf8');
      if (this.text.length > 4 * 1024 * 1024) this.text = this.text.slice(-2 * 1024 * 1024);
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      this.child.once('error', () => resolve({ code: null, signal: null }));
    });
  }

  /** Starts the daemon and resolves once its FUSE mount is in mountinfo. */
  static async start(cleanup: Cleanup, options: StagedPersistdOptions): Promise<StagedPersistd> {
    const daemon = new StagedPersistd(options);
    cleanup.add(`stop persistd ${options.mountpoint}`, async () => {
      await daemon.stop();
    });
    await daemon.waitUntilServing();
    return daemon;
  }

  get mountpoint(): string {
    return this.options.mountpoint;
  }

  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string {
    return this.text;
  }

  hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  flushedBatches(): FlushedBatch[] {
    return parseFlushedBatches(this.text);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.hasExited()) this.child.kill(signal);
  }

  /** Resolves with the first match of `pattern` in the output after `fromOffset` (a length of output()). */
  async waitForOutput(pattern: RegExp, fromOffset: number, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.slice(fromOffset));
      if (match) return match;
      if (this.hasExited()) {
        throw new Error(`persistd exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) while waiting for ${what}; its output:\n${this.tail()}`);
      }
      if (Date.now() > deadline) throw new Error(`no ${what} from persistd within ${timeoutMs} ms; its output:\n${this.tail()}`);
      await sleep(25);
    }
  }

  /** Waits for the next completed flush after the output seen so far (started by someone else). */
  async waitForNextFlush(fromOffset: number, timeoutMs: number): Promise<FlushedBatch> {
    await this.waitForOutput(FLUSHED_LINE, fromOffset, timeoutMs, 'a "flushed batch" line');
    return parseFlushedBatches(this.text.slice(fromOffset))[0]!;
  }

  /** SIGUSR1 (flush now) and the batch that flush completed. */
  async flushNow(timeoutMs = 60_000): Promise<FlushedBatch> {
    const offset = this.text.length;
    this.signal('SIGUSR1');
    return this.waitForNextFlush(offset, timeoutMs);
  }

  /** Resolves with the exit status if the daemon exits within `timeoutMs`, else undefined. */
  async waitForExit(timeoutMs: number): Promise<DaemonExit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    return result;
  }

  /**
   * SIGTERM (flush, unmount, exit), escalating to SIGKILL and a connection abort; afterwards no
   * process and no mount are left. If the daemon had already died, only cleans up its mount.
   */
  stop(): Promise<StopResult> {
    return (this.stopping ??= this.doStop());
  }

  tail(bytes = 8192): string {
    return this.text.slice(-bytes);
  }

  private async doStop(): Promise<StopResult> {
    let forced = false;
    if (!this.hasExited()) {
      this.child.kill('SIGTERM');
      if (!(await this.waitForExit(STOP_GRACE_MS))) {
        forced = true;
        this.killGroup('SIGKILL');
        if (!(await this.waitForExit(2_000))) unmountForcefully(this.options.mountpoint, { abortFuse: true });
        await this.waitForExit(5_000);
      }
    }
    this.killGroup('SIGKILL'); // helpers the daemon started must not outlive it
    if (isMounted(this.options.mountpoint)) {
      forced = true;
      unmountForcefully(this.options.mountpoint, { abortFuse: true });
    }
    const status = this.hasExited() ? await this.exited : { code: null, signal: null };
    return { ...status, forced, output: this.text };
  }

  private killGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is gone.
    }
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (findMount(this.options.mountpoint)?.fstype === 'fuse.persistd') return;
      if (this.hasExited()) {
        throw new Error(
          `persistd exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before mounting ` +
            `${this.options.mountpoint}; its output:\n${this.tail()}`,
        );
      }
      await sleep(50);
    }
    throw new Error(`persistd did not mount ${this.options.mountpoint} within the timeout; its output:\n${this.tail()}`);
  }
}
