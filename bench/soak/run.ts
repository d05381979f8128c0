/**
 * Soak: 1,000,000 create/write/delete cycles of small files through a staged persistd, with
 * flushes every second, while the daemon's RSS is sampled. Whatever persist keeps per path, per
 * object or per flush must be released again, so RSS must settle and stay flat.
 *
 *   node dist/bench/soak/run.js [--cycles N] [--live K]
 *
 * Each cycle creates file i (100 bytes) and deletes file i-K, so K files are alive at any time and
 * most of them live across a freeze: they are flushed, then deleted by a later flush. Stage and
 * upper are tmpfs (this measures the daemon, not the flash). Root only (it mounts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { values } = parseArgs({ options: { cycles: { type: 'string', default: '1000000' }, live: { type: 'string', default: '200' } } });
const cycles = Number(values.cycles);
const live = Number(values.live);

const dir = mkdtempSync(join(tmpdir(), 'persist-soak-'));
const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { stdio: 'inherit' });
mkdirSync(join(dir, 'ram'));
sh(`mount -t tmpfs -o size=512m soak '${join(dir, 'ram')}'`);
for (const d of ['lower/etc', 'ram/flash/upper', 'ram/stage', 'mnt']) mkdirSync(join(dir, d), { recursive: true });

// PERSIST_SOAK_PROFILE=DIR: the daemon writes a CPU profile there (--cpu-prof) when it exits.
const profile = process.env['PERSIST_SOAK_PROFILE'];
const daemon = spawn(process.execPath, [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), join(repo, 'bin', 'persistd.js'), 'mount', '--lower', join(dir, 'lower'),
  '--upper', join(dir, 'ram/flash/upper'), '--stage', join(dir, 'ram/stage'),
  '--flush-interval', '1s', '--min-interval', '0', '--rate-limit', '1GiB/s', join(dir, 'mnt')], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
daemon.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));

const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))?.[1] ?? NaN);
const samples: { cycle: number; rssMiB: number; seconds: number }[] = [];
let workload: ReturnType<typeof spawn> | undefined;

async function main(): Promise<void> {
  while (!log.includes('serving')) {
    if (daemon.exitCode !== null) throw new Error(`persistd did not start:\n${log}`);
    await new Promise((done) => setTimeout(done, 50));
  }
  const started = Date.now();
  // The workload runs in its own process: a process must never touch the FUSE mount it serves.
  workload = spawn(process.execPath, ['-e', `
    const fs = require('fs'); const dir = process.argv[1]; const cycles = +process.argv[2]; const live = +process.argv[3];
    fs.mkdirSync(dir + '/d', { recursive: true });
    const data = Buffer.alloc(100, 120);
    for (let i = 0; i < cycles; i++) {
      fs.writeFileSync(dir + '/d/f-' + i, data);
      if (i >= live) fs.unlinkSync(dir + '/d/f-' + (i - live));
      if (i % 10000 === 0) process.stdout.write(i + '\\n');
    }
    for (let i = Math.max(0, cycles - live); i < cycles; i++) fs.unlinkSync(dir + '/d/f-' + i);
    process.stdout.write(cycles + '\\n');
  `, join(dir, 'mnt'), String(cycles), String(live)], { stdio: ['ignore', 'pipe', 'inherit'] });
  workload.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().trim().split('\n')) {
      const cycle = Number(line);
      if (cycle % 50000 !== 0) continue;
      const sample = { cycle, rssMiB: rssKiB() / 1024, seconds: (Date.now() - started) / 1000 };
      samples.push(sample);
      console.log(`cycle ${cycle}: daemon RSS ${sample.rssMiB.toFixed(1)} MiB after ${sample.seconds.toFixed(0)} s`);
    }
  });
  const code = await new Promise<number | null>((done) => workload!.on('exit', done));
  if (code !== 0) throw new Error(`the workload failed (${code})`);
  await new Promise((done) => setTimeout(done, 3000)); // the last flushes
  const flushes = (log.match(/flushed batch/g) ?? []).length;
  console.log(`done: ${cycles} cycles in ${((Date.now() - started) / 1000).toFixed(0)} s, ${flushes} flushes; ` +
    `RSS first ${samples[0]?.rssMiB.toFixed(1)} MiB, peak ${Math.max(...samples.map((s) => s.rssMiB)).toFixed(1)} MiB, last ${samples.at(-1)?.rssMiB.toFixed(1)} MiB; ` +
    `upper holds ${readdirSync(join(dir, 'ram/flash/upper/d')).length} files`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    if (workload && workload.exitCode === null) workload.kill('SIGKILL');
    daemon.kill('SIGTERM');
    await new Promise((done) => daemon.on('exit', done));
    sh(`umount -l '${join(dir, 'mnt')}' 2>/dev/null; umount '${join(dir, 'ram')}'`);
    rmSync(dir, { recursive: true, force: true });
    if (daemon.exitCode !== 0) console.error(log.slice(-3000));
  });
