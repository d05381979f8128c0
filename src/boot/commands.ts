/**
 * The programs the boot code runs (blkid, e2fsck, mkfs, mount): through execa, with their output
 * captured so that a failure is one line naming the command and what it said.
 */
import { execa } from 'execa';

export interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `command`; never throws for a non-zero exit (the caller decides), only when it cannot start. */
export async function run(command: string, args: readonly string[], timeoutMs = 120_000): Promise<Ran> {
  try {
    const result = await execa(command, args, { reject: false, timeout: timeoutMs, stdin: 'ignore' });
    if (result.failed && result.exitCode === undefined) throw new Error(result.shortMessage);
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  } catch (err) {
    throw new Error(`cannot run ${command}: ${(err as Error).message}`);
  }
}

/** Runs `command` and throws a one-line error unless it exits 0. */
export async function runOk(command: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  const ran = await run(command, args, timeoutMs);
  if (ran.exitCode !== 0) {
    const said = (ran.stderr || ran.stdout).trim().split('\n').pop() ?? '';
    throw new Error(`${command} ${args.join(' ')} failed (exit ${ran.exitCode})${said ? `: ${said}` : ''}`);
  }
  return ran.stdout;
}
