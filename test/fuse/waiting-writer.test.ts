// A writer the daemon holds (an honoured fsync waiting for its flush, a write waiting for room in
// the stage) must not hold anyone else: stats and reads of other files are served meanwhile.
// The proof is an ordering, not a speed: the writer is seen inside its one fsync() or write()
// call (/proc/PID/syscall, and the same write count in /proc/PID/io) before a reader process runs
// stat()+read() of other files, and is seen still inside that same call after the reader has
// finished. If the daemon served one operation at a time, the reader could only finish after the
// writer's call returned.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { tryRun } from '../support/command.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';

const SYS_WRITE = 1;
const SYS_FSYNC = 74;
const MIB = 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The syscall number a blocked process is in (the first field of /proc/PID/syscall), or null. */
function syscallOf(pid: number): number | null {
  try {
    const first = readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0]!;
    return /^\d+$/.test(first) ? Number(first) : null; // "running" or gone
  } catch {
    return null;
  }
}

/** The process's count of completed write-type syscalls (syscw in /proc/PID/io). */
function writesDone(pid: number): number {
  return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
}

/** True while a flush is preparing its batch in FLASH/journal (batch-N.tmp). */
function flushInProgress(flash: string): boolean {
  const journal = join(flash, 'journal');
  return existsSync(journal) && readdirSync(journal).some((name) => name.endsWith('.tmp'));
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number, daemon: Persistd): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; persistd output:\n${daemon.tail(3000)}`);
    await sleep(20);
  }
}

/** A node child that touches the mount; never this process (it does not serve it, but waits). */
function child(cleanup: Cleanup, script: string): ChildProcess {
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add('kill writer', () => void proc.kill('SIGKILL'));
  return proc;
}

/** stat()+read() of `files` in a child process with a timeout; returns once it has finished. */
function statAndRead(files: string[]): void {
  const script = `const fs = require('fs'); for (const f of ${JSON.stringify(files)}) { fs.statSync(f); fs.readFileSync(f); }`;
  const result = tryRun(process.execPath, ['-e', script], { timeoutMs: 60_000 });
  assert.equal(result.status, 0, `the reader failed: ${result.stderr}`);
}

interface Setup {
  cleanup: Cleanup;
  daemon: Persistd;
  mnt: string;
  flash: string;
  others: string[];
}

async function start(stageSize: string, args: string[]): Promise<Setup> {
  const cleanup = new Cleanup();
  const dir = makeTempDir(cleanup);
  const lower = join(dir, 'lower');
  mkdirSync(join(lower, 'etc'), { recursive: true });
  mkdirSync(join(lower, 'data/critical'), { recursive: true });
  writeFileSync(join(lower, 'etc/hostname'), 'device\n');
  const flash = mountTmpfs(cleanup, join(dir, 'flash'), { size: '256m' });
  const stage = join(mountTmpfs(cleanup, join(dir, 'stage'), { size: stageSize }), 'stage');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const daemon = await startPersistd(cleanup, {
    lowers: [lower], upper: join(flash, 'upper'), stage, mountpoint: mnt,
    extraArgs: ['--flush-interval', '1h', '--min-interval', '1h', '--max-dirty', '1GiB', ...args],
  });
  writeFileSync(join(mnt, 'data/other'), 'other\n');
  return { cleanup, daemon, mnt, flash, others: [join(mnt, 'etc/hostname'), join(mnt, 'data/other')] };
}

describe('a writer held by the daemon does not hold other requests', () => {
  let setup: Setup | undefined;
  afterEach(async () => {
    setup?.daemon.signal('SIGKILL'); // what the held writer wrote does not matter here
    await setup?.cleanup.runAll();
    setup = undefined;
  });

  it('serves stat and read of other files while an honoured fsync waits for its flush', async () => {
    // 2 MiB at 256 KiB/s: the fsync waits about 8 s for its flush.
    setup = await start('64m', ['--fsync-honor', '/data/critical', '--rate-limit', '256KiB/s']);
    const { cleanup, daemon, mnt, flash, others } = setup;
    const target = join(mnt, 'data/critical/log');
    const writer = child(cleanup, `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(target)}, 'w');
      fs.writeSync(fd, Buffer.alloc(${2 * MIB}, 1)); fs.fsyncSync(fd); fs.closeSync(fd);`);
    const pid = writer.pid!;
    await waitFor('the writer inside fsync() and its flush started', () => syscallOf(pid) === SYS_FSYNC && flushInProgress(flash), 20_000, daemon);

    statAndRead(others);

    assert.equal(syscallOf(pid), SYS_FSYNC, 'the writer must still be inside its fsync() when the reader is done');
    assert.equal(existsSync(join(flash, 'upper/data/critical/log')), false, 'the fsync\'s flush must not have completed yet');
    await waitFor('the fsync to return', () => writer.exitCode !== null, 60_000, daemon);
    assert.equal(writer.exitCode, 0);
    assert.equal(readFileSync(join(flash, 'upper/data/critical/log')).length, 2 * MIB, 'an honoured fsync returns with the data on the flash');
  });

  it('serves stat and read of other files while a write waits for room in the stage', async () => {
    // A 4 MiB stage is "low" under 1 MiB free; a flush of ~3 MiB at 128 KiB/s takes longer
    // than backpressure's 10 s limit, so the write is held for 10 s.
    setup = await start('4m', ['--rate-limit', '128KiB/s']);
    const { cleanup, daemon, mnt, flash, others } = setup;
    const writer = child(cleanup, `const fs = require('fs'); const data = Buffer.alloc(${MIB}, 2);
      for (let i = 0; i < 6; i++) { try { fs.writeFileSync(${JSON.stringify(join(mnt, 'data'))} + '/bulk-' + i, data); } catch {} }`);
    const pid = writer.pid!;
    await waitFor('the writer inside write() and a flush started', () => syscallOf(pid) === SYS_WRITE && flushInProgress(flash), 20_000, daemon);
    const before = writesDone(pid);

    statAndRead(others);

    assert.equal(syscallOf(pid), SYS_WRITE, 'the writer must still be inside a write() when the reader is done');
    assert.equal(writesDone(pid), before, 'and inside the same write() as before the reader started');
  });
});
