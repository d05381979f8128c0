// The appliance boots for real: Debian's kernel and an initramfs-tools image with persist's hook,
// in QEMU (TCG), from a squashfs root and a blank flash disk (scripts/appliance/build.sh). Each
// boot runs one scenario (test/boot/scenarios, appliance.run=NAME) and prints what it sees:
//   1. the first boot formats the flash; / is persistd's; commit; write one more; reboot (flushes)
//   2. boot 1's files are back, the last one too; write more; a power cut before the flush interval
//   3. the committed files are intact, the pending ones did not reach the flash; the reset key
//      is held through QEMU (QMP input-send-event) and persist-button resets and reboots
//   4. the factory state: the initramfs wiped the flash
//   5. a malformed profile: a volatile boot, and persistctl status says why
//   6. persist=off: the plain read-only squashfs
//   7. no flash disk at all: a volatile boot that says why
//   8. root= names a boot medium (ext4) holding the squashfs as a file: served from there
// Run with `npm run test:boot` (root; .ci/run installs scripts/boot-packages.txt).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { Vm } from '../support/qemu.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';

const repo = findRepoRoot();

describe('the appliance boots in QEMU', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let appliance: string;
  let boots = 0;
  let current: Vm | null = null;
  const uptimes: Record<string, number> = {};

  /** Boots once with `args` (after a power cut of the previous VM, should a failed test have left it running). */
  async function boot(scenario: string, args = '', options: { flash?: boolean; root?: string; rootArgs?: string } = {}): Promise<Vm> {
    await current?.powerCut();
    boots++;
    current = new Vm(cleanup, {
      kernel: join(appliance, 'vmlinuz'),
      initrd: join(appliance, 'initrd.img'),
      append: `console=ttyS0 ${options.rootArgs ?? 'root=/dev/vda rootfstype=squashfs ro'} panic=-1 appliance.run=${scenario} ${args}`,
      disks: [{ file: options.root ?? join(appliance, 'root.sqsh'), readonly: true }, ...(options.flash === false ? [] : [{ file: join(appliance, 'flash.img') }])],
      dir,
      name: `boot${boots}-${scenario}`,
    });
    return current;
  }

  async function upAt(vm: Vm, label: string): Promise<void> {
    const [, seconds] = await vm.waitFor(/appliance: up at ([\d.]+) s/, `the appliance's init (${label})`);
    uptimes[label] = Number(seconds);
  }

  before(() => {
    dir = makeTempDir(cleanup, 'persist-boot-');
    appliance = join(dir, 'appliance');
    const profiles = join(dir, 'profiles');
    mkdirSync(profiles);
    copyFileSync(join(repo, 'config', 'appliance', 'profile.yaml'), join(profiles, 'profile.yaml'));
    copyFileSync(join(repo, 'test', 'boot', 'broken-profile.yaml'), join(profiles, 'broken.yaml'));
    copyFileSync(join(repo, 'test', 'boot', 'medium-profile.yaml'), join(profiles, 'medium.yaml'));
    execFileSync('sh', [join(repo, 'scripts', 'appliance', 'build.sh')], {
      env: { ...process.env, APPLIANCE_DIR: appliance, APPLIANCE_PROFILES: profiles, APPLIANCE_SCENARIOS: join(repo, 'test', 'boot', 'scenarios') },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 600_000,
    });
    assert.ok(existsSync(join(appliance, 'initrd.img')));
  });
  after(() => cleanup.runAll());

  it('boot 1: the first boot formats the flash, / is persistd\'s, a commit reaches the flash', async (t) => {
    const vm = await boot('boot1');
    await vm.waitFor(/persist: created ext4 on \/dev\/vdb \(first boot\)/, 'the first-boot format');
    await upAt(vm, 'persist');
    await vm.waitFor(/BOOT1: root fuse\.persistd/, '/ served by persistd');
    await vm.waitFor(/BOOT1: committed/, 'the commit');
    await vm.waitFor(/BOOT1: on the flash/, 'the file on the flash');
    await vm.waitFor(/BOOT1: staged/, 'staged mode');
    const [, seconds] = await vm.waitFor(/reboot: flushed persist's pending changes in ([\d.]+) s/, 'the flush at reboot');
    t.diagnostic(`the flush at reboot took ${seconds} s`);
    await vm.stopped();
  });

  it('boot 2: the committed files are back; writes, then a power cut before the flush interval', async () => {
    const vm = await boot('boot2');
    await vm.waitFor(/BOOT2: committed\.txt says: committed in boot 1/, 'boot 1\'s file');
    await vm.waitFor(/BOOT2: at-reboot\.txt says: written after the commit/, 'the file the reboot\'s flush took');
    await vm.waitFor(/BOOT2: written, pending [1-9]\d* paths/, 'the pending writes');
    await vm.powerCut();
  });

  it('boot 3: after the power cut, the committed files are intact and nothing pending leaked; the reset key resets', async () => {
    const vm = await boot('boot3');
    await vm.waitFor(/BOOT3: committed\.txt says: committed in boot 1/, 'the committed file intact');
    await vm.waitFor(/BOOT3: state says: state 1\b/, 'the committed state, not the pending one');
    await vm.waitFor(/BOOT3: pending\.txt is gone/, 'the pending file absent');
    await vm.waitFor(/persist-button: watching \/dev\/input\/event\d+ .* for KEY_F12/, 'the reset button watching the keyboard');
    await vm.holdKey('f12', 4000);
    await vm.waitFor(/factory reset scheduled/i, 'the reset button\'s console line');
    await vm.stopped();
  });

  it('boot 4: the factory state: the initramfs wiped the flash', async () => {
    const vm = await boot('boot4');
    await vm.waitFor(/persist: factory reset: wiping/, 'the wipe');
    await vm.waitFor(/BOOT4: committed\.txt is gone/, 'the committed file gone');
    await vm.waitFor(/BOOT4: motd says: factory/, 'the factory motd');
    await vm.stopped();
  });

  it('boot 5: a malformed profile gives a volatile boot, and persistctl status says why', async () => {
    const vm = await boot('boot5', 'persist.profile=/etc/persist/broken.yaml');
    await vm.waitFor(/persist: booting volatile \(nothing persists this boot\): the profile is malformed: .*broken\.yaml:\d+:\d+: .*uper/, 'the console line');
    await vm.waitFor(/BOOT5: mode volatile/, 'volatile mode');
    await vm.waitFor(/BOOT5: .*boot fallback: the profile is malformed/, 'the status warning');
    await vm.stopped();
  });

  it('boot 6: persist=off gives the plain read-only squashfs root', async (t) => {
    const vm = await boot('boot6', 'persist=off');
    await vm.waitFor(/persist: persist=off: the root is the plain read-only squashfs/, 'the console line');
    await upAt(vm, 'off');
    await vm.waitFor(/BOOT6: root squashfs/, 'the squashfs root');
    await vm.waitFor(/BOOT6: read-only/, 'a read-only root');
    await vm.stopped();
    t.diagnostic(`guest uptime at the appliance's init: ${uptimes['persist']} s with persist (first boot, with mkfs), ${uptimes['off']} s with persist=off`);
  });

  it('boot 7: with the flash disk missing, a volatile boot that says why', async () => {
    const vm = await boot('boot5', '', { flash: false });
    await vm.waitFor(/persist: booting volatile \(nothing persists this boot\): the flash is not usable: no device \/dev\/vdb after 10 s/, 'the console line');
    await vm.waitFor(/BOOT5: mode volatile/, 'volatile mode');
    await vm.waitFor(/BOOT5: .*boot fallback: the flash is not usable/, 'the status warning');
    await vm.stopped();
  });

  it('boot 8: from a boot medium that holds the squashfs as a file', async () => {
    const medium = join(dir, 'medium');
    mkdirSync(join(medium, 'live'), { recursive: true });
    copyFileSync(join(appliance, 'root.sqsh'), join(medium, 'live', 'root.sqsh'));
    execFileSync('truncate', ['-s', '128M', join(dir, 'medium.img')]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'LIVE', '-d', medium, join(dir, 'medium.img')]);
    const vm = await boot('medium', 'persist.profile=/etc/persist/medium.yaml', { root: join(dir, 'medium.img'), rootArgs: 'root=/dev/vda rootfstype=ext4 ro' });
    await vm.waitFor(/MEDIUM: root fuse\.persistd; motd factory/, '/ served over the squashfs file');
    await vm.waitFor(/MEDIUM: mode staged/, 'staged mode');
    await vm.waitFor(/MEDIUM: lowers \/layers\/lower-0/, 'the squashfs file as the lower');
    await vm.waitFor(/MEDIUM: no warnings/, 'no fallback');
    await vm.stopped();
  });
});
