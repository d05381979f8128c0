// A Node.js helper process spoken to in JSON lines (one request per line on stdin, one response per
// line on stdout, matched by id). Tests use it to act on a mount from another process, optionally
// as another uid. Every request has a timeout: a hung FUSE daemon must fail the test, not hang it.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Cleanup } from './cleanup.js';

export interface JsonLinesChildOptions {
  uid?: number;
  gid?: number;
  /** The child's working directory (default: this process's). */
  cwd?: string;
  /** Options for node itself, before the script (e.g. --experimental-permission). */
  nodeArgs?: readonly string[];
  /** Used in error messages. */
  label: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class JsonLinesChild {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private exitDescription: string | undefined;

  constructor(cleanup: Cleanup, script: string, args: readonly string[], private readonly options: JsonLinesChildOptions) {
    const identity = options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid };
    this.child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
      ...identity,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    cleanup.add(`kill ${options.label}`, () => this.kill());
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-8192);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    this.child.on('exit', (code, signal) => {
      this.exitDescription = `exited (code ${code}, signal ${signal})`;
      this.failAll(new Error(`${options.label} ${this.exitDescription}; stderr: ${this.stderrTail}`));
    });
    this.child.on('error', (error) => this.failAll(error));
    // Writing to a child that died is reported through 'exit'; ignore the pipe error itself.
    this.child.stdin!.on('error', () => undefined);
  }

  /** Sends `request` (an `id` is added) and resolves with the response line's parsed JSON. */
  request(request: object, timeoutMs: number): Promise<unknown> {
    if (this.exitDescription) {
      return Promise.reject(new Error(`${this.options.label} ${this.exitDescription}; stderr: ${this.stderrTail}`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.options.label} gave no answer within ${timeoutMs} ms to ${JSON.stringify(request)}`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private onLine(line: string): void {
    let message: { id?: number };
    try {
      message = JSON.parse(line) as { id?: number };
    } catch {
      this.stderrTail += `\n(unparsable stdout line: ${line})`;
      return;
    }
    const entry = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!entry) return;
    this.pending.delete(message.id!);
    clearTimeout(entry.timer);
    entry.resolve(message);
  }

  private failAll(error: Error): void {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      this.pending.delete(id);
      entry.reject(error);
    }
  }
}
