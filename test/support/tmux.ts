// A terminal for end-to-end tests of the TUI: a detached tmux session of a fixed size running
// one command, with keys sent as a user types them and the screen read back as text. Each
// session gets its own tmux server, its socket in the test run's temp dir (-S), so a test never
// touches a user's tmux, close() kills that server whatever state the program is in, and
// a server a killed test left carries the run's PERSIST_TEST_RUN, which scripts/cleanup-tests.sh
// sweeps.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';

export interface TerminalOptions {
  columns?: number;
  rows?: number;
  env?: Record<string, string>;
}

export class Terminal {
  private readonly server: string;
  private readonly session = 'persist-test';
  private readonly statusFile: string;

  constructor(cleanup: Cleanup, command: readonly string[], options: TerminalOptions = {}) {
    this.server = join(tmpdir(), `tmux-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`);
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    this.statusFile = `${this.server}.status`;
    // The exit status goes to a file: tmux 3.3 shows none for a node process that exits (the
    // pane is dead, the status empty), so a shell runs the program and records it. The shell
    // then waits, keeping the last screen readable.
    const script = 'status=0; "$@" || status=$?; echo $status > "$STATUS_FILE"; exec sleep 3600';
    this.tmux('new-session', '-d', '-s', this.session, '-x', String(options.columns ?? 80), '-y', String(options.rows ?? 24), ...env, '-e', `STATUS_FILE=${this.statusFile}`, 'sh', '-c', script, 'sh', ...command);
    cleanup.add(`kill the tmux server ${this.server}`, () => this.close());
  }

  /** The visible screen, one string per row, trailing blanks trimmed. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', this.session)
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n');
  }

  /** Keys in tmux's names (Down, Enter, Space, Escape, C-c) or literal text with `literal`. */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', this.session, ...keys);
  }

  type(text: string): void {
    this.tmux('send-keys', '-t', this.session, '-l', text);
  }

  resize(columns: number, rows: number): void {
    this.tmux('resize-window', '-t', this.session, '-x', String(columns), '-y', String(rows));
  }

  /** Waits until the screen matches; fails with the last screen. */
  async waitFor(pattern: RegExp | ((screen: string) => boolean), what: string, timeoutMs = 15_000): Promise<string> {
    const test = typeof pattern === 'function' ? pattern : (s: string) => pattern.test(s);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen();
      if (test(last)) return last;
      await new Promise((next) => setTimeout(next, 50));
    }
    throw new Error(`timed out waiting for ${what}; the screen:\n${last}`);
  }

  /** The program's exit status once it has exited, else null. */
  exitStatus(): number | null {
    try {
      const text = readFileSync(this.statusFile, 'utf8').trim();
      return /^\d+$/.test(text) ? Number(text) : null;
    } catch {
      return null;
    }
  }

  close(): void {
    try {
      execFileSync('tmux', ['-S', this.server, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-S', this.server, ...args], { encoding: 'utf8' });
  }
}
