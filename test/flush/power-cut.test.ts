// Guarantee 2 from an application's side: SQLite commits numbered transactions in the mount while
// persistd flushes every second; at a random moment the daemon is killed -9 and the flash is taken
// as its block device held it at that instant (a copy of the loop device's image: what ext4 had not
// yet written to the device is lost, and so is the stage). persistd recovers on that copy and the
// database must pass `PRAGMA integrity_check` and hold exactly rows 1..m, m at most the last
// transaction the writer saw committed. Iterations alternate SQLite's rollback journal and WAL.
//
// Knobs: PERSIST_POWERCUT_SEED (default 4242), PERSIST_POWERCUT_ITERATIONS (default 4).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { attachFlash, copyImage, createFlashImage, type FlashMount } from '../support/flash-image.js';
import { mountKernelOverlay } from '../support/overlayfs.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { buildLower, environmentNumber, inMount, prng, StageDirs } from './flush-fixture.js';

const SEED = environmentNumber('PERSIST_POWERCUT_SEED', 4242);
const ITERATIONS = environmentNumber('PERSIST_POWERCUT_ITERATIONS', 4);
const FLASH_BYTES = 128 * 1024 * 1024;
// Frequent flushes, slowed down by the rate limit so that a kill often lands inside one.
const POLICY = ['--flush-interval', '1s', '--min-interval', '200ms', '--rate-limit', '1MiB/s'];
const ROW_PAD_BYTES = 1500;

interface DbState {
  integrity: string;
  count: number;
  min: number;
  max: number;
}

/** integrity_check and the row range, by a sqlite3 child in `directory`. */
function inspectDatabase(directory: string): DbState {
  const out = inMount(directory, `sqlite3 -bail var/app.db 'PRAGMA integrity_check;' 'SELECT count(*), coalesce(min(i), 0), coalesce(max(i), 0) FROM t;'`);
  const lines = out.trim().split('\n');
  const [count, min, max] = (lines[lines.length - 1] ?? '').split('|').map(Number);
  return { integrity: lines.slice(0, -1).join('\n'), count: count!, min: min!, max: max! };
}

