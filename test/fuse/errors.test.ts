// The daemon serving / must not die from a recoverable error: a failing statfs is answered with
// its errno, and an error that escapes every handler (a timer, a promise nobody awaits) is
// logged as "persistd: bug: ..." with its stack while the mount keeps serving.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run, tryRun } from '../support/command.js';
import { startPersistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';

describe('errors do not kill the daemon', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lower: string;
  let runs = 0;

  before(() => {
    dir = makeTempDir(cleanup);
    lower = join(dir, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc/hostname'), 'device\n');
  });
  after(() => cleanup.runAll());

  it('answers a failing statfs with its errno and keeps serving', async () => {
    const flash = mountTmpfs(cleanup, join(dir, 'flash'), { size: '64m' });
    const mnt = join(dir, 'mnt-statfs');
    mkdirSync(mnt);
    const daemon = await startPersistd(cleanup, { lowers: [lower], upper: join(flash, 'upper'), work: join(flash, 'work'), mountpoint: mnt });
    assert.match(run('stat', ['-f', '-c', '%l', mnt]), /^\d+\n$/);

    renameSync(join(flash, 'upper'), join(flash, 'upper-away')); // statvfs of the upper now fails
    const failed = tryRun('stat', ['-f', mnt], { timeoutMs: 10_000 });
    renameSync(join(flash, 'upper-away'), join(flash, 'upper'));
    assert.notEqual(failed.status, 0, 'statfs should fail while the upper is away');
    assert.match(failed.stderr, /No such file or directory/);

    assert.match(run('stat', ['-f', '-c', '%l', mnt]), /^\d+\n$/);
    assert.equal(readFileSync(join(mnt, 'etc/hostname'), 'utf8'), 'device\n');
    const exit = await daemon.stop();
    assert.equal(exit.code, 0, exit.output);
    assert.equal(exit.forced, false);
  });

  for (const kind of ['throw', 'reject']) {
    it(`logs an escaped error (${kind}) with its stack and keeps serving`, async () => {
      const n = ++runs;
      const flash = mountTmpfs(cleanup, join(dir, `flash-${kind}`), { size: '64m' });
      const stage = join(mountTmpfs(cleanup, join(dir, `stage-${n}`), { size: '64m' }), 'stage');
      const mnt = join(dir, `mnt-${kind}`);
      mkdirSync(mnt);
      const daemon = await startPersistd(cleanup, {
        lowers: [lower], upper: join(flash, 'upper'), stage, mountpoint: mnt, env: { PERSIST_INJECT_BUG: kind },
      });
      const what = kind === 'throw' ? 'uncaught exception' : 'unhandled rejection';
      await daemon.waitForOutput(new RegExp(`persistd: bug: ${what}: Error: injected bug .*\\n\\s+at `), 0, 10_000, 'the bug report');

      writeFileSync(join(mnt, 'etc/after'), 'still serving\n');
      assert.equal(readFileSync(join(mnt, 'etc/after'), 'utf8'), 'still serving\n');
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, exit.output);
      assert.equal(exit.forced, false);
      assert.equal(readFileSync(join(flash, 'upper/etc/after'), 'utf8'), 'still serving\n');
    });
  }
});
