// bench/wear: how much each way of keeping a squashfs root's changes writes to the flash.
//
//   node dist/bench/wear/run.js [--seconds 120] [--interval 30s] [--systems kernel,persist,rsync]
//
// See bench/wear/README.md for what it measures and how to read the table.

import { spawn } from 'node:child_process';
import { cpus, release } from 'node:os';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cleanup } from '../../test/support/cleanup.js';
import { run, haveCommand } from '../../test/support/command.js';
import { findRepoRoot } from '../../test/support/repo-root.js';
import { buildSquashfs, mountSquashfs } from '../../test/support/squashfs.js';
import { makeTempDir } from '../../test/support/tempdir.js';
import { buildApplianceTree, BIG_FILE } from './appliance.js';
import { createFlash, readCounters, usageBetween, type FlashUsage } from './flash.js';
import { measureNetChange } from './net.js';
import { evaluateTargets, renderMarkdown, type CaseResult, type RunInfo, type Scenario } from './report.js';
import { prepareFlash, SYSTEMS, tmpfsUsedBytes, type SystemDefinition, type SystemSettings, flashLayers } from './systems.js';
import { formatBytes, formatDuration, parseDurationMs, sleep } from './units.js';

const USAGE = `usage: node dist/bench/wear/run.js [options]

  --seconds N            length of the IoT workload per system (default 120)
  --interval DUR         persist --flush-interval and the rsync period (default 30s)
  --min-interval DUR     persist --min-interval (default 5s)
  --max-dirty SIZE       persist --max-dirty (default 32MiB)
  --persist-args "ARGS"  extra persistd flags for the staged system, appended (space-separated)
  --systems LIST         comma-separated, in order: kernel,persist,rsync,persist-direct
                         (default kernel,persist,rsync)
  --scenarios LIST       iot,random (default both)
  --random-writes N      4 KiB writes into the big file (default 256)
  --big-file-mib N       size of the big file (default 64)
  --big-file-in WHERE    upper (default: the file already lives on the flash, like a database
                         the device keeps) or lower (first writes copy it up whole, on any system)
  --flash-mib N          size of each flash image (default 1024)
  --flash-options OPTS   ext4 mount options (default noatime)
  --stage-size SIZE      tmpfs size for RAM stages (default 512m)
  --pin CPUS             run the benchmark, daemon and workload under taskset -c CPUS
  --seed N               workload seed (default 1)
  --json FILE            machine-readable results (default bench/wear/results/wear-latest.json)
  --markdown FILE        the report (default bench/wear/results/wear-latest.md)
  -h, --help`;

const here = dirname(fileURLToPath(import.meta.url));
const WORKLOAD = join(here, 'workload.js');

