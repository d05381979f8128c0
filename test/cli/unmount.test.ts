// An unmount from outside (umount, fusermount -u, umount -l) ends persistd like every libfuse
// daemon: it says so in one line, flushes what is pending in RAM (staged mode) and exits 0.
// A lazy unmount while a file on the mount is still open leaves the kernel's connection alive
// until that file is closed: persistd keeps serving it until then, and exits after.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { haveCommand, run } from '../support/command.js';
import { isMounted } from '../support/unmount.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';

const UNMOUNTS: [string, string[]][] = [
  ['umount', ['umount']],
  ['fusermount -u', ['fusermount', '-u']],
  ['umount -l', ['umount', '-l']],
];
const UNMOUNTED_LINE = /persistd: \S+ was unmounted: flushing and exiting/;
const EXIT_WITHIN_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** True once `pid` has exited (gone, or a zombie waiting for its parent). */
function isGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

async function waitUntilGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (isGone(pid)) return true;
    await sleep(50);
  }
  return isGone(pid);
}

describe('persistd exits 0 when its mount is unmounted from outside', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lower: string;
  let runs = 0;

  before(() => {
    assert.ok(haveCommand('fusermount'), 'fusermount is missing: apt-get install fuse (scripts/system-packages.txt)');
    dir = makeTempDir(cleanup);
    lower = join(dir, 'lower');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc/hostname'), 'device\n');
  });
  after(() => cleanup.runAll());

  /** A fresh staged daemon that flushes only when told to (or at its end). */
  async function stagedDaemon(): Promise<{ daemon: Persistd; mnt: string; upper: string }> {
    const n = ++runs;
    const flash = mountTmpfs(cleanup, join(dir, `flash-${n}`), { size: '64m' });
    const stage = join(mountTmpfs(cleanup, join(dir, `stage-${n}`), { size: '64m' }), 'stage');
    const mnt = join(dir, `mnt-${n}`);
    mkdirSync(mnt);
    const upper = join(flash, 'upper');
    const daemon = await startPersistd(cleanup, {
      lowers: [lower], upper, stage, mountpoint: mnt,
      extraArgs: ['--flush-interval', '1h', '--min-interval', '1h'],
    });
    return { daemon, mnt, upper };
  }

  for (const [name, command] of UNMOUNTS) {
    it(`staged: ${name} flushes the stage, logs it and exits 0`, async () => {
      const { daemon, mnt, upper } = await stagedDaemon();
      writeFileSync(join(mnt, 'etc/written'), 'pending in RAM\n');
      assert.equal(readFileSync(join(mnt, 'etc/written'), 'utf8'), 'pending in RAM\n');
      run(command[0]!, [...command.slice(1), mnt]);

      const exit = await daemon.waitForExit(EXIT_WITHIN_MS);
      assert.deepEqual(exit, { code: 0, signal: null }, `persistd should exit 0 within ${EXIT_WITHIN_MS} ms; output:\n${daemon.tail(3000)}`);
      const lines = daemon.output().split('\n').filter((line) => UNMOUNTED_LINE.test(line));
      assert.equal(lines.length, 1, `one "was unmounted" line expected; output:\n${daemon.tail(3000)}`);
      assert.doesNotMatch(daemon.output(), /persistd: bug|LOST:/);
      assert.equal(readFileSync(join(upper, 'etc/written'), 'utf8'), 'pending in RAM\n', 'the stage was flushed to the upper');
      assert.equal(isMounted(mnt), false);
    });
  }

  for (const [name, command] of UNMOUNTS) {
    it(`direct: ${name} makes persistd exit 0`, async () => {
      const n = ++runs;
      const flash = mountTmpfs(cleanup, join(dir, `flash-${n}`), { size: '64m' });
      const mnt = join(dir, `mnt-${n}`);
      mkdirSync(mnt);
      const daemon = await startPersistd(cleanup, { lowers: [lower], upper: join(flash, 'upper'), work: join(flash, 'work'), mountpoint: mnt });
      writeFileSync(join(mnt, 'etc/written'), 'direct\n');
      run(command[0]!, [...command.slice(1), mnt]);

      assert.ok(await waitUntilGone(daemon.pid, EXIT_WITHIN_MS), `persistd should exit within ${EXIT_WITHIN_MS} ms; output:\n${daemon.output()}`);
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, `exit status; output:\n${exit.output}`);
      assert.equal(exit.forced, false);
      assert.match(exit.output, UNMOUNTED_LINE);
      assert.equal(readFileSync(join(flash, 'upper/etc/written'), 'utf8'), 'direct\n');
    });
  }

  it('staged: umount -l with a file still open keeps serving that file until it is closed, then flushes and exits 0', async () => {
    const { daemon, mnt, upper } = await stagedDaemon();
    const file = join(mnt, 'etc/held');
    // A shell holding the file open on fd 3 (its cwd outside the mount); it writes a second line
    // through that fd once told to on stdin, then exits, which closes the last reference.
    const holder = spawn('sh', ['-c', `exec 3>>'${file}'; echo one >&3; echo ready; read go; echo two >&3 && echo done`], {
      cwd: dir, stdio: ['pipe', 'pipe', 'inherit'],
    });
    cleanup.add('kill holder', () => void holder.kill('SIGKILL'));
    let said = '';
    holder.stdout.on('data', (chunk: Buffer) => (said += chunk.toString('utf8')));
    while (!said.includes('ready')) await sleep(20);

    run('umount', ['-l', mnt]);
    assert.equal(isMounted(mnt), false, 'detached at once');
    assert.equal(await daemon.waitForExit(1500), undefined, 'persistd keeps serving while the file is open');

    holder.stdin.write('go\n');
    const exit = await daemon.waitForExit(EXIT_WITHIN_MS);
    assert.ok(said.includes('done'), `the write through the open fd after the lazy unmount failed: ${said}`);
    assert.deepEqual(exit, { code: 0, signal: null }, `persistd should exit 0 once the file is closed; output:\n${daemon.tail(3000)}`);
    assert.match(daemon.output(), UNMOUNTED_LINE);
    assert.equal(readFileSync(join(upper, 'etc/held'), 'utf8'), 'one\ntwo\n', 'both lines were flushed to the upper');
  });

  it('SIGTERM still flushes, unmounts and exits 0 (no "was unmounted" line)', async () => {
    const { daemon, mnt, upper } = await stagedDaemon();
    writeFileSync(join(mnt, 'etc/written'), 'sigterm\n');
    const exit = await daemon.stop();
    assert.equal(exit.code, 0);
    assert.equal(exit.forced, false);
    assert.doesNotMatch(exit.output, UNMOUNTED_LINE);
    assert.match(exit.output, /SIGTERM: flushing and unmounting/);
    assert.equal(readFileSync(join(upper, 'etc/written'), 'utf8'), 'sigterm\n');
  });
});
