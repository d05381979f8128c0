// bench/fs: the side-by-side filesystem benchmark of issue 9.
//
//   node dist/bench/fs/run.js [--reps 3] [--only find-cold,dd-read] [--systems persist-direct,...]
//                             [--pin] [--cache /var/tmp/persist-bench-fs] [--out BENCHMARKS.md]
//
// One zstd squashfs lower (>= 24k files plus a 256 MiB file; built once and cached under --cache)
// is loop-mounted read-only and served by each system in turn: persist direct, persist staged,
// kernel overlayfs, fuse-overlayfs and unionfs-fuse, each with a fresh tmpfs upper per repetition.
// Repetitions interleave the systems (rep 1 of every system, then rep 2, ...). Each workload's
// time or throughput, and the FUSE daemon's peak RSS (VmHWM) and CPU time (utime+stime) per
// repetition, go into a markdown table printed and written to --out. Run as root after
// `npx tsc -p .`. Nothing mounted or started is left behind, even on failure.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Cleanup } from '../../test/support/cleanup.js';
import { run, tryRun } from '../../test/support/command.js';
import { findRepoRoot } from '../../test/support/repo-root.js';
import { mountSquashfs } from '../../test/support/squashfs.js';
import { makeTempDir } from '../../test/support/tempdir.js';
import { ensureLower } from './lower.js';
import { renderMarkdown, renderTable, spliceGenerated, type Results } from './report.js';
import { daemonUsage } from './stats.js';
import { SYSTEMS } from './systems.js';
import { WORKLOADS, type WorkloadContext } from './workloads.js';

const USAGE = `usage: node dist/bench/fs/run.js [options]

  --reps N          repetitions per system (default 3)
  --only LIST       workloads, comma-separated (default all): ${WORKLOADS.map((w) => w.name).join(',')}
  --systems LIST    systems (default all): ${SYSTEMS.map((s) => s.name).join(',')}
  --pin             run each FUSE daemon and every workload command on CPU 0 (taskset)
  --cache DIR       where the lower image and the untar tarball are kept (default /var/tmp/persist-bench-fs)
  --out FILE        the markdown written (default BENCHMARKS.md in the repository root; '-' for none)
  --note TEXT       a line put in bold above the table (e.g. "partial first run")
  --json FILE       also write the raw numbers there
  -h, --help`;

function pick<T extends { name: string }>(all: readonly T[], list: string | undefined, what: string): T[] {
  if (!list) return [...all];
  return list.split(',').map((name) => {
    const found = all.find((item) => item.name === name);
    if (!found) throw new Error(`unknown ${what} '${name}'\n${USAGE}`);
    return found;
  });
}

/**
 * Set by SIGINT/SIGTERM. The workload commands run synchronously, so the signal is seen once the
 * current one returns: the run then stops at the next workload and every finally block unmounts
 * and stops what it started. A second signal exits at once (and may leave mounts behind).
 */
let interrupted: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = signal;
    process.stderr.write(`bench/fs: ${signal}: stopping after the current command, then cleaning up\n`);
  });
}

