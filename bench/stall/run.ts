// bench/stall: the worst stall a reader of the root sees while a writer is held by the daemon.
//
//   node dist/bench/stall/run.js [--cases backpressure,fsync] [--rate-limit 2MiB/s] [--json FILE]
//
// A staged persistd serves a small lower. A reader process loops stat()+open()+fstat()+read()+
// close() over two files that the writer never touches (one in the lower, one in the stage) and
// records its slowest iteration. Meanwhile a writer process is held by the daemon:
//   backpressure  a 16 MiB tmpfs stage and 24 files of 1 MiB written into it: at 90% full the
//                 writer waits while a rate-limited flush makes room (up to 10 s);
//   fsync         8 MiB written under --fsync-honor, then fsync(): it waits for the whole flush.
// The flash is a tmpfs; --rate-limit sets how long the flush (and so the writer's wait) takes.
// Reported per case: the reader's worst and p99 iteration while idle and while the writer runs,
// and how long the writer was held. Run as root after `npm run build`.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cleanup } from '../../test/support/cleanup.js';
import { startPersistd } from '../../test/support/persistd.js';
import { makeTempDir } from '../../test/support/tempdir.js';
import { mountTmpfs } from '../../test/support/tmpfs.js';

const PROBE = join(dirname(fileURLToPath(import.meta.url)), 'probe.js');
const MIB = 1024 * 1024;

const USAGE = `usage: node dist/bench/stall/run.js [options]

  --cases LIST        backpressure,fsync (default both)
  --rate-limit RATE   persistd --rate-limit, i.e. how long a flush holds the writer (default 2MiB/s)
  --idle-ms N         reader alone before the writer starts (default 2000)
  --json FILE         also write the results there
  -h, --help`;

interface ReaderResult {
  iterations: number;
  errors: number;
  worstMs: number;
  worstAtMs: number;
  p50Ms: number;
  p99Ms: number;
}

interface CaseResult {
  name: string;
  daemonArgs: string[];
  idle: ReaderResult;
  loaded: ReaderResult;
  writer: Record<string, number>;
  /** How long the writer was held: its slowest write(), or its fsync(). */
  heldMs: number;
}

function runProbe(args: string[]): { done: Promise<Record<string, number>>; pid: number } {
  const child = spawn(process.execPath, [PROBE, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const done = new Promise<Record<string, number>>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`probe ${args[0]} exited ${code}: ${out}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>);
    });
  });
  return { done, pid: child.pid! };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The reader alone for `ms`, then the reader while `writer` runs (until it exits + 300 ms). */
async function measure(dir: string, files: string[], idleMs: number, writer: () => Promise<Record<string, number>>) {
  const idleStop = join(dir, `stop-idle-${Date.now()}`);
  const idleReader = runProbe(['reader', idleStop, ...files]);
  await sleep(idleMs);
  writeFileSync(idleStop, '');
  const idle = (await idleReader.done) as unknown as ReaderResult;

  const stop = join(dir, `stop-${Date.now()}`);
  const reader = runProbe(['reader', stop, ...files]);
  await sleep(300);
  const result = await writer();
  await sleep(300);
  writeFileSync(stop, '');
  const loaded = (await reader.done) as unknown as ReaderResult;
  return { idle, loaded, writer: result };
}

async function runCase(name: string, rate: string, idleMs: number): Promise<CaseResult> {
  const cleanup = new Cleanup();
  try {
    const dir = makeTempDir(cleanup, 'persist-stall-');
    const lower = join(dir, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    mkdirSync(join(lower, 'data/critical'), { recursive: true });
    writeFileSync(join(lower, 'etc/hostname'), 'device\n');
    const flash = mountTmpfs(cleanup, join(dir, 'flash'), { size: '512m' });
    const stage = join(mountTmpfs(cleanup, join(dir, 'stage'), { size: name === 'backpressure' ? '16m' : '64m' }), 'stage');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const daemonArgs = [
      '--flush-interval', '1h', '--min-interval', '1h', '--max-dirty', '1GiB', '--rate-limit', rate,
      ...(name === 'fsync' ? ['--fsync-honor', '/data/critical'] : []),
    ];
    const daemon = await startPersistd(cleanup, { lowers: [lower], upper: join(flash, 'upper'), stage, mountpoint: mnt, extraArgs: daemonArgs });
    writeFileSync(join(mnt, 'data/other'), 'x'.repeat(16 * 1024));
    const files = [join(mnt, 'etc/hostname'), join(mnt, 'data/other')];
    const writer = name === 'backpressure'
      ? () => runProbe(['bulk', join(mnt, 'data'), '24', String(MIB)]).done
      : () => runProbe(['fsync', join(mnt, 'data/critical/log'), String(8 * MIB)]).done;
    const measured = await measure(dir, files, idleMs, writer);
    const stopped = await daemon.stop();
    if (stopped.code !== 0) throw new Error(`persistd exited ${stopped.code}: ${stopped.output.slice(-2000)}`);
    const heldMs = name === 'backpressure' ? measured.writer['slowestWriteMs']! : measured.writer['fsyncMs']!;
    return { name, daemonArgs, ...measured, heldMs };
  } finally {
    await cleanup.runAll();
  }
}

const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: 'backpressure,fsync' },
      'rate-limit': { type: 'string', default: '2MiB/s' },
      'idle-ms': { type: 'string', default: '2000' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(USAGE);
  const results: CaseResult[] = [];
  for (const name of values.cases!.split(',')) {
    if (name !== 'backpressure' && name !== 'fsync') throw new Error(`unknown case '${name}'\n${USAGE}`);
    results.push(await runCase(name, values['rate-limit']!, Number(values['idle-ms'])));
  }
  console.log('| case | writer held | reader worst (idle) | reader worst (writer held) | reader p99 (writer held) | reader iterations |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(`| ${r.name} | ${ms(r.heldMs)} ms | ${ms(r.idle.worstMs)} ms | ${ms(r.loaded.worstMs)} ms | ${ms(r.loaded.p99Ms)} ms | ${r.loaded.iterations} |`);
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench/stall: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
