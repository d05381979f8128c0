// The attribute cache (native/attr_cache.c) answers repeated stats and lookups on the FUSE
// thread. Its differential cases against kernel overlayfs are in
// test/differential/divergence-cases.test.ts; these cover what that test does not compare:
// times (an atime moved by a read or a listing, a utimes) must show at once, compared with the
// real file on the layer, and the cache must actually answer (its counters, printed at stop).

import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';

/** Reads `path` through a descriptor that stays open, so no release (itself a change) follows. */
function readKeepingOpen(cleanup: Cleanup, path: string): void {
  const fd = openSync(path, 'r');
  cleanup.add(`close ${path}`, () => closeSync(fd));
  readSync(fd, Buffer.alloc(64), 0, 64, 0);
}

/** The times a stat shows, to the nanosecond. */
function times(path: string): { atimeNs: bigint; mtimeNs: bigint; ctimeNs: bigint; size: bigint } {
  const { atimeNs, mtimeNs, ctimeNs, size } = statSync(path, { bigint: true });
  return { atimeNs, mtimeNs, ctimeNs, size };
}

describe('attribute cache', () => {
  const cleanup = new Cleanup();
  let daemon: Persistd;
  let mnt: string;
  let lower: string;
  let upper: string;

  before(async () => {
    // Every layer on tmpfs (relatime): reads and listings move atimes on all of them.
    const tmp = mountTmpfs(cleanup, join(makeTempDir(cleanup, 'attr-cache'), 'tmpfs'), { size: '64m' });
    lower = join(tmp, 'lower');
    upper = join(tmp, 'upper');
    mnt = join(tmp, 'mnt');
    for (const dir of [lower, upper, mnt, join(lower, 'dir')]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(lower, 'dir', 'lower-file'), 'from the lower\n');
    daemon = await startPersistd(cleanup, { lowers: [lower], upper, mountpoint: mnt, socket: false, env: { PERSIST_ATTR_CACHE_STATS: '1' } });
  });
  after(() => cleanup.runAll());

  it('shows a read moving the atime of a lower file, and of an upper one', () => {
    const real = join(lower, 'dir', 'lower-file');
    utimesSync(real, 1000, 2000); // atime before mtime: relatime moves it on the next read
    const shown = join(mnt, 'dir', 'lower-file');
    assert.equal(times(shown).atimeNs, 1000_000_000_000n);
    times(shown); // cached now
    readKeepingOpen(cleanup, shown);
    assert.notEqual(times(real).atimeNs, 1000_000_000_000n, 'the read moved the real atime');
    assert.deepEqual(times(shown), times(real));

    writeFileSync(join(mnt, 'up'), 'upper file\n');
    utimesSync(join(mnt, 'up'), 1000, 2000);
    assert.deepEqual(times(join(mnt, 'up')), times(join(upper, 'up')));
    readKeepingOpen(cleanup, join(mnt, 'up'));
    assert.notEqual(times(join(upper, 'up')).atimeNs, 1000_000_000_000n);
    assert.deepEqual(times(join(mnt, 'up')), times(join(upper, 'up')));
  });

  it('shows a listing moving the atime of a directory', () => {
    mkdirSync(join(mnt, 'listed'));
    writeFileSync(join(mnt, 'listed', 'entry'), 'x');
    utimesSync(join(mnt, 'listed'), 1000, 2000);
    assert.equal(times(join(mnt, 'listed')).atimeNs, 1000_000_000_000n);
    readdirSync(join(mnt, 'listed'));
    assert.notEqual(times(join(upper, 'listed')).atimeNs, 1000_000_000_000n, 'the listing moved the real atime');
    assert.deepEqual(times(join(mnt, 'listed')), times(join(upper, 'listed')));
  });

  it('shows each write and truncate at once, size and times', () => {
    const shown = join(mnt, 'grows');
    writeFileSync(shown, 'a');
    for (let i = 0; i < 20; i++) {
      times(shown);
      writeFileSync(shown, 'b'.repeat(i * 100), { flag: 'a' });
      assert.deepEqual(times(shown), times(join(upper, 'grows')), `after append ${i}`);
    }
  });

  it('answers repeated stats without the daemon: its counters show hits', async () => {
    for (let i = 0; i < 50; i++) statSync(join(mnt, 'dir', 'lower-file'));
    const { output } = await daemon.stop();
    const line = /attribute cache (\{.*\})/.exec(output);
    assert.ok(line, `no counters in the output:\n${output.slice(-2000)}`);
    const counts = JSON.parse(line[1]!) as { statHits: number; statMisses: number };
    assert.ok(counts.statHits >= 50, `expected at least 50 hits, got ${line[1]}`);
  });
});
