// A terminal for end-to-end tests of the TUI: a detached tmux session of a fixed size running
// one command, with keys sent as a user types them and the screen read back as text. Each
// session gets its own tmux server, its socket in the test run's temp dir (-S), so a test never
// touches a user's tmux, close() kills that server whatever state the program is in, and
// a server a killed test left carries the run's PERSIST_TEST_RUN, which scripts/cleanup-tests.sh
// sweeps.

import { execFileSync } from 'node:child_process';
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

  constructor(cleanup: Cleanup, command: readonly string[], options: TerminalOptions = {}) {
    this.server = join(tmpdir(), `tmux-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`);
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // remain-on-exit: after the program quits, its last screen and exit status stay readable.
    this.tmux('new-session', '-d', '-s', this.session, '-x', String(options.columns ?? 80), '-y', String(options.rows ?? 24), ...env, ...command);
    this.tmux('set-option', '-t', this.session, 'remain-on-exit', 'on');
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
    const [dead, status] = this.tmux('display-message', '-p', '-t', this.session, '#{pane_dead} #{pane_dead_status}').trim().split(' ');
    // tmux may mark the pane dead a moment before it has the status.
    return dead === '1' && status !== undefined && /^\d+$/.test(status) ? Number(status) : null;
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