interface Options {
  seconds: number;
  intervalMs: number;
  settings: SystemSettings;
  systems: SystemDefinition[];
  scenarios: Scenario[];
  randomWrites: number;
  bigFileMiB: number;
  bigFileInUpper: boolean;
  flashMiB: number;
  flashOptions: string;
  pin: string | undefined;
  seed: number;
  json: string;
  markdown: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '120' },
      interval: { type: 'string', default: '30s' },
      'min-interval': { type: 'string', default: '5s' },
      'max-dirty': { type: 'string', default: '32MiB' },
      'persist-args': { type: 'string', default: '' },
      systems: { type: 'string', default: 'kernel,persist,rsync' },
      scenarios: { type: 'string', default: 'iot,random' },
      'random-writes': { type: 'string', default: '256' },
      'big-file-mib': { type: 'string', default: '64' },
      'big-file-in': { type: 'string', default: 'upper' },
      'flash-mib': { type: 'string', default: '1024' },
      'flash-options': { type: 'string', default: 'noatime' },
      'stage-size': { type: 'string', default: '512m' },
      pin: { type: 'string' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
      markdown: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not '${text}'`);
    return n;
  };
  const intervalMs = parseDurationMs(values.interval!);
  const minIntervalMs = parseDurationMs(values['min-interval']!);
  const systems = values.systems!.split(',').filter(Boolean).map((name) => {
    const system = SYSTEMS.find((s) => s.name === name);
    if (!system) throw new Error(`unknown system '${name}' (known: ${SYSTEMS.map((s) => s.name).join(', ')})`);
    return system;
  });
  const scenarios = values.scenarios!.split(',').filter(Boolean).map((name) => {
    if (name !== 'iot' && name !== 'random') throw new Error(`unknown scenario '${name}' (known: iot, random)`);
    return name;
  });
  const results = join(findRepoRoot(), 'bench', 'wear', 'results');
  return {
    seconds: positive('seconds', values.seconds!),
    intervalMs,
    settings: {
      intervalMs,
      stageSize: values['stage-size']!,
      stopGraceMs: 120_000,
      persistStagedArgs: [
        '--flush-interval', formatDuration(intervalMs),
        '--min-interval', formatDuration(minIntervalMs),
        '--max-dirty', values['max-dirty']!,
        ...values['persist-args']!.split(/\s+/).filter(Boolean),
      ],
    },
    systems,
    scenarios,
    randomWrites: positive('random-writes', values['random-writes']!),
    bigFileMiB: positive('big-file-mib', values['big-file-mib']!),
    bigFileInUpper: values['big-file-in'] !== 'lower',
    flashMiB: positive('flash-mib', values['flash-mib']!),
    flashOptions: values['flash-options']!,
    pin: values.pin,
    seed: Number(values.seed),
    json: resolve(values.json ?? join(results, 'wear-latest.json')),
    markdown: resolve(values.markdown ?? join(results, 'wear-latest.md')),
  };
}

const log = (message: string): void => {
  process.stderr.write(`wear: ${message}\n`);
};

/** Runs the workload as its own process (never inside a FUSE daemon) and returns its JSON line. */
function runWorkload(args: readonly string[], timeoutMs: number, cwd: string): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [WORKLOAD, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const unregister = registerChild(child.pid);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      unregister();
      if (code !== 0) {
        reject(new Error(`workload ${args[0]} failed (code ${code}, signal ${signal}): ${stderr.trim()}`));
        return;
      }
      try {
        resolvePromise(JSON.parse(stdout.trim()) as Record<string, unknown>);
      } catch {
        reject(new Error(`workload printed no JSON: ${stdout}\n${stderr}`));
      }
    });
  });
}

// Interrupting the benchmark (Ctrl-C, SIGTERM) still unmounts and detaches everything.
const activeCleanups = new Set<Cleanup>();
const activeChildren = new Set<number>();
function registerChild(pid: number | undefined): () => void {
  if (pid === undefined) return () => undefined;
  activeChildren.add(pid);
  return () => activeChildren.delete(pid);
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up`);
    for (const pid of activeChildren) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    void (async () => {
      for (const cleanup of [...activeCleanups].reverse()) await cleanup.runAll();
      process.exit(130);
    })();
  });
}

async function runCase(
  options: Options,
  system: SystemDefinition,
  scenario: Scenario,
  base: string,
  lower: string,
): Promise<CaseResult> {
  const started = Date.now();
  const cleanup = new Cleanup();
  activeCleanups.add(cleanup);
  const dir = join(base, `${scenario}-${system.name}`);
  mkdirSync(dir, { recursive: true });
  const result: CaseResult = { scenario, system: system.name, description: system.describe(options.settings), ok: false, durationMs: 0, cleanupFailures: [] };
  let sampler: NodeJS.Timeout | undefined;
  try {
    const flash = createFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'), { sizeMiB: options.flashMiB, mountOptions: options.flashOptions });
    prepareFlash(flash);
    if (scenario === 'random' && options.bigFileInUpper) {
      // Before the counters start: the file is already on the flash, in the upper.
      const target = join(flashLayers(flash).upper, BIG_FILE);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(lower, BIG_FILE), target);
    }
    run('sync', ['-f', flash.mountpoint]);
    await sleep(500);
    const before = readCounters(flash.device);

    const running = await system.start({ cleanup, dir, lower, flash, settings: options.settings });
    const timeline: NonNullable<CaseResult['timeline']> = [];
    const t0 = Date.now();
    let stagePeak = 0;
    const sample = (): void => {
      const usage = usageBetween(before, readCounters(flash.device));
      const stageBytes = running.stageMount ? tmpfsUsedBytes(running.stageMount) : undefined;
      if (stageBytes !== undefined) stagePeak = Math.max(stagePeak, stageBytes);
      timeline.push({ t: Math.round((Date.now() - t0) / 100) / 10, bytes: usage.bytes, requests: usage.requests, ...(stageBytes === undefined ? {} : { stageBytes }) });
    };
    sample();
    sampler = setInterval(sample, 1000);

    if (scenario === 'iot') {
      result.workload = await runWorkload(['iot', running.mountpoint, String(options.seconds), String(options.seed)], (options.seconds + 120) * 1000, dir);
    } else {
      result.workload = await runWorkload(
        ['random-writes', join(running.mountpoint, BIG_FILE), String(options.randomWrites), '4096', String(options.seed)],
        300_000,
        dir,
      );
    }
    sample();
    if (running.stageMount) result.stageEndBytes = tmpfsUsedBytes(running.stageMount);
    result.net = measureNetChange(running.mountpoint, lower);

    const stopStarted = Date.now();
    result.stop = { ...(await running.stop()).details, unionStopMs: Date.now() - stopStarted };
    sample();
    clearInterval(sampler);
    sampler = undefined;
    flash.unmount();
    result.flash = usageBetween(before, readCounters(flash.device));
    timeline.push({ t: Math.round((Date.now() - t0) / 100) / 10, bytes: result.flash.bytes, requests: result.flash.requests });
    result.timeline = timeline;
    if (running.stageMount) result.stagePeakBytes = stagePeak;
    result.ok = true;
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`${scenario}/${system.name} failed: ${result.error}`);
  } finally {
    if (sampler) clearInterval(sampler);
    result.cleanupFailures = await cleanup.runAll();
    activeCleanups.delete(cleanup);
    result.durationMs = Date.now() - started;
  }
  return result;
}

