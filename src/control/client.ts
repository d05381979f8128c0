/**
 * The one typed client of the control socket (persistctl's verbs and its TUI): one connection,
 * a numeric id per request, a promise per request, events to subscribers.
 *
 * Error replies reject with ControlError (code, message, hint as the daemon sent them). Not
 * reaching the daemon at all, being refused by it, or losing it mid-request rejects with
 * DaemonUnreachable, whose `reason` tells a script which (persistctl maps it to an exit code).
 */
import { createConnection, type Socket } from 'node:net';
import { encodeLine, LineReader } from './framing.js';
import {
  ControlError,
  MAX_REQUEST_BYTES,
  type ChangesQuery,
  type Control,
  type ErrorBody,
  type Event,
  type Op,
  type Reply,
  type Results,
  type TopQuery,
} from './protocol.js';

export type UnreachableReason =
  /** No socket (ENOENT), or nobody listens on it (ECONNREFUSED). */
  | 'not-running'
  /** The socket's mode (EACCES, EPERM) or the daemon's peer check refused us. */
  | 'denied'
  /** The daemon closed the connection before answering (it exited, crashed or restarted). */
  | 'gone'
  /** No connection or no reply within `timeoutMs`. */
  | 'timeout'
  /** Any other failure to connect (e.g. ENOTSOCK: the path is not a socket). */
  | 'unreachable';

export class DaemonUnreachable extends Error {
  constructor(
    readonly reason: UnreachableReason,
    readonly socketPath: string,
    message: string,
    /** What to do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'DaemonUnreachable';
  }
}

export interface ConnectOptions {
  /**
   * How long to wait for the connection, and for each reply (default: 5 s to connect, replies
   * without a limit: a commit takes as long as the flash needs).
   */
  timeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** Replies can be large (a page of 10,000 changes, a diff); this only stops a runaway stream. */
const MAX_REPLY_BYTES = 256 * 1024 * 1024;
const SOCKET_HINT = 'start it, or pass --socket / PERSIST_SOCKET';

export async function connectControl(socketPath: string, options: ConnectOptions = {}): Promise<Control> {
  const socket = await connect(socketPath, options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  return new ControlClient(socket, socketPath, options.timeoutMs);
}

function connect(socketPath: string, timeoutMs: number): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = createConnection(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new DaemonUnreachable('timeout', socketPath, `persistd did not accept a connection on ${socketPath} within ${timeoutMs} ms`, 'check that persistd is running and not stuck (its log, or ps)'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      done(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(connectError(socketPath, err));
    });
  });
}

function connectError(socketPath: string, err: NodeJS.ErrnoException): DaemonUnreachable {
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new DaemonUnreachable('not-running', socketPath, `persistd is not running (no socket at ${socketPath}): ${SOCKET_HINT}`);
    case 'ECONNREFUSED':
      return new DaemonUnreachable('not-running', socketPath, `persistd is not running (nobody listens on ${socketPath}, a stale socket): ${SOCKET_HINT}`);
    case 'EACCES':
    case 'EPERM':
      return new DaemonUnreachable('denied', socketPath, `permission denied on ${socketPath}`, deniedHint());
    default:
      return new DaemonUnreachable('unreachable', socketPath, `cannot connect to persistd at ${socketPath}: ${err.message}`, `check the path: ${SOCKET_HINT}`);
  }
}

function deniedHint(): string {
  return "run as root, or as a member of the control socket's group (the profile's control.group)";
}

