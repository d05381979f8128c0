// FIFOs and device nodes through coreutils' mkfifo/mknod (Node.js has neither call). Failures
// throw ToolError, whose .code is the errno name.

import { tryRun } from './command.js';
import { ToolError } from './errno-message.js';

function runTool(command: string, args: string[]): void {
  const result = tryRun(command, args, { timeoutMs: 30_000 });
  if (result.status !== 0) throw new ToolError(command, result.stderr);
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8);
}

/** With `mode`, coreutils sets exactly those bits (not filtered by the umask). */
export function makeFifo(path: string, mode?: number): void {
  runTool('mkfifo', [...(mode === undefined ? [] : ['-m', octal(mode)]), '--', path]);
}

export function makeCharDevice(path: string, major: number, minor: number, mode?: number): void {
  runTool('mknod', [...(mode === undefined ? [] : ['-m', octal(mode)]), '--', path, 'c', String(major), String(minor)]);
}

/** An overlayfs whiteout: a character device 0/0. */
export function makeWhiteout(path: string): void {
  makeCharDevice(path, 0, 0);
}
