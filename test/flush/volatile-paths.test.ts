// --volatile PREFIX in staged mode: what lives under PREFIX (a /tmp, say) is served from RAM like
// everything else but never reaches the flash; the rest of the same flush does.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { attachFlash, createFlashImage, type FlashMount } from '../support/flash-image.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { buildLower, StageDirs } from './flush-fixture.js';

const MIB = 1024 * 1024;

describe('--volatile: paths kept in RAM only', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let flash: FlashMount;
  let daemon: Persistd;
  const mnt = (): string => join(dir, 'mnt');
  const upper = (): string => join(flash.mountpoint, 'upper');

  before(async () => {
    dir = makeTempDir(cleanup);
    const lowers = [buildLower(cleanup, dir, [{ path: 'tmp/.keep', content: '' }, { path: 'var/lib/.keep', content: '' }])];
    const stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '64m' }));
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 64 * MIB });
    flash = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'));
    mkdirSync(mnt());
    daemon = await startPersistd(cleanup, {
      lowers,
      upper: upper(),
      stage: stages.next(),
      mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '0s', '--volatile', '/tmp', '--volatile', '/run/'],
    });
  });
  after(() => cleanup.runAll());

  it('flushes everything but the volatile paths, which the union still serves', async () => {
    // This process writes to the mount as a client only; the daemon is another process.
    mkdirSync(join(mnt(), 'tmp/job'));
    writeFileSync(join(mnt(), 'tmp/job/scratch'), 'scratch\n');
    mkdirSync(join(mnt(), 'run'));
    writeFileSync(join(mnt(), 'run/pid'), '42\n');
    writeFileSync(join(mnt(), 'var/lib/state'), 'kept\n');
    await daemon.flushNow();
    assert.equal(readFileSync(join(upper(), 'var/lib/state'), 'utf8'), 'kept\n');
    assert.equal(existsSync(join(upper(), 'tmp/job')), false, 'nothing under /tmp reaches the flash');
    assert.equal(existsSync(join(upper(), 'run')), false, 'not even the volatile directory itself');
    assert.equal(readFileSync(join(mnt(), 'tmp/job/scratch'), 'utf8'), 'scratch\n', 'the union still serves it from RAM');
  });
});
