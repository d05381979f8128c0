// The attribute cache (native/attr_cache.c) answers repeated stats and lookups on the FUSE
// thread; the kernel keeps the attributes of what only changes through us (native/
// kernel_cache.c). Their differential cases against kernel overlayfs are in
// test/differential/divergence-cases.test.ts; these cover what that test does not compare:
// times and blocks (an atime moved by a read or a listing, a copy-up, a flush) must show at once,
// compared with the real object on its layer, and the caches must actually answer (counters).

import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';

/** Reads `path` through a descriptor that stays open, so no release (itself a change) follows. */
function readKeepingOpen(cleanup: Cleanup, path: string): void {
  const fd = openSync(path, 'r');
  cleanup.add(`close ${path}`, () => closeSync(fd));
  readSync(fd, Buffer.alloc(64), 0, 64, 0);
}

/** The times a stat shows, to the nanosecond, and the size. */
function times(path: string): { atimeNs: bigint; mtimeNs: bigint; ctimeNs: bigint; size: bigint } {
  const { atimeNs, mtimeNs, ctimeNs, size } = statSync(path, { bigint: true });
  return { atimeNs, mtimeNs, ctimeNs, size };
}

/** What a stat shows of an object, but its inode number and device (the union's own). */
function shown(path: string): Record<string, bigint> {
  const { mode, nlink, uid, gid, size, blocks, atimeNs, mtimeNs, ctimeNs } = statSync(path, { bigint: true });
  return { mode, nlink, uid, gid, size, blocks, atimeNs, mtimeNs, ctimeNs };
}

interface Counters {
  statHits: number;
  statMisses: number;
  kernelNodes: number;
}

async function countersAtStop(daemon: Persistd): Promise<Counters> {
  const { output } = await daemon.stop();
  const line = /attribute cache (\{.*\})/.exec(output);
  assert.ok(line, `no counters in the output:\n${output.slice(-2000)}`);
  return JSON.parse(line[1]!) as Counters;
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

  it('answers repeated stats without JS: its counters show hits', async () => {
    // A lower on a read-write filesystem: its files' atimes move, so the kernel may not keep them.
    for (let i = 0; i < 50; i++) statSync(join(mnt, 'dir', 'lower-file'));
    const counts = await countersAtStop(daemon);
    assert.ok(counts.statHits >= 50, `expected at least 50 hits, got ${JSON.stringify(counts)}`);
  });
});

describe('kernel attribute cache', () => {
  const cleanup = new Cleanup();
  let root: string;
  let lower: string;

  before(() => {
    root = mountTmpfs(cleanup, join(makeTempDir(cleanup, 'kernel-cache'), 'tmpfs'), { size: '64m' });
    // A read-only lower, as a squashfs is: its attributes change only by a copy-up.
    lower = mountTmpfs(cleanup, join(root, 'lower'), { size: '16m' });
    mkdirSync(join(lower, 'a', 'b'), { recursive: true });
    writeFileSync(join(lower, 'a', 'file'), 'lower file\n');
    writeFileSync(join(lower, 'a', 'b', 'deep'), 'deep\n');
    run('mount', ['-o', 'remount,ro', lower]);
  });
  after(() => cleanup.runAll());

  async function start(name: string, staged: boolean): Promise<{ daemon: Persistd; mnt: string; upper: string }> {
    const dir = join(root, name);
    const upper = join(dir, 'upper');
    const mnt = join(dir, 'mnt');
    for (const d of [upper, mnt, join(dir, 'stage')]) mkdirSync(d, { recursive: true });
    const daemon = await startPersistd(cleanup, {
      lowers: [lower], upper, stage: staged ? join(dir, 'stage') : undefined, mountpoint: mnt, socket: false,
      extraArgs: staged ? ['--flush-interval', '1h', '--min-interval', '0'] : [], env: { PERSIST_ATTR_CACHE_STATS: '1' },
    });
    return { daemon, mnt, upper };
  }

  it('lets the kernel answer repeated stats of lower files and directories itself', async () => {
    const { daemon, mnt } = await start('repeat', false);
    for (const path of [join(mnt, 'a', 'file'), join(mnt, 'a'), mnt]) statSync(path);
    for (let i = 0; i < 50; i++) for (const path of [join(mnt, 'a', 'file'), join(mnt, 'a'), mnt]) statSync(path);
    const counts = await countersAtStop(daemon);
    assert.ok(counts.kernelNodes >= 3, `expected the kernel to keep 3 nodes, got ${JSON.stringify(counts)}`);
    assert.ok(counts.statHits + counts.statMisses < 20, `150 stats reached the daemon ${counts.statHits + counts.statMisses} times`);
  });

  it('shows a copy-up at once: of a file opened for writing, and of the directories above a create', async () => {
    const { mnt, upper } = await start('copy-up', false);
    const before = shown(join(mnt, 'a', 'file'));
    shown(join(mnt, 'a', 'b'));
    closeSync(openSync(join(mnt, 'a', 'file'), 'r+')); // copies it up; writes nothing
    assert.deepEqual(shown(join(mnt, 'a', 'file')), shown(join(upper, 'a', 'file')));
    assert.notDeepEqual(shown(join(mnt, 'a', 'file')), before, 'the copy-up changed what stat shows');
    writeFileSync(join(mnt, 'a', 'b', 'new'), 'x'); // copies a/b up
    for (const dir of ['a', 'a/b']) {
      const { nlink: _nlink, ...real } = shown(join(upper, dir)); // a merged directory shows 1 link
      const { nlink, ...union } = shown(join(mnt, dir));
      assert.equal(nlink, 1n, `${dir} is merged now`);
      assert.deepEqual(union, real, dir);
    }
  });

  it('shows a flush at once: directories then come from the flash', async () => {
    const { daemon, mnt, upper } = await start('flush', true);
    mkdirSync(join(mnt, 'made'));
    writeFileSync(join(mnt, 'made', 'f'), 'x');
    shown(join(mnt, 'made'));
    shown(join(mnt, 'made'));
    await daemon.flushNow();
    assert.deepEqual(shown(join(mnt, 'made')), shown(join(upper, 'made')));
  });
});
