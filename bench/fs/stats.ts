// Medians and spreads, and what /proc says about a daemon.

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, n: sorted.length };
}

let clockTicks: number | undefined;

export interface DaemonUsage {
  /** VmHWM: peak resident set, MiB. */
  peakRssMiB: number;
  /** utime + stime of the process (all its threads), seconds. */
  cpuSeconds: number;
}

export function daemonUsage(pid: number): DaemonUsage {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised comm (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { peakRssMiB: hwm ? Number(hwm[1]) / 1024 : NaN, cpuSeconds: ticks / clockTicks };
}
