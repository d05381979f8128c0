// A freeze that fails (here: the stage's tmpfs has no inode left for the fresh stage root) must
// leave the stage exactly as it was: the daemon reports the failed flush, keeps serving every
// file, and once there is room again the next flush carries everything to the flash.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { attachFlash, createFlashImage } from '../support/flash-image.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { buildLower, inMount } from '../flush/flush-fixture.js';
import { mkdirSync, readFileSync } from 'node:fs';

describe('a failed freeze leaves the stage serving', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let upper: string;
  let daemon: Persistd;
  const mnt = (): string => join(dir, 'mnt');

  before(async () => {
    dir = makeTempDir(cleanup);
    const lowers = [buildLower(cleanup, dir, [{ path: 'data/.keep', content: '' }])];
    const stage = join(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '64m', inodes: 64 }), 'stage');
    mkdirSync(stage);
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 64 * 1024 * 1024 });
    upper = join(attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash')).mountpoint, 'upper');
    mkdirSync(mnt());
    daemon = await startPersistd(cleanup, {
      lowers, upper, stage, mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '0'],
    });
  });
  after(() => cleanup.runAll());

  it('reports the failure, serves every file, and flushes once there is room', async () => {
    // Fill the stage's inodes: the last creates fail with ENOSPC, which is what we want.
    inMount(mnt(), 'i=0; while echo $i > data/f-$i 2>/dev/null; do i=$((i+1)); done; echo $i > /dev/null');
    const written = inMount(mnt(), 'ls data | grep -c "^f-"').trim();
    const from = daemon.output().length;
    daemon.signal('SIGUSR1');
    await daemon.waitForOutput(/flush failed|cannot freeze/, from, 30_000, 'the failed freeze to be reported');
    assert.equal(daemon.hasExited(), false, daemon.tail());
    assert.equal(inMount(mnt(), 'cat data/f-0 data/f-1').trim(), '0\n1');
    assert.equal(inMount(mnt(), 'ls data | grep -c "^f-"').trim(), written, 'a file vanished with the failed freeze');
    // Room again: delete a few, and the next flush takes the rest to the flash.
    inMount(mnt(), 'rm data/f-0 data/f-1 data/f-2 data/f-3');
    await daemon.flushNow();
    assert.equal(readFileSync(join(upper, 'data/f-4'), 'utf8'), '4\n');
    assert.equal(inMount(mnt(), `ls '${join(upper, 'data')}' | grep -c "^f-"`).trim(), String(Number(written) - 4));
  });
});
