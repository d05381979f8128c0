// persistd check FILE (exit codes, one line per problem) and persistd mount --profile FILE: the
// profile's settings take effect, and command-line flags override them (seen in what reaches the
// flash and in the daemon's settings line).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildLower, StageDirs } from '../flush/flush-fixture.js';
import { Cleanup } from '../support/cleanup.js';
import { attachFlash, createFlashImage, type FlashMount } from '../support/flash-image.js';
import { startPersistd } from '../support/persistd.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { isMounted, unmountForcefully } from '../support/unmount.js';

const MIB = 1024 * 1024;
const persistd = join(findRepoRoot(), 'bin', 'persistd.js');

function runPersistd(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [persistd, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('persistd check', () => {
  const cleanup = new Cleanup();
  let dir: string;
  before(() => {
    dir = makeTempDir(cleanup);
  });
  after(() => cleanup.runAll());

  it('exits 0 with a one-line summary for each example', () => {
    for (const name of ['live-usb', 'sd-card-iot', 'fat-stick-image']) {
      const file = join(findRepoRoot(), 'config', 'examples', `${name}.yaml`);
      const out = runPersistd(['check', file]);
      assert.equal(out.status, 0, out.stderr);
      assert.equal(out.stderr, '');
      const lines = out.stdout.trim().split('\n');
      assert.equal(lines.length, 1, out.stdout);
      assert.match(lines[0]!, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ok: 1 lower layer, `));
    }
    assert.match(runPersistd(['check', join(findRepoRoot(), 'config/examples/sd-card-iot.yaml')]).stdout, /upper \/dev\/mmcblk0p3 \(ext4\)/);
  });

  it('exits 2 with one file:line:col: key: message line per problem', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'version: 1\nlayers:\n  lower:\n    - directory: /ro\nflush:\n  intervall: 10s\n  rate-limit: fast\n');
    const out = runPersistd(['check', file]);
    assert.equal(out.status, 2);
    assert.equal(out.stdout, '');
    assert.deepEqual(out.stderr.trim().split('\n'), [
      `${file}:6:3: flush.intervall: unknown key 'intervall', did you mean 'interval'?; valid keys here: interval, max-dirty, min-interval, rate-limit`,
      `${file}:7:15: flush.rate-limit: 'fast' is not a rate; write e.g. 32MiB, 512k, 8MB or 1048576`,
    ]);
  });

  it('exits 2 on a YAML syntax error, at its position', () => {
    const file = join(dir, 'syntax.yaml');
    writeFileSync(file, 'version: 1\nlayers:\n  lower: [\n    - a\n');
    const out = runPersistd(['check', file]);
    assert.equal(out.status, 2);
    assert.match(out.stderr.split('\n')[0]!, new RegExp(`^${file.replace(/[.]/g, '\\.')}:4:5: `));
  });

  it('a bad profile given to mount is a bad start: exit 2, one line', () => {
    const file = join(dir, 'bad2.yaml');
    writeFileSync(file, 'version: 1\nlayers:\n  lowr: []\n');
    mkdirSync(join(dir, 'mnt'), { recursive: true });
    const out = runPersistd(['mount', '--profile', file, join(dir, 'mnt')]);
    assert.equal(out.status, 2);
    const lines = out.stderr.trim().split('\n');
    assert.equal(lines.length, 1, out.stderr);
    assert.match(lines[0]!, /^persistd: bad profile: .*bad2\.yaml:3:3: layers\.lowr: unknown key 'lowr', did you mean 'lower'\?.*\(and 1 more\); see persistd check /);
  });

  it('mount says when the profile names what only the boot code mounts', () => {
    const out = runPersistd(['mount', '--profile', join(findRepoRoot(), 'config/examples/sd-card-iot.yaml'), join(dir, 'mnt')]);
    assert.equal(out.status, 2);
    assert.match(out.stderr.trim(), /^persistd: profile: layers\.lower\[0\] is the device \/dev\/mmcblk0p2: .*pass --lower/);
  });
});

describe('persistd mount --profile', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lowers: string[];
  let stages: StageDirs;
  let flash: FlashMount;
  let profile: string;
  const upper = (name: string) => join(flash.mountpoint, name, 'upper');

  before(() => {
    dir = makeTempDir(cleanup);
    lowers = [buildLower(cleanup, dir, [{ path: 'var/lib/.keep', content: '' }])];
    stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '64m' }));
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 64 * MIB });
    flash = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'));
    profile = join(dir, 'profile.yaml');
    writeFileSync(profile, [
      'version: 1',
      'layers:',
      '  lower:',
      `    - directory: ${lowers[0]}`,
      'flush:',
      '  interval: 1s',
      '  min-interval: 0s',
      'paths:',
      '  volatile: [/scratch]',
      '',
    ].join('\n'));
  });
  after(() => cleanup.runAll());

  it('takes the flush interval and the volatile paths from the profile', async () => {
    const mnt = join(dir, 'mnt-a');
    mkdirSync(mnt);
    const daemon = await startPersistd(cleanup, { lowers, upper: upper('a'), stage: stages.next(), mountpoint: mnt, extraArgs: ['--profile', profile] });
    await daemon.waitForOutput(/persistd: settings \(profile [^)]*\): flush-interval 1000 ms, .*volatile \/scratch, /, 0, 10_000, 'the settings line');
    const offset = daemon.output().length;
    mkdirSync(join(mnt, 'scratch'));
    writeFileSync(join(mnt, 'scratch/x'), 'ram only\n');
    writeFileSync(join(mnt, 'var/lib/state'), 'kept\n');
    // No SIGUSR1: the profile's 1 s interval (not the default 30 s) starts this flush.
    await daemon.waitForNextFlush(offset, 15_000);
    assert.equal(readFileSync(join(upper('a'), 'var/lib/state'), 'utf8'), 'kept\n');
    assert.equal(existsSync(join(upper('a'), 'scratch')), false, 'the profile made /scratch volatile');
    await daemon.stop();
  });

  it('lets flags override the profile', async () => {
    const mnt = join(dir, 'mnt-b');
    mkdirSync(mnt);
    const daemon = await startPersistd(cleanup, {
      lowers, upper: upper('b'), stage: stages.next(), mountpoint: mnt,
      extraArgs: ['--profile', profile, '--flush-interval', '1h', '--volatile', '/other'],
    });
    await daemon.waitForOutput(/persistd: settings \(profile [^)]*\): flush-interval 3600000 ms, .*volatile \/other, /, 0, 10_000, 'the settings line');
    mkdirSync(join(mnt, 'scratch'));
    writeFileSync(join(mnt, 'scratch/x'), 'persisted now\n');
    mkdirSync(join(mnt, 'other'));
    writeFileSync(join(mnt, 'other/y'), 'ram only\n');
    const offset = daemon.output().length;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(daemon.flushedBatches().length, 0, `no flush within 3 s: --flush-interval 1h overrides the profile's 1s\n${daemon.output().slice(offset)}`);
    await daemon.flushNow();
    assert.equal(readFileSync(join(upper('b'), 'scratch/x'), 'utf8'), 'persisted now\n', '--volatile replaced the profile\'s list');
    assert.equal(existsSync(join(upper('b'), 'other')), false);
    await daemon.stop();
  });
});

describe('persistd mount --profile, layout from the profile alone', () => {
  const cleanup = new Cleanup();
  after(() => cleanup.runAll());

  it('serves the lower, upper and stage the profile names, with no layer flags', async () => {
    const dir = makeTempDir(cleanup);
    const lower = buildLower(cleanup, dir, [{ path: 'etc/motd', content: 'factory\n' }]);
    const stage = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '32m' })).next();
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 32 * MIB });
    const flash = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'));
    const upper = join(flash.mountpoint, 'upper');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const profile = join(dir, 'profile.yaml');
    writeFileSync(profile, `version: 1\nlayers:\n  lower:\n    - directory: ${lower}\n  upper:\n    path: ${upper}\nstage:\n  directory: ${stage}\nflush:\n  interval: 1h\n  min-interval: 0s\n`);

    const child = spawn(process.execPath, [persistd, 'mount', '--profile', profile, mnt], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    cleanup.add('stop the profile-only persistd', async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 20_000))]);
        if (!done) child.kill('SIGKILL');
      }
      if (isMounted(mnt)) unmountForcefully(mnt, { abortFuse: true });
    });
    const waitFor = async (pattern: RegExp, what: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (!pattern.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) assert.fail(`no ${what}; output:\n${output}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await waitFor(/persistd: serving .*\(lower [^,]*, stage [^,]*, upper [^)]*\)/, 'serving line');
    assert.match(output, new RegExp(`\\(lower ${lower}, stage ${stage}, upper ${upper}\\)`));
    await waitFor(/persistd: settings .*volatile \/tmp \/var\/tmp \/var\/cache, /, 'settings line with the default volatile paths');
    assert.equal(readFileSync(join(mnt, 'etc/motd'), 'utf8'), 'factory\n');
    writeFileSync(join(mnt, 'etc/motd'), 'changed\n');
    child.kill('SIGUSR1');
    await waitFor(/persistd: flushed batch/, 'flush');
    assert.equal(readFileSync(join(upper, 'etc/motd'), 'utf8'), 'changed\n');
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  });
});
