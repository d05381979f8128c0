// bench/control: the worst stall a reader of the root sees while an operator's client works the
// control socket, which shares persistd's JS thread with the FUSE operations.
//
//   node dist/bench/control/run.js [--changes 50000] [--big-mib 64] [--json FILE]
//
// A staged persistd (flash and stage on tmpfs, no flush during the run) gets --changes new files
// (pending changes) and one --big-mib file. A reader process (bench/stall's probe) loops
// stat()+open()+fstat()+read()+close() over two files and records its slowest iteration while:
//   list-all      a client pages through every change, 1,000 per request (persistctl changes --all)
//   list-10k      one request for 10,000 entries (the protocol's maximum page)
//   diff-big      a diff of the big file (hashed in chunks: it is over the text-diff limit)
//   status-loop   200 status requests back to back
// Reported per case: how long the client took, the reader's worst and p99 iteration. Run as root
// after `npm run build`.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectControl } from '../../src/control/client.js';
import type { Control } from '../../src/control/protocol.js';
import { Cleanup } from '../../test/support/cleanup.js';
import { startPersistd } from '../../test/support/persistd.js';
import { makeTempDir } from '../../test/support/tempdir.js';
import { mountTmpfs } from '../../test/support/tmpfs.js';

const PROBE = join(dirname(fileURLToPath(import.meta.url)), '../stall/probe.js');
const MIB = 1024 * 1024;

interface ReaderResult {
  iterations: number;
  errors: number;
  worstMs: number;
  p50Ms: number;
  p99Ms: number;
}

function runReader(stopFile: string, files: string[]): Promise<ReaderResult> {
  const child = spawn(process.execPath, [PROBE, 'reader', stopFile, ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ReaderResult) : reject(new Error(`reader exited ${code}`))));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` while the reader loops; returns how long it took and what the reader saw. */
async function measure(dir: string, files: string[], name: string, work: () => Promise<unknown>) {
  const stop = join(dir, `stop-${name}`);
  const reader = runReader(stop, files);
  await sleep(500);
  const t0 = performance.now();
  await work();
  const clientMs = performance.now() - t0;
  await sleep(300);
  writeFileSync(stop, '');
  return { name, clientMs, reader: await reader };
}

async function listAll(control: Control): Promise<number> {
  let seen = 0;
  for (let offset = 0; ; offset += 1000) {
    const page = await control.changes({ offset, limit: 1000 });
    seen += page.entries.length;
    if (offset + 1000 >= page.total) return seen;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      changes: { type: 'string', default: '50000' },
      'big-mib': { type: 'string', default: '64' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log('usage: node dist/bench/control/run.js [--changes 50000] [--big-mib 64] [--json FILE]');
  const count = Number(values.changes);
  const cleanup = new Cleanup();
  try {
    const dir = makeTempDir(cleanup, 'persist-control-bench-');
    const lower = join(dir, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc/hostname'), 'device\n');
    const flash = mountTmpfs(cleanup, join(dir, 'flash'), { size: '2g' });
    const stage = join(mountTmpfs(cleanup, join(dir, 'stage'), { size: '2g', inodes: count * 2 + 10_000 }), 'stage');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const daemon = await startPersistd(cleanup, {
      lowers: [lower], upper: join(flash, 'upper'), stage, mountpoint: mnt,
      extraArgs: ['--flush-interval', '1h', '--min-interval', '1h', '--max-dirty', '64GiB'],
    });
    const control = await connectControl(await daemon.controlReady());
    cleanup.add('close the client', () => control.close());
    const t0 = performance.now();
    // 100 directories of count/100 files, made by a shell so that setup is quick.
    await new Promise<void>((done, failed) => {
      const perDir = Math.ceil(count / 100);
      const script = `cd '${mnt}' && mkdir -p data && cd data && for d in $(seq 1 100); do mkdir d$d; (cd d$d && seq 1 ${perDir} | xargs touch); done && head -c ${Number(values['big-mib']) * MIB} /dev/urandom > ../big`;
      const child = spawn('sh', ['-c', script], { stdio: 'inherit' });
      child.once('exit', (code) => (code === 0 ? done() : failed(new Error(`setup exited ${code}`))));
    });
    const pending = (await control.changes({ limit: 1 })).total;
    console.log(`setup: ${pending} pending changes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const files = [join(mnt, 'etc/hostname'), join(mnt, 'data/d1/1')];
    const results = [
      await measure(dir, files, 'idle', () => sleep(2000)),
      await measure(dir, files, 'list-all', () => listAll(control)),
      await measure(dir, files, 'list-all-again', () => listAll(control)),
      await measure(dir, files, 'list-10k', () => control.changes({ limit: 10_000 })),
      await measure(dir, files, 'diff-big', () => control.diff('/big')),
      await measure(dir, files, 'status-loop', async () => {
        for (let i = 0; i < 200; i++) await control.status();
      }),
    ];
    console.log(`| case (${pending} changes) | client took | reader worst | reader p99 | reader iterations |`);
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const r of results) {
      console.log(`| ${r.name} | ${r.clientMs.toFixed(0)} ms | ${r.reader.worstMs.toFixed(1)} ms | ${r.reader.p99Ms.toFixed(2)} ms | ${r.reader.iterations} |`);
    }
    if (values.json) writeFileSync(values.json, `${JSON.stringify({ pending, results }, null, 2)}\n`);
  } finally {
    await cleanup.runAll();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench/control: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