describe('power cut during SQLite transactions: the database survives as a prefix of its commits', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lowers: string[];
  let stages: StageDirs;
  let emptyImage: string;

  before(() => {
    dir = makeTempDir(cleanup);
    lowers = [buildLower(cleanup, dir, [{ path: 'var/README', content: 'database lives here\n' }, { path: 'etc/hostname', content: 'device\n' }])];
    stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '512m' }));
    mkdirSync(join(dir, 'mnt'));
    emptyImage = join(dir, 'empty.img');
    createFlashImage(emptyImage, { sizeBytes: FLASH_BYTES });
  });
  after(() => cleanup.runAll());

  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const journalMode = iteration % 2 === 0 ? 'delete' : 'wal';
    it(`iteration ${iteration} (seed ${SEED}, journal_mode=${journalMode})`, async (t) => {
      const random = prng(SEED * 1000 + iteration);
      const reproducer = `PERSIST_POWERCUT_SEED=${SEED} PERSIST_POWERCUT_ITERATIONS=${iteration + 1} PERSIST_TEST_ONLY=dist/test/flush/power-cut.test.js sh scripts/test.sh`;
      const local = new Cleanup();
      try {
        await runIteration(local, random, journalMode, t.diagnostic.bind(t));
      } catch (error) {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n  reproduce: ${reproducer}`);
      } finally {
        const failures = await local.runAll();
        assert.deepEqual(failures, [], 'iteration teardown failed');
      }
    });
  }

  async function runIteration(local: Cleanup, random: () => number, journalMode: string, note: (message: string) => void): Promise<void> {
    const mnt = join(dir, 'mnt');
    const flashRoot = join(dir, 'flash');
    const working = join(dir, 'flash-working.img');
    const cutImage = join(dir, 'flash-cut.img');
    rmSync(working, { force: true });
    rmSync(cutImage, { force: true });
    copyImage(emptyImage, working);
    let flash: FlashMount = attachFlash(local, working, flashRoot);
    const start = (): Promise<Persistd> =>
      startPersistd(local, { lowers, upper: join(flashRoot, 'upper'), stage: stages.next(), mountpoint: mnt, extraArgs: POLICY });

    const daemon = await start();
    inMount(mnt, `sqlite3 -bail var/app.db 'PRAGMA journal_mode=${journalMode};' 'CREATE TABLE t(i INTEGER PRIMARY KEY, pad BLOB);' > /dev/null`);

    // The writer: transaction i, then "i" on stdout once sqlite3 has returned from its COMMIT.
    const writer = spawn('sh', ['-c', `cd '${mnt}' || exit 1
i=1
while [ $i -le 1000000 ]; do
  sqlite3 -bail var/app.db "BEGIN; INSERT INTO t VALUES($i, randomblob(${ROW_PAD_BYTES})); COMMIT;" || exit 1
  echo $i
  i=$((i + 1))
done`], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    local.add('kill the SQLite writer', () => {
      try {
        process.kill(-writer.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    let lastLogged = 0;
    let writerErrors = '';
    createInterface({ input: writer.stdout! }).on('line', (line) => {
      lastLogged = Math.max(lastLogged, Number(line));
    });
    writer.stderr!.on('data', (chunk: Buffer) => {
      writerErrors = (writerErrors + chunk.toString()).slice(-2000);
    });
    const writerDone = new Promise<void>((resolve) => writer.once('exit', () => resolve()));

    // Wait until row r0 is committed, then for two completed flushes: the second one's snapshot
    // was taken after the first one completed, so after r0 was committed. Rows 1..r0 must survive.
    const r0 = 5 + Math.floor(random() * 20);
    const deadline = Date.now() + 60_000;
    while (lastLogged < r0) {
      if (Date.now() > deadline || writer.exitCode !== null) {
        throw new Error(`the writer did not reach row ${r0} (at ${lastLogged}); writer stderr: ${writerErrors}\npersistd output:\n${daemon.tail(2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const offset = daemon.output().length;
    await daemon.waitForNextFlush(offset, 60_000);
    await daemon.waitForNextFlush(daemon.output().length, 60_000);
    const delay = Math.floor(random() * 1500);
    await new Promise((resolve) => setTimeout(resolve, delay));

    // The power cut.
    const loggedAtCut = lastLogged;
    process.kill(daemon.pid, 'SIGKILL');
    await daemon.exited;
    copyImage(flash.image, cutImage);

    // The writer fails on the dead mount (ENOTCONN); its last lines may still be in the pipe.
    let writerTimer: NodeJS.Timeout | undefined;
    await Promise.race([writerDone, new Promise((resolve) => (writerTimer = setTimeout(resolve, 20_000)))]);
    clearTimeout(writerTimer);
    await daemon.stop();
    flash.detach();

    // Power back on: the device as it was, an empty stage, recovery.
    flash = attachFlash(local, cutImage, flashRoot);
    const recovered = await start();
    const seen = inspectDatabase(mnt);
    const recoveryLines = recovered.output().split('\n').filter((line) => line.includes('recovery')).join(' | ');
    note(`r0=${r0} delay=${delay}ms logged at cut=${loggedAtCut} last logged=${lastLogged} rows after recovery=${seen.count} max=${seen.max}; ${recoveryLines}`);
    const context = `(journal_mode=${journalMode}, rows 1..${r0} committed before two flushes, ${lastLogged} logged in all, kill ${delay} ms later)`;
    assert.equal(seen.integrity, 'ok', `integrity_check through persistd after recovery ${context}`);
    assert.equal(seen.count, seen.max, `rows are not 1..m: count ${seen.count}, max ${seen.max} ${context}`);
    if (seen.count > 0) assert.equal(seen.min, 1, `rows are not 1..m: min ${seen.min} ${context}`);
    assert.ok(seen.max <= lastLogged, `row ${seen.max} survived but the writer saw only ${lastLogged} commits ${context}`);
    assert.ok(seen.max >= r0, `rows up to ${r0} were committed before two completed flushes, but only ${seen.max} survived ${context}`);
    const exit = await recovered.stop();
    assert.equal(exit.code, 0, `recovered persistd should exit 0 on SIGTERM: ${JSON.stringify({ code: exit.code, signal: exit.signal })}\n${exit.output.slice(-3000)}`);

    // The same database through kernel overlayfs over the recovered upper.
    const view = join(dir, 'kernel-view');
    const viewCleanup = new Cleanup();
    try {
      rmSync(join(flashRoot, 'kernel-check-work'), { recursive: true, force: true });
      mountKernelOverlay(viewCleanup, { lowers, upper: join(flashRoot, 'upper'), work: join(flashRoot, 'kernel-check-work') }, view);
      const kernel = inspectDatabase(view);
      assert.equal(kernel.integrity, 'ok', `integrity_check through kernel overlayfs ${context}`);
      assert.deepEqual({ count: kernel.count, max: kernel.max }, { count: seen.count, max: seen.max }, `kernel overlayfs shows other rows than persistd did ${context}`);
    } finally {
      await viewCleanup.runAll();
    }
    flash.detach();
  }
});