interface Pending {
  op: Op;
  resolve: (result: never) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

class ControlClient implements Control {
  private readonly reader = new LineReader(MAX_REPLY_BYTES);
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: Event) => void>();
  private nextId = 1;
  /** Why the connection is over; set once. Later requests fail with it. */
  private ended: Error | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly socketPath: string,
    private readonly timeoutMs: number | undefined,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.reader.feed(chunk)) {
        if (frame.kind === 'line') this.onLine(frame.text);
        else this.fail(new DaemonUnreachable('gone', socketPath, `persistd sent a reply line of more than ${MAX_REPLY_BYTES} bytes; closed the connection`));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') this.fail(this.goneError());
      else this.fail(new DaemonUnreachable('gone', socketPath, `the connection to persistd at ${socketPath} failed: ${err.message}`, 'check that persistd still runs (persistctl status)'));
    });
    socket.on('close', () => this.fail(this.goneError()));
  }

  status(): Promise<Results['status']> {
    return this.request('status', {});
  }

  changes(query: ChangesQuery = {}): Promise<Results['changes']> {
    return this.request('changes', { ...query });
  }

  diff(path: string, base?: 'factory' | 'flash'): Promise<Results['diff']> {
    return this.request('diff', base === undefined ? { path } : { path, base });
  }

  commit(paths: string[] = []): Promise<Results['commit']> {
    return this.request('commit', { paths });
  }

  discard(paths: string[] = []): Promise<Results['discard']> {
    return this.request('discard', { paths });
  }

  revert(paths: string[]): Promise<Results['revert']> {
    return this.request('revert', { paths });
  }

  reset(): Promise<Results['reset']> {
    return this.request('reset', {});
  }

  top(query: TopQuery = {}): Promise<Results['top']> {
    return this.request('top', { ...query });
  }

  async subscribe(listener: (event: Event) => void): Promise<void> {
    // Listening before the reply: the daemon may send an event right behind it.
    this.listeners.add(listener);
    try {
      await this.request('subscribe', {});
    } catch (err) {
      this.listeners.delete(listener);
      throw err;
    }
  }

  close(): void {
    if (!this.ended) this.finish(new Error(`the control connection to ${this.socketPath} was closed`), false);
    this.socket.destroy();
  }

  private request<O extends Op>(op: O, fields: object): Promise<Results[O]> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    const line = encodeLine({ ...fields, id, op });
    if (Buffer.byteLength(line) - 1 > MAX_REQUEST_BYTES) {
      return Promise.reject(new ControlError('too-large', `the ${op} request is over ${MAX_REQUEST_BYTES} bytes`, 'send fewer or shorter paths per request'));
    }
    return new Promise<Results[O]>((resolve, reject) => {
      const timer =
        this.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              reject(new DaemonUnreachable('timeout', this.socketPath, `persistd did not answer ${op} within ${this.timeoutMs} ms`, 'check that persistd is not stuck (its log), or allow more time'));
            }, this.timeoutMs);
      this.pending.set(id, { op, resolve: resolve as (result: never) => void, reject, timer });
      this.socket.write(line);
    });
  }

  private onLine(text: string): void {
    let message: Reply | Event;
    try {
      message = JSON.parse(text) as Reply | Event;
    } catch {
      return; // Not from a persistd we understand; replies we wait for would time out or fail on close.
    }
    if (typeof message !== 'object' || message === null) return;
    if ('event' in message) {
      this.emit(message);
      return;
    }
    if (!('id' in message)) return;
    if (message.id === null) {
      // A reply to no request in particular: the daemon refused the connection itself.
      if (!message.ok && message.error.code === 'denied') {
        this.fail(new DaemonUnreachable('denied', this.socketPath, `persistd refused the connection on ${this.socketPath}: ${message.error.message}`, message.error.hint ?? deniedHint()));
      }
      return;
    }
    const entry = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (!entry) return;
    this.pending.delete(message.id as number);
    clearTimeout(entry.timer);
    if (message.ok) entry.resolve(message.result as never);
    else entry.reject(toControlError(message.error));
  }

  private emit(event: Event): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        // A listener's bug surfaces like any other, without stopping the other listeners.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private goneError(): DaemonUnreachable {
    const waiting = [...new Set([...this.pending.values()].map((p) => p.op))];
    const what = waiting.length ? ` before answering ${waiting.join(', ')}` : '';
    return new DaemonUnreachable('gone', this.socketPath, `persistd closed the connection on ${this.socketPath}${what}: it exited or restarted`, 'check that persistd runs (persistctl status, or its log)');
  }

  /** The daemon went away (or refused us): every request fails, subscribers hear of it once. */
  private fail(err: Error): void {
    if (this.ended) return;
    this.finish(err, true);
    this.socket.destroy();
  }

  private finish(err: Error, tellListeners: boolean): void {
    this.ended = err;
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
    this.pending.clear();
    if (tellListeners) this.emit({ event: 'error', message: err.message, time: Date.now() / 1000 });
    this.listeners.clear();
  }
}

function toControlError(error: ErrorBody | undefined): ControlError {
  if (!error || typeof error.code !== 'string') return new ControlError('failed', 'persistd sent an error reply without an error');
  return new ControlError(error.code, typeof error.message === 'string' ? error.message : error.code, error.hint);
}
