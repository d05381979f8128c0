// Inode numbers stay stable and unique across 1,000 flushes and 20 restarts (staged mode), and the
// bookkeeping behind them stays bounded: FLASH/inodes is compacted into one map that holds about
// one line per object the upper has, not one per object ever flushed.
//
// Each round: a new file, an append to a log, a rename of a moving file, a chmod of a lower file;
// then a flush. After every flush, every name's number must be the one it was first seen with
// (renames keep it) and no two live names may share one.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { startPersistd } from '../support/persistd.js';
import { prepareStagedFlash, type StagedFlash } from '../flush/flush-fixture.js';

const RESTARTS = 20;
const FLUSHES_PER_START = 50;

describe('inode numbers across 1,000 flushes and 20 restarts', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  const mnt = (): string => setup.mountpoint;

  before(() => {
    setup = prepareStagedFlash(cleanup, [{ path: 'etc/config', content: 'factory\n' }, { path: 'etc/other', content: 'other\n' }], { flashMiB: 64, stageMiB: 64 });
  });
  after(() => cleanup.runAll());

  it('keeps every number stable and unique, and FLASH/inodes bounded', async () => {
    const firstSeen = new Map<string, string>(); // path -> number
    let moving = 'moving-0';
    let flushes = 0;
    for (let start = 0; start < RESTARTS; start++) {
      const daemon = await startPersistd(cleanup, {
        lowers: setup.lowers, upper: setup.upper, stage: setup.stages.next(), mountpoint: mnt(),
        extraArgs: ['--flush-interval', '1h', '--min-interval', '0'],
      });
      for (let round = 0; round < FLUSHES_PER_START; round++) {
        const next = `moving-${flushes + 1}`;
        const setup = flushes === 0 ? `mkdir -p n && echo start > ${moving} && chmod 600 etc/config` : `mv ${moving} ${next}`;
        run('sh', ['-euc', `cd '${mnt()}' && ${setup} && echo ${flushes} > n/f-${flushes} && echo ${flushes} >> log && chmod ${flushes % 2 ? 644 : 640} etc/other`]);
        if (flushes > 0) {
          firstSeen.set(next, firstSeen.get(moving)!); // a rename keeps the number
          firstSeen.delete(moving);
          moving = next;
        }
        await daemon.flushNow();
        flushes++;
        // Every name at the first flush after a start (the numbers came back from the flash), the
        // recent ones at the others (a full listing per flush would cost more than the flush).
        const names = round === 0 ? 'n/*' : Array.from({ length: Math.min(flushes, 5) }, (_, i) => `n/f-${flushes - 1 - i}`).join(' ');
        const shown = new Map<string, string>();
        for (const line of run('sh', ['-c', `cd '${mnt()}' && stat -c '%i %n' etc/config etc/other log ${moving} ${names}`]).trim().split('\n')) {
          const [number, path] = line.split(' ');
          shown.set(path!, number!);
        }
        for (const [path, number] of shown) {
          const first = firstSeen.get(path);
          if (first === undefined) firstSeen.set(path, number);
          else assert.equal(number, first, `${path} changed its inode number at flush ${flushes} (start ${start + 1})`);
        }
        const numbers = [...shown.values()];
        assert.equal(new Set(numbers).size, numbers.length, `two names share an inode number at flush ${flushes}`);
        if (round === 0) {
          const all = [...firstSeen.values()];
          assert.equal(new Set(all).size, all.length, `two names were ever shown with one number (start ${start + 1})`);
        }
      }
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, exit.output.slice(-2000));
    }
    assert.equal(flushes, RESTARTS * FLUSHES_PER_START);
    const inodesDir = join(setup.flash.mountpoint, 'inodes');
    const files = readdirSync(inodesDir);
    assert.ok(files.length <= 65, `FLASH/inodes holds ${files.length} files: ${files.slice(0, 10).join(' ')}...`);
    // The compacted map (rewritten at every start and every 64 flushes) holds a line per object
    // that persist moved to the upper, no more: replaced and deleted objects were forgotten.
    const mapLines = readFileSync(join(inodesDir, 'map'), 'utf8').split('\n').filter(Boolean).length;
    const upperObjects = Number(run('sh', ['-c', `find '${setup.upper}' | wc -l`]).trim());
    assert.ok(mapLines <= upperObjects, `the inode map holds ${mapLines} lines for ${upperObjects} upper objects`);
  });
});
