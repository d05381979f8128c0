// The boot's flash handling (src/boot/flash.ts) on real loop devices: a blank disk is formatted
// only when the profile says first-boot, and never twice; a missing device, a full flash and a
// flash that mounts only read-only each give the outcome the boot falls back on (volatile, or a
// read-only upper), with the reason it prints.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareFlash, type DeviceUpper } from '../../src/boot/flash.js';
import { Cleanup } from '../support/cleanup.js';
import { makeTempDir } from '../support/tempdir.js';

const sh = (command: string, args: string[]) => execFileSync(command, args, { encoding: 'utf8' }).trim();
/** blkid's TYPE, '' for none (blkid exits 2 then). */
const fsType = (disk: string) => spawnSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', disk], { encoding: 'utf8' }).stdout.trim();

describe('the boot prepares the flash', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let n = 0;

  /** A disk of `mib` MiB on a loop device (blank, or ext4), detached (and unmounted) by cleanup. */
  function blankDisk(mib = 32, options: { ext4?: boolean; readOnly?: boolean } = {}): string {
    const image = join(dir, `disk-${++n}.img`);
    sh('truncate', ['-s', `${mib}M`, image]);
    if (options.ext4) sh('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    const loop = sh('losetup', ['--find', '--show', ...(options.readOnly ? ['--read-only'] : []), image]);
    cleanup.add(`detach ${loop}`, () => {
      execFileSync('sh', ['-c', `grep -q '^${loop} ' /proc/mounts && umount -l ${loop}; losetup -d ${loop}`], { stdio: 'ignore' });
    });
    return loop;
  }

  const upper = (device: string, format: 'never' | 'first-boot'): DeviceUpper => ({ kind: 'device', device, fstype: 'ext4', directory: 'upper', format });
  const dirs = () => ({ mountDir: join(dir, `flash-${n}`), imageDir: join(dir, `image-${n}`), waitMs: 1000 });
  const umount = (path: string) => sh('umount', [path]);

  before(() => {
    dir = makeTempDir(cleanup, 'persist-boot-flash-');
  });
  after(() => cleanup.runAll());

  it('a blank disk without format: first-boot is not usable, and nothing is written to it', async () => {
    const disk = blankDisk();
    const outcome = await prepareFlash(upper(disk, 'never'), dirs());
    assert.equal(outcome.kind, 'failed');
    assert.match(outcome.kind === 'failed' ? outcome.reason : '', /holds no filesystem \(set layers\.upper\.format: first-boot/);
    assert.equal(fsType(disk), '', 'the disk got a filesystem anyway');
  });

  it('first-boot formats a blank disk once; the next boot mounts what is there', async () => {
    const disk = blankDisk();
    const first = await prepareFlash(upper(disk, 'first-boot'), dirs());
    assert.equal(first.kind, 'mounted', JSON.stringify(first));
    assert.equal(fsType(disk), 'ext4');
    assert.deepEqual(first.notes, [`created ext4 on ${disk} (first boot)`]);
    const flashDir = first.kind === 'mounted' ? first.flashDir : '';
    writeFileSync(join(flashDir, 'kept'), 'from the first boot');
    umount(flashDir);
    const second = await prepareFlash(upper(disk, 'first-boot'), { ...dirs(), mountDir: flashDir });
    assert.equal(second.kind, 'mounted', JSON.stringify(second));
    assert.deepEqual(second.notes, [], 'formatted again');
    assert.equal(readFileSync(join(flashDir, 'kept'), 'utf8'), 'from the first boot');
    umount(flashDir);
  });

  it('a device that never appears: not usable, after the wait', async () => {
    const started = Date.now();
    const outcome = await prepareFlash(upper('/dev/persist-test-no-such-disk', 'never'), dirs());
    assert.equal(outcome.kind, 'failed');
    assert.match(outcome.kind === 'failed' ? outcome.reason : '', /no device \/dev\/persist-test-no-such-disk after 1 s/);
    assert.ok(Date.now() - started >= 900, 'it did not wait for the device');
  });

  it('a full flash is mounted but used read-only: its changes shown, new ones in RAM', async () => {
    const disk = blankDisk(16, { ext4: true });
    const fill = join(dir, 'fill');
    execFileSync('sh', ['-c', `mkdir -p ${fill} && mount ${disk} ${fill} && (dd if=/dev/zero of=${fill}/big bs=1M 2>/dev/null || true) && umount ${fill}`]);
    const outcome = await prepareFlash(upper(disk, 'never'), dirs());
    assert.equal(outcome.kind, 'read-only', JSON.stringify(outcome));
    assert.match(outcome.kind === 'read-only' ? outcome.reason : '', /the flash is full \(\d+ bytes free\)/);
    umount(outcome.kind === 'read-only' ? outcome.flashDir : '');
  });

  it('a flash that mounts only read-only is used read-only, with the reason', async () => {
    const disk = blankDisk(32, { ext4: true, readOnly: true });
    const outcome = await prepareFlash(upper(disk, 'never'), dirs());
    assert.equal(outcome.kind, 'read-only', JSON.stringify(outcome));
    assert.match(outcome.kind === 'read-only' ? outcome.reason : '', /e2fsck could not check \/dev\/loop\d+ \(exit 8: .*while trying to open/);
    const flashDir = outcome.kind === 'read-only' ? outcome.flashDir : '';
    assert.ok(existsSync(join(flashDir, 'lost+found')));
    umount(flashDir);
  });
});
