// Synchronous helpers for the system tools the tests drive (mount, losetup, mksquashfs, ...).
// Every call has a timeout so that a tool stuck on a hung FUSE mount cannot hang the suite.

import { spawnSync } from 'node:child_process';

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  timeoutMs?: number;
  input?: string;
}

/** Runs a command and reports how it went; never throws. */
export function tryRun(command: string, args: readonly string[], options: CommandOptions = {}): CommandResult {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
    input: options.input,
    maxBuffer: 64 * 1024 * 1024,
  });
  const spawnError = result.error ? `${result.error.message}\n` : '';
  return { status: result.status, stdout: result.stdout ?? '', stderr: spawnError + (result.stderr ?? '') };
}

/** Runs a command and returns its stdout; throws with the command line and stderr on failure. */
export function run(command: string, args: readonly string[], options: CommandOptions = {}): string {
  const result = tryRun(command, args, options);
  if (result.status !== 0) {
    throw new Error(`${[command, ...args].join(' ')} exited ${result.status}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** True if an executable of that name is on PATH. */
export function haveCommand(name: string): boolean {
  return tryRun('sh', ['-c', `command -v ${name}`]).status === 0;
}
