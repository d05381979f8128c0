// fsync in staged mode: by default ("defer") it returns once the data is in RAM and the flash sees
// the file only at the next flush; under an --fsync-honor prefix it returns only when a flush
// holding the file has completed, so the upper has it the moment fsync returns.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { inMount, prepareStagedFlash, writeSourceFiles, type StagedFlash } from './flush-fixture.js';

const MIB = 1024 * 1024;

/** Writes `text` to `path` and fsyncs it in a child process; returns 'ok' or fsync's errno name. */
function tryWriteAndFsync(path: string, text: string): string {
  return run(process.execPath, ['-e', `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'w'); fs.writeSync(fd, ${JSON.stringify(text)}); try { fs.fsyncSync(fd); console.log('ok'); } catch (e) { console.log(e.code); }`]).trim();
}

/** Writes `text` to `path` and fsyncs it, in a child process (never the daemon's). */
function writeAndFsync(path: string, text: string): void {
  run(process.execPath, ['-e', `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'w'); fs.writeSync(fd, ${JSON.stringify(text)}); fs.fsyncSync(fd); fs.closeSync(fd);`]);
}

describe('fsync: defer by default, honor under --fsync-honor', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  const mnt = (): string => setup.mountpoint;
  const upper = (): string => setup.upper;

  before(async () => {
    setup = prepareStagedFlash(cleanup, [{ path: 'var/lib/critical/.keep', content: '' }, { path: 'var/log/.keep', content: '' }], { flashMiB: 64, stageMiB: 64 });
    // A flush interval far longer than the test: only an honored fsync can bring a flush.
    await startPersistd(cleanup, {
      lowers: setup.lowers,
      upper: upper(),
      stage: setup.stages.next(),
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

// An honoured fsync must not report success while its data is only in RAM. On a full flash the
// flush that would carry it fails (after an earlier failed flush, the fsync's snapshot is folded
// into the failed one), and fsync must say so: EIO.
describe('fsync under --fsync-honor on a full flash', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  let daemon: Persistd;
  const mnt = (): string => setup.mountpoint;
  const upper = (): string => setup.upper;

  before(async () => {
    setup = prepareStagedFlash(cleanup, [{ path: 'var/lib/critical/.keep', content: '' }, { path: 'big/.keep', content: '' }], { flashMiB: 16, stageMiB: 128 });
    writeSourceFiles(join(setup.dir, 'sources'), 24, MIB, 7);
    daemon = await startPersistd(cleanup, {
      lowers: setup.lowers, upper: upper(), stage: setup.stages.next(), mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '1h', '--max-dirty', '1GiB', '--fsync-honor', '/var/lib/critical'],
    });
  });
  after(() => cleanup.runAll());

  it('returns EIO from fsync when the flash cannot take the data, and keeps the data', async () => {
    inMount(mnt(), `cp '${join(setup.dir, 'sources')}'/f* big/`);
    const from = daemon.output().length;
    daemon.signal('SIGUSR1');
    await daemon.waitForOutput(/flush of batch \d+ failed/, from, 60_000, 'the first flush to fail');
    assert.equal(tryWriteAndFsync(join(mnt(), 'var/lib/critical/key'), 'durable\n'), 'EIO');
    assert.equal(existsSync(join(upper(), 'var/lib/critical/key')), false);
    assert.equal(readFileSync(join(mnt(), 'var/lib/critical/key'), 'utf8'), 'durable\n', 'the data stays in RAM');
  });

  it('succeeds once there is room again', () => {
    inMount(mnt(), 'rm big/f*');
    assert.equal(tryWriteAndFsync(join(mnt(), 'var/lib/critical/key'), 'durable again\n'), 'ok');
    assert.equal(readFileSync(join(upper(), 'var/lib/critical/key'), 'utf8'), 'durable again\n');
  });
});