/** What mounting an idle flash and unmounting it again costs: the floor included in every row. */
async function measureFloor(options: Options, base: string): Promise<FlashUsage> {
  const cleanup = new Cleanup();
  activeCleanups.add(cleanup);
  try {
    const flash = createFlash(cleanup, join(base, 'floor.img'), join(base, 'floor'), { sizeMiB: options.flashMiB, mountOptions: options.flashOptions });
    prepareFlash(flash);
    run('sync', ['-f', flash.mountpoint]);
    await sleep(500);
    const before = readCounters(flash.device);
    await sleep(2000);
    flash.unmount();
    return usageBetween(before, readCounters(flash.device));
  } finally {
    await cleanup.runAll();
    activeCleanups.delete(cleanup);
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const missing = ['mksquashfs', 'mkfs.ext4', 'losetup', 'sqlite3', ...(options.systems.some((s) => s.name === 'rsync') ? ['rsync'] : []), ...(options.pin ? ['taskset'] : [])].filter((c) => !haveCommand(c));
  if (missing.length > 0) throw new Error(`missing programs: ${missing.join(', ')} (Debian: apt-get install -y squashfs-tools e2fsprogs util-linux sqlite3 rsync)`);
  if (options.pin !== undefined) {
    // Threads already running (libuv, V8) are pinned with -a; children inherit the mask.
    run('taskset', ['-a', '-p', '-c', options.pin, String(process.pid)]);
  }
  const totalStarted = Date.now();
  const root = new Cleanup();
  activeCleanups.add(root);
  const results: CaseResult[] = [];
  let floor: FlashUsage | undefined;
  try {
    const base = makeTempDir(root, 'persist-bench-wear-');
    log(`working in ${base}`);
    const tree = join(base, 'appliance');
    buildApplianceTree(tree, options.bigFileMiB);
    buildSquashfs(tree, join(base, 'appliance.squashfs'));
    const lower = mountSquashfs(root, join(base, 'appliance.squashfs'), join(base, 'lower')).mountpoint;

    floor = await measureFloor(options, base);
    log(`floor: idle flash mount+unmount wrote ${formatBytes(floor.bytes)} in ${floor.requests} requests`);
    for (const scenario of options.scenarios) {
      for (const system of options.systems) {
        if (interrupted) break;
        log(`${scenario}/${system.name}: ${scenario === 'iot' ? `${options.seconds} s workload` : `${options.randomWrites} random writes`} …`);
        const result = await runCase(options, system, scenario, base, lower);
        results.push(result);
        if (result.ok) {
          log(`${scenario}/${system.name}: flash ${formatBytes(result.flash!.bytes)} in ${result.flash!.requests} requests; net ${formatBytes(scenario === 'iot' ? result.net!.changedFileBytes : result.net!.changedBlockBytes)} (${Math.round(result.durationMs / 1000)} s)`);
        }
      }
    }
  } finally {
    await root.runAll();
    activeCleanups.delete(root);
  }

  const info: RunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    kernel: release(),
    cpus: cpus().length,
    node: process.versions.node,
    pinned: options.pin,
    seconds: options.seconds,
    interval: formatDuration(options.intervalMs),
    randomWrites: options.randomWrites,
    bigFileMiB: options.bigFileMiB,
    bigFileIn: options.bigFileInUpper ? 'upper' : 'lower',
    flashMiB: options.flashMiB,
    flashOptions: options.flashOptions,
    ...(floor === undefined ? {} : { floor }),
    command: `node dist/bench/wear/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    totalMs: Date.now() - totalStarted,
  };
  const verdicts = evaluateTargets(results, formatDuration(options.intervalMs), options.bigFileMiB);
  const markdown = renderMarkdown(info, results, verdicts);
  mkdirSync(dirname(options.json), { recursive: true });
  mkdirSync(dirname(options.markdown), { recursive: true });
  writeFileSync(options.json, `${JSON.stringify({ info, targets: verdicts, results }, null, 2)}\n`);
  writeFileSync(options.markdown, markdown);
  process.stdout.write(markdown);
  log(`wrote ${options.json} and ${options.markdown}`);
  return results.every((r) => r.ok && r.cleanupFailures.length === 0) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(2);
  },
);