function checkInterrupted(): void {
  if (interrupted) throw new Error(`interrupted by ${interrupted}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '3' },
      only: { type: 'string' },
      systems: { type: 'string' },
      pin: { type: 'boolean', default: false },
      cache: { type: 'string', default: '/var/tmp/persist-bench-fs' },
      out: { type: 'string' },
      note: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(USAGE);
  if (process.getuid?.() !== 0) throw new Error('bench/fs mounts filesystems and drops caches: run it as root');
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer\n${USAGE}`);
  const workloads = pick(WORKLOADS, values.only, 'workload');
  const systems = pick(SYSTEMS, values.systems, 'system');
  for (const system of systems) {
    const missing = system.missing();
    if (missing) throw new Error(`${system.name} is not installed: ${missing} (or leave it out with --systems)`);
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const repoRoot = findRepoRoot();
  const startedAt = new Date();
  const lower = ensureLower(values.cache!, log);
  const pin = values.pin ? ['taskset', '-c', '0'] : [];
  const results: Results = {
    systems: systems.map((s) => ({ name: s.name, describe: s.describe })),
    workloads,
    values: {}, errors: {}, rss: {}, cpu: {},
    reps, pinned: values.pin!,
    command: `node dist/bench/fs/run.js ${process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')}`.trim(),
    lower: { files: lower.files, imageBytes: lower.imageBytes },
    startedAt, durationS: 0,
    ...(values.note ? { note: values.note } : {}),
  };

  const top = new Cleanup();
  try {
    const dir = makeTempDir(top, 'persist-bench-fs-');
    const lowerMount = mountSquashfs(top, lower.image, join(dir, 'lower')).mountpoint;
    for (let rep = 1; rep <= reps; rep++) {
      for (const system of systems) {
        const cleanup = new Cleanup();
        try {
          const sysDir = join(dir, `${system.name}-${rep}`);
          checkInterrupted();
          log(`bench/fs: rep ${rep}/${reps} ${system.name}`);
          const running = await system.start(cleanup, sysDir, lowerMount);
          if (running.pid !== undefined && values.pin) run('taskset', ['-a', '-pc', '0', String(running.pid)]);
          const context: WorkloadContext = { mnt: running.mountpoint, untarTarball: lower.untarTarball, pin };
          for (const workload of workloads) {
            await new Promise((resolve) => setImmediate(resolve)); // lets a pending signal handler run
            checkInterrupted();
            try {
              const value = workload.run(context);
              ((results.values[system.name] ??= {})[workload.name] ??= []).push(value);
              log(`  ${workload.name}: ${value.toFixed(3)} ${workload.unit}`);
            } catch (error) {
              ((results.errors[system.name] ??= {})[workload.name] ??= []).push(String(error));
              log(`  ${workload.name}: FAILED: ${(error as Error).message}`);
            }
          }
          if (running.pid !== undefined) {
            const usage = daemonUsage(running.pid);
            (results.rss[system.name] ??= []).push(usage.peakRssMiB);
            (results.cpu[system.name] ??= []).push(usage.cpuSeconds);
            log(`  daemon: peak RSS ${usage.peakRssMiB.toFixed(1)} MiB, CPU ${usage.cpuSeconds.toFixed(2)} s`);
          }
          await running.stop();
        } finally {
          const failures = await cleanup.runAll();
          if (failures.length) throw new Error(`cleanup after ${system.name} rep ${rep} failed: ${failures.join('; ')}`);
        }
      }
    }
  } finally {
    await top.runAll();
  }
  results.durationS = (Date.now() - startedAt.getTime()) / 1000;

  const libfuse2 = tryRun('dpkg-query', ['-W', '-f', '${Status} ${Version}', 'libfuse2']).stdout.trim();
  const fuse3 = tryRun('dpkg-query', ['-W', '-f', '${Version}', 'fuse3']).stdout.trim();
  const notes = [
    'Cold = `sync; echo 3 > /proc/sys/vm/drop_caches` right before the timed command; warm = the same command run once untimed first. ' +
      'find + stat is `find MNT -printf \'%s %m %u\\n\'` (an lstat per entry). Timed commands include one process start (a few ms); ' +
      'create and append time themselves inside a node helper (dist/bench/fs/ops.js), create including `sync -f` (syncfs) of the mount.',
    'One repetition runs every workload in the table\'s order on one mount, so the write workloads see the earlier ones\' changes ' +
      '(the read-only ones come first and see the pristine lower).',
    'Daemon CPU time is utime+stime of the daemon process over the whole repetition (mount to the end of the last workload); peak RSS is its VmHWM then. ' +
      'kernel overlayfs has no daemon.',
    `Packages: fuse-overlayfs and unionfs-fuse from Debian; fuse-overlayfs pulls fuse3 ${fuse3 || '(not installed)'}; ` +
      `libfuse2 (which fuse-native needs) stays installed: \`${libfuse2 || 'not installed'}\`.`,
  ];
  const table = renderTable(results);
  console.log(table);
  const out = values.out ?? join(repoRoot, 'BENCHMARKS.md');
  if (out !== '-') {
    const existing = existsSync(out) ? readFileSync(out, 'utf8') : undefined;
    writeFileSync(out, spliceGenerated(existing, renderMarkdown(results, notes)));
    log(`bench/fs: wrote ${relative(process.cwd(), out) || out}`);
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench/fs: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
