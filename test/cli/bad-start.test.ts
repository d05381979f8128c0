// A bad start is one clear line on stderr and exit status 2, and leaves nothing mounted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { findMount } from '../support/mountinfo.js';
import { startPersistd } from '../support/persistd.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { unmountForcefully } from '../support/unmount.js';

const persistd = join(findRepoRoot(), 'bin', 'persistd.js');

interface Outcome {
  status: number | null;
  stderr: string;
}

function persistdMount(args: string[], prefix: string[] = []): Outcome {
  const [command, ...rest] = prefix.length ? prefix : [process.execPath];
  const argv = prefix.length ? [...rest, process.execPath, persistd, 'mount', ...args] : [persistd, 'mount', ...args];
  const result = spawnSync(command!, argv, { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr };
}

/** Exit 2 with exactly one line that matches `pattern`. */
function assertBadStart(outcome: Outcome, pattern: RegExp): void {
  assert.equal(outcome.status, 2, `exit status; stderr: ${outcome.stderr}`);
  const lines = outcome.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${outcome.stderr}`);
  assert.match(lines[0]!, /^persistd: /);
  assert.match(lines[0]!, pattern);
}

describe('persistd mount: bad starts', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lower: string;
  let mnt: string;
  let rw: string;

  before(() => {
    dir = makeTempDir(cleanup);
    lower = join(dir, 'lower');
    mnt = join(dir, 'mnt');
    mkdirSync(lower);
    mkdirSync(mnt);
    rw = mountTmpfs(cleanup, join(dir, 'rw'), { size: '16m' });
  });
  after(() => cleanup.runAll());

  const layers = (upper = join(rw, 'upper')) => ['--lower', lower, '--upper', upper, '--work', join(rw, 'work')];

  it('names a missing lower', () => {
    assertBadStart(persistdMount(['--lower', join(dir, 'nope'), '--upper', join(rw, 'u'), mnt]), /lower layer .*nope does not exist/);
  });

  it('rejects unknown options and a missing mountpoint argument', () => {
    assertBadStart(persistdMount(['--bogus', ...layers(), mnt]), /--bogus.*persistd --help/);
    assertBadStart(persistdMount(layers()), /exactly one MOUNTPOINT/);
  });

  it('names a mountpoint that does not exist', () => {
    assertBadStart(persistdMount([...layers(), join(dir, 'missing')]), /mountpoint .*missing does not exist; create it/);
  });

  it('refuses a mountpoint that is already a mount', () => {
    const busy = mountTmpfs(cleanup, join(dir, 'busy'), { size: '1m' });
    assertBadStart(persistdMount([...layers(), busy]), /already a mount point/);
  });

  it('refuses an upper that is not writable', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    run('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    cleanup.add(`unmount ${ro}`, () => unmountForcefully(ro));
    const outcome = persistdMount(['--lower', lower, '--upper', join(ro, 'upper'), '--work', join(ro, 'work'), mnt]);
    assertBadStart(outcome, /cannot create the upper directory .*EROFS/);
    assertBadStart(persistdMount(['--lower', lower, '--upper', ro, '--work', join(ro, 'work'), mnt]), /(not writable|cannot create the work).*EROFS/);
  });

  it('refuses an upper whose filesystem has no trusted.* xattrs (ramfs)', () => {
    const ramfs = join(dir, 'ramfs');
    mkdirSync(ramfs);
    run('mount', ['-t', 'ramfs', 'ramfs', ramfs]);
    cleanup.add(`unmount ${ramfs}`, () => unmountForcefully(ramfs));
    const outcome = persistdMount(['--lower', lower, '--upper', join(ramfs, 'upper'), '--work', join(ramfs, 'work'), mnt]);
    assertBadStart(outcome, /cannot hold the overlay format.*EOPNOTSUPP/);
  });

  it('refuses work and upper on different filesystems', () => {
    const outcome = persistdMount(['--lower', lower, '--upper', join(rw, 'upper'), '--work', join(dir, 'work'), mnt]);
    assertBadStart(outcome, /not on the upper's filesystem/);
  });

  it('says so when there is no /dev/fuse', () => {
    // A private mount namespace with an empty /dev: the machine's /dev is untouched.
    const outcome = persistdMount([...layers(), mnt], ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /dev && exec "$@"', 'sh']);
    assertBadStart(outcome, /cannot use \/dev\/fuse.*modprobe fuse/);
  });

  it('names a stale FUSE mount left by a killed daemon', async () => {
    const stale = join(dir, 'stale');
    mkdirSync(stale);
    const daemon = await startPersistd(cleanup, { lowers: [lower], upper: join(rw, 'u2'), work: join(rw, 'w2'), mountpoint: stale });
    process.kill(daemon.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(findMount(stale), 'the killed daemon leaves its mount behind');
    assertBadStart(persistdMount([...layers(), stale]), /stale FUSE mount.*fusermount -uz/);
    assert.equal(findMount(mnt), undefined, 'nothing mounted by failed starts');
  });
});
