// The one way tests and benchmarks start the daemon under test, in any mode: direct (--upper),
// staged (--upper and --stage) or volatile (--stage only). It runs in its own process (a process
// that touches the FUSE mount it serves deadlocks) and its own process group (so stray helpers die
// with it). Starting resolves once the mount is in mountinfo. Stopping always ends with no process
// and no mount left, escalating SIGTERM → SIGKILL → connection abort + lazy unmount when the daemon
// does not cooperate. On top of that a caller can pass environment (PERSIST_CRASH_AT), send
// signals (SIGUSR1 = flush now), wait for lines the daemon prints (`persistd: flushed batch ...`)
// and wait for the daemon to die on its own.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Cleanup } from './cleanup.js';
import { findMount } from './mountinfo.js';
import { findRepoRoot } from './repo-root.js';
import { isMounted, unmountForcefully } from './unmount.js';

export interface PersistdOptions {
  /** Lower layers, uppermost first. */
  lowers: readonly string[];
  /** --upper (FLASH/upper in staged mode); leave out with a stage for volatile mode. */
  upper?: string;
  /** --stage: the RAM stage of staged and volatile mode. */
  stage?: string;
  /** --work; in direct mode the daemon's default is a `work` directory beside the upper. */
  work?: string;
  mountpoint: string;
  /**
   * The control socket: default MOUNTPOINT.sock (beside the mountpoint, so that no test touches
   * the system's /run/persist/control.sock); false for none.
   */
  socket?: string | false;
  /** Flush policy and other flags (--flush-interval 1s, --metrics-file F, ...), before the mountpoint. */
  extraArgs?: readonly string[];
  /** Added to this process's environment (e.g. PERSIST_CRASH_AT). */
  env?: Record<string, string>;
  /** Filesystem type mountinfo shows once the daemon is serving. */
  fstype?: string;
  /** How long the mount may take to appear (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * How long SIGTERM may take before stop() forces its way. Default 10 s in direct mode and 60 s
   * with a stage: SIGTERM flushes first, and a rate-limited flush takes a while.
   */
  stopGraceMs?: number;
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopResult extends DaemonExit {
  /** True if SIGTERM was not enough, or the daemon had died and left its mount behind. */
  forced: boolean;
  /** What the daemon printed (stdout and stderr interleaved; the last 2-4 MiB). */
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
const DIRECT_STOP_GRACE_MS = 10_000;
const STAGED_STOP_GRACE_MS = 60_000;
const OUTPUT_KEPT_MAX = 4 * 1024 * 1024;
const OUTPUT_KEPT_AFTER_TRIM = 2 * 1024 * 1024;

export function parseFlushedBatches(output: string): FlushedBatch[] {
  const batches: FlushedBatch[] = [];
  for (const line of output.split('\n')) {
    const batch = parseFlushedLine(line);
    if (batch) batches.push(batch);
  }
  return batches;
}

function parseFlushedLine(line: string): FlushedBatch | undefined {
  const match = FLUSHED_LINE.exec(line);
  if (!match) return undefined;
  return { seq: Number(match[1]), steps: Number(match[2]), bytes: Number(match[3]), objects: Number(match[4]) };
}

/** The daemon's command line (after `node`), as the options spell it. */
export function persistdArgs(options: PersistdOptions): string[] {
  if (options.upper === undefined && options.stage === undefined) {
    throw new Error('persistd needs an upper, a stage, or both');
  }
  return [
    join(findRepoRoot(), 'bin', 'persistd.js'), 'mount',
    '--lower', options.lowers.join(':'),
    ...(options.upper === undefined ? [] : ['--upper', options.upper]),
    ...(options.stage === undefined ? [] : ['--stage', options.stage]),
    ...(options.work === undefined ? [] : ['--work', options.work]),
    ...(options.socket === false ? ['--no-socket'] : ['--socket', socketOf(options)]),
    ...(options.extraArgs ?? []),
    options.mountpoint,
  ];
}

function socketOf(options: PersistdOptions): string {
  return options.socket || `${options.mountpoint.replace(/\/+$/, '')}.sock`;
}

/** Starts the daemon and resolves once its FUSE mount is in mountinfo; cleanup stops it. */
export async function startPersistd(cleanup: Cleanup, options: PersistdOptions): Promise<Persistd> {
  const daemon = new Persistd(options);
  cleanup.add(`stop persistd ${options.mountpoint}`, async () => {
    await daemon.stop();
  });
  await daemon.waitUntilServing();
  return daemon;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Persistd {
  readonly pid: number;
  readonly mountpoint: string;
  /** Its control socket (null with `socket: false`). */
  readonly socketPath: string | null;
  readonly exited: Promise<DaemonExit>;
  private readonly child: ChildProcess;
  private text = '';
  /** Every flushed batch the daemon reported, parsed line by line as it arrives (never trimmed). */
  private readonly batches: FlushedBatch[] = [];
  private stopping: Promise<StopResult> | undefined;

  /** Use startPersistd(), which also registers the stop and waits for the mount. */
  constructor(private readonly options: PersistdOptions) {
    this.mountpoint = options.mountpoint;
    this.socketPath = options.socket === false ? null : socketOf(options);
    // The node flags of bin/persistd.js's first line, which a direct `node FILE` does not read.
    this.child = spawn(process.execPath, ['--max-semi-space-size=1', ...persistdArgs(options)], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(options.env ?? {}) },
    });
    this.pid = this.child.pid!;
    this.collect(this.child.stdout!);
    this.collect(this.child.stderr!);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      this.child.once('error', () => resolve({ code: null, signal: null }));
    });
  }

  /** True in staged and volatile mode. */
  get staged(): boolean {
    return this.options.stage !== undefined;
  }

  /** Everything printed so far (stdout and stderr interleaved; the last 2-4 MiB). */
  output(): string {
    return this.text;
  }

  tail(bytes = 8192): string {
    return this.text.slice(-bytes);
  }

  hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Every `flushed batch` line so far, in order, however long the output has grown. */
  flushedBatches(): FlushedBatch[] {
    return [...this.batches];
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

  /** Resolves once the control socket listens (persistd says so after mounting). */
  async controlReady(timeoutMs = 30_000): Promise<string> {
    if (!this.socketPath) throw new Error('this persistd was started without a control socket');
    await this.waitForOutput(/persistd: control socket /, 0, timeoutMs, 'the control socket');
    return this.socketPath;
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
   * SIGTERM (staged: flush, unmount, exit), escalating to SIGKILL and a connection abort;
   * afterwards no process and no mount are left. If the daemon had already died, only cleans up
   * its mount. Safe to call more than once.
   */
  stop(): Promise<StopResult> {
    return (this.stopping ??= this.doStop());
  }

  /** Resolves once the mount is in mountinfo; throws if the daemon exits first or the timeout passes. */
  async waitUntilServing(): Promise<void> {
    const fstype = this.options.fstype ?? 'fuse.persistd';
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (findMount(this.mountpoint)?.fstype === fstype) return;
      if (this.hasExited()) {
        throw new Error(
          `persistd exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before mounting ` +
            `${this.mountpoint}; its output:\n${this.tail()}`,
        );
      }
      await sleep(50);
    }
    throw new Error(`persistd did not mount ${fstype} at ${this.mountpoint} within the timeout; its output:\n${this.tail()}`);
  }

  private collect(stream: Readable): void {
    let partialLine = '';
    stream.on('data', (chunk: Buffer) => {
      const piece = chunk.toString('utf8');
      this.text += piece;
      if (this.text.length > OUTPUT_KEPT_MAX) this.text = this.text.slice(-OUTPUT_KEPT_AFTER_TRIM);
      const lines = (partialLine + piece).split('\n');
      partialLine = lines.pop()!;
      for (const line of lines) {
        const batch = parseFlushedLine(line);
        if (batch) this.batches.push(batch);
      }
    });
  }

  private async doStop(): Promise<StopResult> {
    const grace = this.options.stopGraceMs ?? (this.staged ? STAGED_STOP_GRACE_MS : DIRECT_STOP_GRACE_MS);
    let forced = false;
    if (!this.hasExited()) {
      this.child.kill('SIGTERM');
      if (!(await this.waitForExit(grace))) {
        forced = true;
        this.killGroup('SIGKILL');
        // A daemon stuck in uninterruptible sleep on its own mount only dies once the mount's
        // connection is aborted.
        if (!(await this.waitForExit(2_000))) unmountForcefully(this.mountpoint, { abortFuse: true });
        await this.waitForExit(5_000);
      }
    }
    this.killGroup('SIGKILL'); // helpers the daemon started (e.g. mknod) must not outlive it
    if (isMounted(this.mountpoint)) {
      forced = true;
      unmountForcefully(this.mountpoint, { abortFuse: true });
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
}
