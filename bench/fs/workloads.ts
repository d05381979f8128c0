// The workloads of issue 9, in the order one repetition runs them on one fresh mount: the
// read-only ones first (so they see the whole lower), then the ones that change it. "cold" drops
// the page, dentry and inode caches first (sync; echo 3 > /proc/sys/vm/drop_caches); "warm" runs
// the same command once untimed before the timed run. Times include one process start of the
// command (a few ms), except the ops.js steps, which time themselves.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APPEND_DIR, BIG_BYTES, BIG_FILE, MV_DIR, RM_DIR, TAR_SUBTREE } from './lower.js';

const OPS = join(dirname(fileURLToPath(import.meta.url)), 'ops.js');

export interface WorkloadContext {
  mnt: string;
  untarTarball: string;
  /** Prefix for every command: ['taskset', '-c', '0'] when pinned, else []. */
  pin: readonly string[];
}

export interface Workload {
  name: string;
  label: string;
  unit: 's' | 'MB/s';
  /** Returns seconds (unit s) or MB/s (unit MB/s, 1 MB = 10^6 bytes). */
  run(context: WorkloadContext): number;
}

function exec(context: WorkloadContext, argv: readonly string[], timeoutMs = 600_000): { seconds: number; stdout: string } {
  const [command, ...args] = [...context.pin, ...argv];
  const started = performance.now();
  const result = spawnSync(command!, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status ?? result.signal}: ${(result.error?.message ?? '') + result.stderr.slice(-2000)}`);
  return { seconds, stdout: result.stdout };
}

const sh = (context: WorkloadContext, script: string): { seconds: number; stdout: string } => exec(context, ['sh', '-c', script]);
const q = (path: string): string => `'${path.replace(/'/g, `'\\''`)}'`;

export function dropCaches(): void {
  spawnSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

const findStat = (context: WorkloadContext): number => sh(context, `find ${q(context.mnt)} -printf '%s %m %u\\n' > /dev/null`).seconds;
const lsR = (context: WorkloadContext): number => sh(context, `ls -lR ${q(context.mnt)} > /dev/null`).seconds;
const ops = (context: WorkloadContext, args: string[]): number => Number(exec(context, [process.execPath, OPS, ...args]).stdout.trim()) / 1000;

export const WORKLOADS: readonly Workload[] = [
  {
    name: 'find-cold', label: 'find + stat, cold', unit: 's',
    run: (c) => (dropCaches(), findStat(c)),
  },
  {
    name: 'find-warm', label: 'find + stat, warm', unit: 's',
    run: (c) => (findStat(c), findStat(c)),
  },
  {
    name: 'ls-warm', label: 'ls -lR, warm', unit: 's',
    run: (c) => (lsR(c), lsR(c)),
  },
  {
    name: 'tar-read', label: `tar read ${TAR_SUBTREE}, cold`, unit: 'MB/s',
    run(c) {
      dropCaches();
      // Through a pipe: GNU tar skips reading file data when its archive is /dev/null.
      const { seconds, stdout } = sh(c, `tar cf - -C ${q(c.mnt)} ${TAR_SUBTREE} | wc -c`);
      return Number(stdout.trim()) / 1e6 / seconds;
    },
  },
  {
    name: 'dd-read', label: 'dd read 256 MiB, cold', unit: 'MB/s',
    run: (c) => (dropCaches(), BIG_BYTES / 1e6 / exec(c, ['dd', `if=${join(c.mnt, BIG_FILE)}`, 'of=/dev/null', 'bs=1M', 'status=none']).seconds),
  },
  {
    name: 'create', label: 'create 5,000 × 4 KiB + sync', unit: 's',
    run: (c) => ops(c, ['create', join(c.mnt, 'bench-create'), '5000', '4096']),
  },
  {
    name: 'append', label: 'append 1 B to 1,000 lower files', unit: 's',
    run: (c) => ops(c, ['append', join(c.mnt, APPEND_DIR)]),
  },
  {
    name: 'rm', label: 'rm -rf a lower tree (2,000 files)', unit: 's',
    run: (c) => exec(c, ['rm', '-rf', join(c.mnt, RM_DIR)]).seconds,
  },
  {
    name: 'mv', label: 'mv a lower dir, 600 files', unit: 's',
    run: (c) => exec(c, ['mv', join(c.mnt, MV_DIR), join(c.mnt, `${MV_DIR}-moved`)]).seconds,
  },
  {
    name: 'untar', label: 'untar 10k small files', unit: 's',
    run: (c) => exec(c, ['tar', 'xf', c.untarTarball, '-C', c.mnt]).seconds,
  },
  {
    name: 'dd-write', label: 'dd write 256 MiB + fsync', unit: 'MB/s',
    run: (c) => BIG_BYTES / 1e6 / exec(c, ['dd', 'if=/dev/zero', `of=${join(c.mnt, 'bench-write.bin')}`, 'bs=1M', 'count=256', 'conv=fsync', 'status=none']).seconds,
  },
];

/** The default reduced set: the cheap read-only ones. */
export const CHEAP = ['find-cold', 'find-warm', 'ls-warm', 'dd-read'];
