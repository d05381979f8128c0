// fsync in staged mode: by default ("defer") it returns once the data is in RAM and the flash sees
// the file only at the next flush; under an --fsync-honor prefix it returns only when a flush
// holding the file has completed, so the upper has it the moment fsync returns.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { attachFlash, createFlashImage, type FlashMount } from '../support/flash-image.js';
import { StagedPersistd } from '../support/staged-persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { buildLower, StageDirs } from './flush-fixture.js';

const MIB = 1024 * 1024;

/** Writes `text` to `path` and fsyncs it, in a child process (never the daemon's). */
function writeAndFsync(path: string, text: string): void {
  run(process.execPath, ['-e', `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'w'); fs.writeSync(fd, ${JSON.stringify(text)}); fs.fsyncSync(fd); fs.closeSync(fd);`]);
}

describe('fsync: defer by default, honor under --fsync-honor', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let flash: FlashMount;
  const mnt = (): string => join(dir, 'mnt');
  const upper = (): string => join(flash.mountpoint, 'upper');

  before(async () => {
    dir = makeTempDir(cleanup);
    const lowers = [buildLower(cleanup, dir, [
      { path: 'var/lib/critical/.keep', content: '' },
      { path: 'var/log/.keep', content: '' },
    ])];
    const stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '64m' }));
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 64 * MIB });
    flash = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'));
    mkdirSync(mnt());
    // A flush interval far longer than the test: only an honored fsync can bring a flush.
    await StagedPersistd.start(cleanup, {
      lowers,
      upper: upper(),
      stage: stages.next(),
      mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '1h', '--fsync-honor', '/var/lib/critical'],
    });
  });
  after(() => cleanup.runAll());

  it('returns from fsync with the data only in RAM outside the honored prefix', () => {
    writeAndFsync(join(mnt(), 'var/log/app.log'), 'deferred\n');
    assert.equal(readFileSync(join(mnt(), 'var/log/app.log'), 'utf8'), 'deferred\n');
    assert.equal(existsSync(join(upper(), 'var/log/app.log')), false, 'a deferred fsync must not flush');
  });

  it('returns from fsync under the honored prefix only once the file is on the flash', () => {
    writeAndFsync(join(mnt(), 'var/lib/critical/key'), 'durable\n');
    assert.equal(readFileSync(join(upper(), 'var/lib/critical/key'), 'utf8'), 'durable\n');
  });
});
