// Guarantee 2 (atomic flush), by enumeration: for every durability step k of one flush, the daemon
// kills itself at step k (PERSIST_CRASH_AT=k), a fresh daemon recovers, and the upper, read by
// kernel overlayfs over the same lowers, must equal exactly the state before the batch or the state
// after it; from the commit step on it must be the state after it.
//
// Two kinds of crash per step:
// - process: the daemon dies, the flash stays mounted (the kernel keeps what was written);
// - power: the device is copied the moment the daemon died (what ext4 had not yet written to the
//   loop device is lost, as in a power cut) and recovery runs on that copy. This is what checks
//   the fsync discipline; a crash-safe design that forgets an fsync passes "process" only.
//
// Knobs: PERSIST_CRASH_KINDS=process,power (default both), PERSIST_CRASH_STEPS=3,7 (only these k),
// PERSIST_CRASH_SKIP_RECOVERY=1 (harness check: look at the upper right after the crash, with no
// recovering daemon; a journaled flush must then fail for steps inside its apply phase).
//
// Layout: squashfs lower; flash = ext4 image on a loop device (FLASH/upper, journal, ...); stage
// = a directory on a tmpfs, fresh for every daemon (a crash loses RAM).

import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { attachFlash, copyImage, createFlashImage, type FlashMount } from '../support/flash-image.js';
import { startPersistd, type FlushedBatch, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { snapshotTree, type TreeEntry } from '../support/tree-snapshot.js';
import { auditFlashUpper, buildLower, classify, inMount, kernelView, sameTree, StageDirs, type LowerEntry, type Verdict } from './flush-fixture.js';

const FLASH_BYTES = 64 * 1024 * 1024;
/** Only explicit flushes (SIGUSR1) and shutdown flush in this test. */
const POLICY = ['--flush-interval', '1h', '--max-dirty', '1GiB', '--min-interval', '0s'];
const APP_XATTRS = ['user.anchor', 'user.origin', 'user.pre', 'user.color', 'user.dir', 'user.gone'];

const LOWER: LowerEntry[] = [
  { path: 'etc/config', content: 'config v1\n', xattrs: { 'user.origin': 'squashfs' } },
  { path: 'etc/obsolete', content: 'old\n' },
  { path: 'etc/moveme', content: 'move me\n' },
  { path: 'etc/secret', content: 'secret\n', mode: 0o644 },
  { path: 'etc/linkme', content: 'link me\n' },
  { path: 'etc/tagged', content: 'tagged\n', xattrs: { 'user.gone': 'soon' } },
  { path: 'olddir/a', content: 'a\n' },
  { path: 'olddir/sub/b', content: 'b\n' },
  { path: 'data/old1', content: 'old1\n' },
  { path: 'data/old2', content: 'old2\n' },
  { path: 'bin/tool', content: '#!/bin/sh\necho tool\n', mode: 0o755 },
  { path: 'share/doc/readme', content: 'readme '.repeat(30_000) },
  { path: 'share/link', symlink: 'doc/readme' },
];

/** The first flush: the state P every crash iteration starts from. */
const PRE_CHANGES = `
mkdir p p/emptydir
printf 'pre keep\\n' > p/keep
printf 'pre gone\\n' > p/gone
printf 'pre tomove\\n' > p/tomove
printf 'pre rewrite\\n' > etc/config
setfattr -n user.pre -v one p/keep
rm bin/tool
`;

/**
 * Batch B: every kind of change a flush must carry. Comments name what the upper must hold.
 */
const BATCH_CHANGES = `
mkdir -p new/deep/er                                   # new directories
printf 'alpha\\n' > new/a.txt                            # new file
yes 'persist crash-point test 0123456789' | head -c 300000 > new/big.bin   # a multi-block new file
printf '#!/bin/sh\\n' > new/tool && chmod 4755 new/tool  # setuid new file
mkfifo new/fifo                                        # special file
printf 'config v2\\n' > etc/config                       # rewrite of a file already in the upper
printf 'appended\\n' >> share/doc/readme                 # rewrite of a lower file (copy-up)
printf 'pre keep, changed\\n' > p/keep                   # rewrite of an upper-only file
rm etc/obsolete                                        # whiteout
rm -rf olddir                                          # whiteout of a lower directory
rm -rf data && mkdir data && printf 'fresh\\n' > data/only   # opaque directory
mv etc/moveme etc/moved                                # rename of a lower file
mv p/tomove p/moved                                    # rename of an upper-only file
ln new/a.txt new/a-hardlink                            # hard link of a new file
ln etc/linkme etc/linkme2                              # hard link of a lower file
ln -s ../etc/config new/cfg-link                       # symlink
setfattr -n user.color -v blue new/a.txt               # xattr on a new file
setfattr -n user.dir -v yes new/deep                   # xattr on a new directory
setfattr -n user.pre -v two p/keep                     # changed xattr
setfattr -x user.origin etc/config                     # removed xattr (file in the upper)
setfattr -x user.gone etc/tagged                       # removed xattr (lower file: copy-up)
chmod 600 etc/secret                                   # chmod of a lower file
chmod 700 p/emptydir                                   # chmod of an upper directory
rm p/gone                                              # delete of an upper-only file (no whiteout)
`;

/** Paths whose state must differ between pre and post: proves the batch reaches every kind. */
const CHANGED_PATHS = [
  'new/a.txt', 'new/big.bin', 'new/tool', 'new/fifo', 'etc/config', 'share/doc/readme', 'p/keep', 'etc/obsolete',
  'olddir', 'data/old1', 'data/only', 'etc/moveme', 'etc/moved', 'p/tomove', 'p/moved', 'new/a-hardlink', 'etc/linkme',
  'etc/linkme2', 'new/cfg-link', 'new/deep', 'etc/tagged', 'etc/secret', 'p/emptydir', 'p/gone',
];

type CrashKind = 'process' | 'power';

function selectedKinds(): CrashKind[] {
  const raw = process.env.PERSIST_CRASH_KINDS ?? 'process,power';
  const kinds = raw.split(',').map((kind) => kind.trim()).filter(Boolean);
  for (const kind of kinds) if (kind !== 'process' && kind !== 'power') throw new Error(`PERSIST_CRASH_KINDS: unknown kind ${kind}`);
  return kinds as CrashKind[];
}

function selectedSteps(total: number): number[] {
  const raw = process.env.PERSIST_CRASH_STEPS;
  const all = Array.from({ length: total }, (_, index) => index + 1);
  if (!raw) return all;
  return raw.split(',').map(Number).filter((k) => Number.isInteger(k) && k >= 1);
}

describe('flush crash points: the upper is the pre- or the post-batch state after a crash at any step', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lowers: string[];
  let stages: StageDirs;
  let flash: FlashMount | undefined;
  let pre: TreeEntry[];
  let post: TreeEntry[];
  let batch: FlushedBatch;
  let imageCount = 0;
  const images = { pre: '', empty: '' };

  const flashRoot = (): string => join(dir, 'flash');
  const mnt = (): string => join(dir, 'mnt');

  /** Detaches the current flash and attaches a fresh copy of `image` at dir/flash. */
  const attachCopyOf = (image: string): FlashMount => {
    if (flash) {
      flash.detach();
      rmSync(flash.image, { force: true }); // every attached image is a working copy
    }
    const working = join(dir, `flash-${++imageCount}.img`);
    copyImage(image, working);
    flash = attachFlash(cleanup, working, flashRoot());
    return flash;
  };

  const startDaemon = (env: Record<string, string> = {}): Promise<Persistd> =>
    startPersistd(cleanup, {
      lowers,
      upper: join(flashRoot(), 'upper'),
      stage: stages.next(),
      mountpoint: mnt(),
      extraArgs: POLICY,
      env,
    });

  const stopCleanly = async (daemon: Persistd, what: string): Promise<void> => {
    const exit = await daemon.stop();
    assert.equal(exit.code, 0, `${what}: persistd should exit 0 on SIGTERM, got ${JSON.stringify({ code: exit.code, signal: exit.signal, forced: exit.forced })}; output:\n${exit.output.slice(-4000)}`);
    assert.equal(exit.forced, false, `${what}: persistd needed SIGKILL or left its mount behind`);
  };

  const oracle = (): Promise<TreeEntry[]> => kernelView(flashRoot(), lowers, join(dir, 'kernel-view'));

  before(async () => {
    dir = makeTempDir(cleanup);
    lowers = [buildLower(cleanup, dir, LOWER)];
    stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '256m' }));
    mkdirSync(mnt());
    images.empty = join(dir, 'empty.img');
    createFlashImage(images.empty, { sizeBytes: FLASH_BYTES });
  });
  after(() => cleanup.runAll());

  it('persists the pre-state P with a clean run (flush on SIGTERM)', async () => {
    attachCopyOf(images.empty);
    const daemon = await startDaemon();
    inMount(mnt(), PRE_CHANGES);
    pre = snapshotTree(mnt());
    await stopCleanly(daemon, 'pre-state run');
    sameTree(pre, await oracle(), 'kernel overlayfs over the upper after the clean pre-state run differs from what the mount showed');
    assert.deepEqual(auditFlashUpper(flashRoot(), APP_XATTRS), []);
    flash!.detach();
    images.pre = join(dir, 'pre.img');
    copyImage(flash!.image, images.pre);
  });

  it('flushes batch B with a clean run, and learns how many steps that flush takes', async () => {
    assert.ok(images.pre, 'needs the pre-state image');
    attachCopyOf(images.pre);
    const daemon = await startDaemon();
    sameTree(pre, snapshotTree(mnt()), 'a restarted daemon does not show the pre-state');
    inMount(mnt(), BATCH_CHANGES);
    post = snapshotTree(mnt());
    batch = await daemon.flushNow();
    process.stderr.write(`# batch B: ${JSON.stringify(batch)}\n`);
    assert.ok(batch.objects >= 1, `the batch wrote no objects: ${JSON.stringify(batch)}`);
    assert.ok(batch.steps >= batch.objects + 3, `a flush has at least objects + manifest + commit + cleanup steps: ${JSON.stringify(batch)}`);
    await stopCleanly(daemon, 'batch run');
    sameTree(post, await oracle(), 'kernel overlayfs over the upper after the clean batch flush differs from what the mount showed');
    assert.deepEqual(auditFlashUpper(flashRoot(), APP_XATTRS), []);
  });

  it('harness self-check: pre and post differ in every change, and a torn upper is neither', async () => {
    assert.ok(pre && post, 'needs both expected states');
    const byPath = (tree: TreeEntry[]): Map<string, string> => new Map(tree.map((entry) => [entry.path, JSON.stringify(entry)]));
    const [preMap, postMap] = [byPath(pre), byPath(post)];
    const unchanged = CHANGED_PATHS.filter((path) => preMap.get(path) === postMap.get(path));
    assert.deepEqual(unchanged, [], 'batch B should change each of these paths');
    assert.equal(classify(pre, pre, post).verdict, 'pre');
    assert.equal(classify(post, pre, post).verdict, 'post');
    // A real upper damaged the way a non-atomic flush would leave it: part of B applied.
    attachCopyOf(images.pre);
    inMount(join(flashRoot(), 'upper'), `printf 'alpha\\n' > a-torn-file\nprintf 'config v' > etc/config`);
    const torn = classify(await oracle(), pre, post);
    assert.equal(torn.verdict, 'neither');
    assert.match(torn.detail, /etc\/config/);
    assert.match(torn.detail, /a-torn-file/);
  });

  for (const kind of selectedKinds()) {
    it(`crash of kind "${kind}" at every step k of the flush of B`, async (t) => {
      assert.ok(batch, 'needs the step count from the clean batch run');
      const commitStep = batch.objects + 2; // objects..., manifest fsync, commit rename
      const outcomes: string[] = [];
      const failures: string[] = [];
      for (const k of selectedSteps(batch.steps)) {
        const label = `${kind} crash at step ${k}/${batch.steps} (commit is step ${commitStep})`;
        const reproducer = `PERSIST_CRASH_KINDS=${kind} PERSIST_CRASH_STEPS=${k} PERSIST_TEST_ONLY=dist/test/flush/crash-points.test.js sh scripts/test.sh`;
        try {
          const verdict = await crashAndRecover(kind, k);
          outcomes.push(`${k}:${verdict}`);
          if (verdict === 'pre' && k >= commitStep) {
            failures.push(`${label}: the upper is the pre-batch state, but the batch was committed\n  reproduce: ${reproducer}`);
          }
        } catch (error) {
          outcomes.push(`${k}:FAIL`);
          failures.push(`${label}: ${error instanceof Error ? error.message : String(error)}\n  reproduce: ${reproducer}`);
          if (failures.length >= 5) {
            failures.push('(stopped after 5 failing steps)');
            break;
          }
        }
      }
      t.diagnostic(`outcomes (step:state): ${outcomes.join(' ')}`);
      assert.deepEqual(failures, [], failures.join('\n\n'));
    });
  }

  /** One iteration: P on the flash, B in the stage, flush, crash at step k, recover, compare. */
  async function crashAndRecover(kind: CrashKind, k: number): Promise<Verdict> {
    attachCopyOf(images.pre);
    const doomed = await startDaemon({ PERSIST_CRASH_AT: String(k) });
    inMount(mnt(), BATCH_CHANGES);
    const offset = doomed.output().length;
    doomed.signal('SIGUSR1');
    // Dies at step k, or (a daemon ignoring PERSIST_CRASH_AT) completes the flush: fail fast then.
    const completed = doomed.waitForNextFlush(offset, 120_000).then(() => 'completed' as const, () => 'no flush' as const);
    const outcome = await Promise.race([doomed.exited, completed]);
    const death = outcome === 'completed' || outcome === 'no flush' ? await doomed.waitForExit(1_000) : outcome;
    if (!death) throw new Error(`persistd with PERSIST_CRASH_AT=${k} did not die after SIGUSR1 (${outcome}); output:\n${doomed.tail(3000)}`);
    if (death.signal !== 'SIGKILL') {
      throw new Error(`persistd with PERSIST_CRASH_AT=${k} should die of SIGKILL, got ${JSON.stringify(death)}; output:\n${doomed.tail(3000)}`);
    }
    if (kind === 'power') {
      // What the device holds right now; the running ext4's unwritten pages are lost.
      const cut = join(dir, `power-cut-${k}.img`);
      copyImage(flash!.image, cut);
      await doomed.stop(); // removes the dead daemon's mount
      attachCopyOf(cut);
      rmSync(cut, { force: true });
    } else {
      await doomed.stop();
    }
    if (process.env.PERSIST_CRASH_SKIP_RECOVERY === '1') {
      const raw = classify(await oracle(), pre, post);
      if (raw.verdict === 'neither') throw new Error(`(no recovery) kernel overlayfs over the crashed upper is neither state.\n${raw.detail}`);
      return raw.verdict;
    }
    const recovering = await startDaemon();
    const throughDaemon = classify(snapshotTree(mnt()), pre, post);
    await stopCleanly(recovering, 'recovery run');
    const throughKernel = classify(await oracle(), pre, post);
    const recoveryLines = recovering.output().split('\n').filter((line) => line.includes('recovery')).join('\n');
    if (throughKernel.verdict === 'neither') {
      throw new Error(`kernel overlayfs over the recovered upper is neither state.\n${throughKernel.detail}\nrecovery output:\n${recoveryLines}`);
    }
    if (throughDaemon.verdict !== throughKernel.verdict) {
      throw new Error(`after recovery the mount showed ${throughDaemon.verdict} but the upper is ${throughKernel.verdict}\n${throughDaemon.detail}`);
    }
    const problems = auditFlashUpper(flashRoot(), APP_XATTRS);
    if (problems.length > 0) throw new Error(`the recovered upper is not clean kernel overlayfs format:\n${problems.join('\n')}`);
    return throughKernel.verdict;
  }
});
