// What the control socket's tests share: a ControlTarget that records its calls and answers with
// canned values (so a test can check that exactly those came through), and a raw line client
// that speaks the protocol by hand, malformed lines included.

import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import {
  ControlError,
  type ChangesPage,
  type CommitResult,
  type ControlTarget,
  type Diff,
  type DiscardResult,
  type Event,
  type ResetResult,
  type RevertResult,
  type Status,
  type Top,
} from '../../src/control/protocol.js';

export const MOUNTPOINT = '/tmp/persist-demo/root';

export const STATUS: Status = {
  mode: 'staged',
  mountpoint: MOUNTPOINT,
  pid: 4242,
  uptimeSeconds: 3725,
  layers: { lowers: ['/run/persist/lower'], upper: '/flash/upper', stage: '/run/persist/stage' },
  flash: {
    pendingBytes: 1_258_291, // 1.2 MiB
    pendingPaths: 17,
    oldestPendingSeconds: 12,
    lastFlush: { success: false, timestamp: Date.now() / 1000 - 30, durationSeconds: 0.5, bytes: 0, error: 'ENOSPC: no space left on device' },
    flushes: 9,
    flushFailures: 2,
    failing: true,
    appBytesWritten: 104_857_600,
    flashBytesWritten: 31_457_280,
    bytesAvoided: 73_400_320,
    device: { name: 'mmcblk0', writeRequests: 1234, sectorsWritten: 61_440 },
    policy: { intervalMs: 30_000, maxDirtyBytes: 33_554_432, minIntervalMs: 5000, rateBytesPerSec: 8_388_608 },
  },
  resetPending: true,
  warnings: ['the last flush failed (ENOSPC): the changes stay in RAM and are retried'],
};

export const ENTRIES: ChangesPage['entries'] = [
  { path: '/etc/hostname', kind: 'modified', state: 'pending', bytes: 9, onFlash: 'modified' },
  { path: '/etc/new', kind: 'added', state: 'pending', bytes: 3 },
  { path: '/usr/share/doc/readme', kind: 'deleted', state: 'persisted' },
  { path: '/var/log/syslog', kind: 'modified', state: 'pending', bytes: 2_097_152 },
  { path: '/var/log/wtmp', kind: 'metadata', state: 'persisted' },
];

export const DIFF: Diff = {
  path: '/etc/hostname',
  base: 'factory',
  old: { type: 'file', size: 8, sha256: 'a'.repeat(64) },
  new: { type: 'file', size: 9, sha256: 'b'.repeat(64) },
  format: 'text',
  unified: '--- /etc/hostname (factory)\n+++ /etc/hostname\n@@ -1 +1 @@\n-factory\n+appliance\n',
};

export const RESET: ResetResult = { marker: '/flash/reset-pending', next: 'reboot: the boot code wipes the upper before mounting it' };

export const TOP: Top = {
  depth: 0,
  entries: [
    { path: '/var/log/syslog', written: 52_428_800, flushed: 1_048_576, avoided: 51_380_224 },
    { path: '/etc/hostname', written: 9, flushed: 9, avoided: 0 },
  ],
  totals: { written: 104_857_600, flushed: 31_457_280, avoided: 73_400_320 },
};

export interface Call {
  op: string;
  args: unknown[];
}

type Behaviour = (...args: never[]) => unknown;

/**
 * Records every call; answers with the canned values above (changes pages through ENTRIES
 * honouring prefix/offset/limit) unless `behave[op]` says otherwise (throw, wait, ...).
 */
export class RecordingTarget implements ControlTarget {
  readonly calls: Call[] = [];
  readonly listeners = new Set<(event: Event) => void>();
  unsubscribed = 0;
  behave: Partial<Record<keyof ControlTarget, Behaviour>> = {};

  private answer<T>(op: keyof ControlTarget, args: unknown[], canned: () => T): T {
    this.calls.push({ op, args });
    const behaviour = this.behave[op] as ((...a: unknown[]) => T) | undefined;
    return behaviour ? behaviour(...args) : canned();
  }

