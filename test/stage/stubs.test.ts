// Stubs (the changed ranges of large upper files, kept in RAM) must show exactly what the file
// holds: an open with O_TRUNC empties a stub as it empties any file. Their bookkeeping must go
// when the file does: once a flush has carried them, the stage holds no stub, no stage inode
// mapping, no pending path (the metrics file shows the counts), however many there were.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { readMetrics, waitForMetrics } from '../support/prometheus-textfile.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { inMount, prepareStagedFlash, type StagedFlash } from '../flush/flush-fixture.js';

describe('stubs: contents and bookkeeping (staged)', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  let daemon: Persistd;
  let metricsFile: string;
  const mnt = (): string => setup.mountpoint;
  const upper = (): string => setup.upper;

  before(async () => {
    setup = prepareStagedFlash(cleanup, [{ path: 'data/.keep', content: '' }], { flashMiB: 128, stageMiB: 128 });
    metricsFile = join(setup.dir, 'metrics.prom');
    daemon = await startPersistd(cleanup, {
      lowers: setup.lowers, upper: upper(), stage: setup.stages.next(), mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '0', '--metrics-file', metricsFile],
    });
    // 40 files of 64 KiB in the upper: each later change makes a stub of it.
    inMount(mnt(), 'for i in $(seq 1 40); do head -c 65536 /dev/urandom > data/big-$i; done');
    await daemon.flushNow();
  });
  after(() => cleanup.runAll());

  it('an open with O_TRUNC of a large upper file shows only what is written after it', async () => {
    inMount(mnt(), 'printf x > data/big-1');
    assert.equal(readFileSync(join(mnt(), 'data/big-1'), 'utf8'), 'x');
    await daemon.flushNow();
    assert.equal(readFileSync(join(upper(), 'data/big-1'), 'utf8'), 'x');
  });

  it('drops the bookkeeping of stubs, stage inodes and pending paths once flushed and deleted', async () => {
    inMount(mnt(), 'for i in $(seq 2 40); do printf patched | dd of=data/big-$i bs=1 seek=4096 conv=notrunc status=none; done');
    // The metrics file is rewritten every 5 s: a stub per patched file, pending in RAM.
    await waitForMetrics(metricsFile, (m) => (m.get('persist_stubs') ?? 0) >= 39 && (m.get('persist_pending_paths') ?? 0) >= 39, 20_000, 'a stub per patched file');
    await daemon.flushNow();
    inMount(mnt(), 'rm data/big-*');
    await daemon.flushNow();
    const afterwards = readMetrics(metricsFile)!;
    assert.equal(afterwards.get('persist_stubs'), 0, 'stubs of deleted, flushed files are kept');
    assert.equal(afterwards.get('persist_pending_paths'), 0, 'pending paths are kept after their flush');
    assert.equal(afterwards.get('persist_stage_inode_mappings'), 0, 'stage inode mappings are kept after their flush');
  });
});

// A file written while its last change is being flushed is copied out of the frozen snapshot
// (its changed ranges only). Once that snapshot is on the flash the upper holds those ranges
// again, and the stage must let them go: a log or database written across many flushes costs RAM
// for its latest changes, not for every change since it was first touched.
describe('stubs written across flushes keep only their latest changes in RAM', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  let stageDir: string;
  let daemon: Persistd;
  const mnt = (): string => setup.mountpoint;
  const RANGE = 256 * 1024;
  const ROUNDS = 8;

  before(async () => {
    setup = prepareStagedFlash(cleanup, [{ path: 'data/.keep', content: '' }], { flashMiB: 64, stageMiB: 128 });
    stageDir = setup.stages.next();
    // Slow flushes (256 KiB/s): a write a moment after a flush starts lands while it runs.
    daemon = await startPersistd(cleanup, {
      lowers: setup.lowers, upper: setup.upper, stage: stageDir, mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '0', '--rate-limit', '256KiB/s'],
    });
    inMount(mnt(), `head -c ${4 * 1024 * 1024} /dev/urandom > data/db`);
    await daemon.flushNow();
  });
  after(() => cleanup.runAll());

  it(`holds about one range after ${ROUNDS} rounds, not all of them`, async () => {
    const writeRange = (k: number) => inMount(mnt(), `head -c ${RANGE} /dev/urandom | dd of=data/db bs=${RANGE} seek=${k} conv=notrunc status=none`);
    writeRange(0);
    for (let k = 1; k <= ROUNDS; k++) {
      const from = daemon.output().length;
      daemon.signal('SIGUSR1');
      await new Promise((done) => setTimeout(done, 300));
      writeRange(k); // lands while the flush of range k-1 runs: copied out of the snapshot
      await daemon.waitForNextFlush(from, 60_000);
    }
    // The next write punches out what the flash holds again; without that the stage would hold
    // every range written since the file was first touched.
    inMount(mnt(), `printf x | dd of=data/db bs=1 seek=${ROUNDS * RANGE + 10} conv=notrunc status=none`);
    const used = Number(inMount(mnt(), `du -s --block-size=1 '${stageDir}'`).split('\t')[0]);
    assert.ok(used <= 3 * RANGE, `the stage holds ${used} bytes after ${ROUNDS} rounds of ${RANGE}-byte changes`);
    // And the file reads as written: the released ranges now come from the upper.
    const union = inMount(mnt(), 'sha256sum data/db').split(' ')[0];
    await daemon.flushNow();
    assert.equal(inMount(mnt(), `sha256sum '${join(setup.upper, 'data', 'db')}'`).split(' ')[0], union);
  });
});