  status(): Status {
    return this.answer('status', [], () => STATUS);
  }

  changes(query: Parameters<ControlTarget['changes']>[0]): Promise<ChangesPage> {
    return this.answer('changes', [query], async () => {
      const selected = ENTRIES.filter((e) => query.prefix === '/' || e.path === query.prefix || e.path.startsWith(`${query.prefix}/`))
        .filter((e) => !query.state || e.state === query.state)
        .filter((e) => !query.kinds?.length || query.kinds.includes(e.kind));
      return { total: selected.length, offset: query.offset, entries: selected.slice(query.offset, query.offset + query.limit) };
    });
  }

  diff(path: string, base: 'factory' | 'flash'): Promise<Diff> {
    return this.answer('diff', [path, base], async () => ({ ...DIFF, path, base }));
  }

  commit(paths: string[]): Promise<CommitResult> {
    return this.answer('commit', [paths], async () => ({ paths, batches: 2, bytes: 1_572_864 }));
  }

  discard(paths: string[]): Promise<DiscardResult> {
    return this.answer('discard', [paths], async () => ({ discarded: paths.length ? paths : ['/etc/hostname', '/etc/new'] }));
  }

  revert(paths: string[]): Promise<RevertResult> {
    return this.answer('revert', [paths], async () => ({ reverted: paths }));
  }

  reset(): Promise<ResetResult> {
    return this.answer('reset', [], async () => RESET);
  }

  top(depth: number, limit: number): Top {
    return this.answer('top', [depth, limit], () => ({ ...TOP, depth, entries: TOP.entries.slice(0, limit) }));
  }

  subscribe(listener: (event: Event) => void): () => void {
    this.calls.push({ op: 'subscribe', args: [] });
    this.listeners.add(listener);
    return () => {
      this.unsubscribed++;
      this.listeners.delete(listener);
    };
  }

  emit(event: Event): void {
    for (const listener of this.listeners) listener(event);
  }

  /** The arguments of the last call of `op`. */
  last(op: string): unknown[] {
    const call = [...this.calls].reverse().find((c) => c.op === op);
    assert.ok(call, `no ${op} call; calls: ${JSON.stringify(this.calls.map((c) => c.op))}`);
    return call.args;
  }
}

/** A protocol client by hand: send raw lines, read parsed ones, one at a time. */
export class LineClient {
  private buffer = '';
  private readonly lines: unknown[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      let newline;
      while ((newline = this.buffer.indexOf('\n')) !== -1) {
        this.lines.push(JSON.parse(this.buffer.slice(0, newline)));
        this.buffer = this.buffer.slice(newline + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((done) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        done();
      }),
    );
  }

  static connect(path: string): Promise<LineClient> {
    return new Promise((done, fail) => {
      const socket = createConnection(path);
      socket.once('connect', () => done(new LineClient(socket)));
      socket.once('error', fail);
    });
  }

  send(message: object | string): void {
    this.socket.write(typeof message === 'string' ? message : `${JSON.stringify(message)}\n`);
  }

  /** The next line the server sent (parsed); fails after `timeoutMs` or when the connection ends. */
  async next(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error('the server closed the connection');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line from the server within ${timeoutMs} ms`);
      await new Promise<void>((done) => {
        const timer = setTimeout(done, left);
        this.waiter = () => {
          clearTimeout(timer);
          done();
        };
      });
    }
    return this.lines.shift() as Record<string, unknown>;
  }

  /** Sends `request` and returns the next line (use only when nothing else is in flight). */
  async ask(request: object | string): Promise<Record<string, unknown>> {
    this.send(request);
    return this.next();
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

/** Resolves when `check()` holds; fails with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** A promise and the function that resolves it: a gate a test opens when it chooses. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((done) => (open = done));
  return { promise, open };
}

export function controlError(code: ControlError['code'], message: string, hint?: string): ControlError {
  return new ControlError(code, message, hint);
}
