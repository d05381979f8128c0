// Profiles: the examples load with the values they spell; every error code comes with its exact
// file:line:col and key, several at once; unknown keys and enum values get "did you mean".
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadProfile, parseProfile, ProfileErrors, type ProfileError } from '../../src/profile/index.js';
import { Cleanup } from '../support/cleanup.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';

const examples = join(findRepoRoot(), 'config', 'examples');

/** The errors parseProfile reports for `text` (fails if it loads). */
function errorsOf(text: string): ProfileError[] {
  try {
    parseProfile(text, 'p.yaml');
  } catch (err) {
    if (err instanceof ProfileErrors) return [...err.errors];
    throw err;
  }
  assert.fail('the profile loaded, but errors were expected');
}

/** The one error, as `code line:col key`. */
function only(text: string): ProfileError {
  const errors = errorsOf(text);
  assert.equal(errors.length, 1, errors.map((e) => e.format()).join('\n'));
  return errors[0]!;
}

const at = (e: ProfileError) => `${e.code} ${e.line}:${e.col} ${e.key}`;

describe('profile: examples', () => {
  it('has three examples, and each loads', () => {
    const files = readdirSync(examples).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(files, ['fat-stick-image.yaml', 'live-usb.yaml', 'sd-card-iot.yaml']);
    for (const file of files) loadProfile(join(examples, file));
  });

  it('reads the SD-card example as written, units converted as the CLI flags do', () => {
    const p = loadProfile(join(examples, 'sd-card-iot.yaml'));
    assert.deepEqual(p.layers.lower, [{ device: '/dev/mmcblk0p2' }]);
    assert.deepEqual(p.layers.upper, { kind: 'device', device: '/dev/mmcblk0p3', fstype: 'ext4', directory: 'upper', format: 'first-boot' });
    assert.deepEqual(p.flush, { intervalMs: 300_000, maxDirtyBytes: 16 * 1024 * 1024, minIntervalMs: 30_000, rateBytesPerSec: 4 * 1024 * 1024 });
    assert.deepEqual(p.paths.fsyncHonor, ['/var/lib/provisioning']);
    assert.deepEqual(p.control, { socket: '/run/persist/control.sock', group: 'persist' });
    assert.deepEqual(p.reset, { key: 'KEY_RESTART', code: 408, holdMs: 10_000, led: 'green:status', shortPress: 'reboot', device: undefined });
    assert.equal(p.metrics.file, '/run/persist/metrics.prom');
  });

  it('reads the live USB as volatile and the FAT stick as an image file on a UUID', () => {
    assert.deepEqual(loadProfile(join(examples, 'live-usb.yaml')).layers.upper, { kind: 'none' });
    const fat = loadProfile(join(examples, 'fat-stick-image.yaml'));
    assert.deepEqual(fat.layers.upper, { kind: 'device', uuid: '1A2B-3C4D', fstype: 'vfat', image: '/persistence.img', directory: 'upper', format: 'never' });
    assert.equal(fat.onFailure, 'fail');
  });

  it('fills in the defaults a careful maker would choose', () => {
    const p = parseProfile('version: 1\nlayers:\n  lower:\n    - directory: /ro\n', 'p.yaml');
    assert.deepEqual(p.layers.upper, { kind: 'none' });
    assert.deepEqual(p.flush, { intervalMs: 30_000, maxDirtyBytes: 32 * 1024 * 1024, minIntervalMs: 5_000, rateBytesPerSec: 8 * 1024 * 1024 });
    assert.deepEqual(p.paths, { volatile: ['/tmp', '/var/tmp', '/var/cache'], fsyncHonor: [] });
    assert.deepEqual(p.stage, { directory: '/run/persist/stage', sizeBytes: 256 * 1024 * 1024 });
    assert.deepEqual(p.control, { socket: '/run/persist/control.sock', group: undefined });
    assert.equal(p.reset, undefined);
    assert.equal(p.onFailure, 'volatile');
  });
});

describe('profile: errors', () => {
  const head = 'version: 1\nlayers:\n  lower:\n    - directory: /ro\n';

  it('UNKNOWN_KEY at the key, with did you mean', () => {
    const e = only(`${head}flush:\n  intervall: 10s\n`);
    assert.equal(at(e), 'UNKNOWN_KEY 6:3 flush.intervall');
    assert.match(e.message, /did you mean 'interval'\?/);
    assert.match(e.valid!, /interval, max-dirty, min-interval, rate-limit/);
  });

  it('UNKNOWN_KEY without a guess when nothing is close', () => {
    const e = only(`${head}colour: blue\n`);
    assert.equal(at(e), 'UNKNOWN_KEY 5:1 colour');
    assert.doesNotMatch(e.message, /did you mean/);
  });

  it('BAD_VALUE at the value: a duration, an enum (with did you mean), a relative path', () => {
    assert.equal(at(only(`${head}flush:\n  interval: 30 seconds\n`)), 'BAD_VALUE 6:13 flush.interval');
    const e = only(`${head}on-failure: volatle\n`);
    assert.equal(at(e), 'BAD_VALUE 5:13 on-failure');
    assert.match(e.message, /did you mean 'volatile'/);
    assert.equal(at(only(`${head}paths:\n  volatile: [/tmp, var/tmp]\n`)), 'BAD_VALUE 6:20 paths.volatile[1]');
  });

  it('takes a label YAML reads as a number as written; "did you mean" for upper: none', () => {
    assert.deepEqual(parseProfile(`${head}  upper:\n    label: 2024\n`, 'p.yaml').layers.upper, { kind: 'device', label: '2024', fstype: 'ext4', directory: 'upper', format: 'never' });
    const e = only(`${head}  upper: nnoe\n`);
    assert.equal(at(e), 'BAD_VALUE 5:10 layers.upper');
    assert.match(e.message, /did you mean 'none'/);
  });

  it('WRONG_TYPE: a string where a list belongs', () => {
    const e = only(`${head}paths:\n  volatile: /tmp\n`);
    assert.equal(at(e), 'WRONG_TYPE 6:13 paths.volatile');
  });

  it('MISSING_KEY: version, and a lower layer that names nothing', () => {
    assert.equal(at(only('layers:\n  lower:\n    - directory: /ro\n')), 'MISSING_KEY 1:1 version');
    assert.equal(at(only('version: 1\nlayers:\n  lower:\n    - {}\n')), 'MISSING_KEY 4:7 layers.lower[0]');
  });

  it('CONFLICT: an upper by label and by uuid; a path both volatile and fsync-honor', () => {
    assert.equal(at(only(`${head}  upper:\n    label: P\n    uuid: 1A2B-3C4D\n`)), 'CONFLICT 6:5 layers.upper');
    const e = only(`${head}paths:\n  volatile: [/var]\n  fsync-honor: [/var/lib/db]\n`);
    assert.equal(at(e), 'CONFLICT 7:17 paths.fsync-honor[0]');
  });

  it('an upper on FAT without an image file is refused, with what to do', () => {
    const e = only(`${head}  upper:\n    label: STICK\n    fstype: vfat\n`);
    assert.equal(at(e), 'BAD_VALUE 7:13 layers.upper.fstype');
    assert.match(e.valid!, /image/);
  });

  it('reports several problems at once, in file order', () => {
    const errors = errorsOf('version: 2\nlayers:\n  lowr: []\nflush:\n  rate-limit: fast\n');
    assert.deepEqual(errors.map(at), ['BAD_VALUE 1:10 version', 'UNKNOWN_KEY 3:3 layers.lowr', 'MISSING_KEY 3:3 layers.lower', 'BAD_VALUE 5:15 flush.rate-limit']);
    assert.match(errors[1]!.message, /did you mean 'lower'/);
  });

  it('YAML_SYNTAX at its position, with yaml\'s code; a duplicate key too', () => {
    const e = errorsOf('version: 1\nlayers:\n  lower: [\n    - a\n')[0]!;
    assert.equal(e.code, 'YAML_SYNTAX');
    assert.ok(e.yamlCode, 'yaml\'s own code is kept');
    assert.equal(`${e.line}:${e.col}`, '4:5');
    const dup = only(`${head}version: 1\n`);
    assert.equal(`${dup.code} ${dup.yamlCode} ${dup.line}:${dup.col}`, 'YAML_SYNTAX DUPLICATE_KEY 5:1');
  });

  it('formats as file:line:col: key: message; valid', () => {
    assert.equal(only(`${head}on-failure: maybe\n`).format(), "p.yaml:5:13: on-failure: 'maybe' is not valid; one of volatile, fail");
  });

  it('READ_FAILED names the file', () => {
    const cleanup = new Cleanup();
    const dir = makeTempDir(cleanup);
    after(() => cleanup.runAll());
    try {
      loadProfile(join(dir, 'missing.yaml'));
      assert.fail('loaded a missing file');
    } catch (err) {
      assert.ok(err instanceof ProfileErrors);
      assert.equal(err.errors[0]!.code, 'READ_FAILED');
      assert.equal(err.errors[0]!.file, join(dir, 'missing.yaml'));
    }
    writeFileSync(join(dir, 'ok.yaml'), head);
    assert.deepEqual(loadProfile(join(dir, 'ok.yaml')).layers.lower, [{ directory: '/ro' }]);
  });
});

describe('profile: upper format and the reset button', () => {
  const head = 'version: 1\nlayers:\n  lower:\n    - directory: /ro\n';
  const reset = (lines: string) => parseProfile(`${head}reset:\n  key: KEY_RESTART\n${lines}`, 'p.yaml').reset;

  it('format defaults to never; first-boot on a device', () => {
    assert.deepEqual(parseProfile(`${head}  upper:\n    device: /dev/sda3\n`, 'p.yaml').layers.upper, { kind: 'device', device: '/dev/sda3', fstype: 'ext4', directory: 'upper', format: 'never' });
    assert.deepEqual(parseProfile(`${head}  upper:\n    device: /dev/sda3\n    fstype: f2fs\n    format: first-boot\n`, 'p.yaml').layers.upper, { kind: 'device', device: '/dev/sda3', fstype: 'f2fs', directory: 'upper', format: 'first-boot' });
    assert.equal((parseProfile(`${head}  upper:\n    label: P\n    format: never\n`, 'p.yaml').layers.upper as { format: string }).format, 'never');
  });

  it('format: a bad value (did you mean), with path, with label or uuid, with image', () => {
    const e = only(`${head}  upper:\n    device: /dev/sda3\n    format: first_boot\n`);
    assert.equal(at(e), 'BAD_VALUE 7:13 layers.upper.format');
    assert.match(e.message, /did you mean 'first-boot'/);
    assert.equal(e.valid, 'one of never, first-boot');
    assert.equal(at(only(`${head}  upper:\n    path: /flash\n    format: never\n`)), 'CONFLICT 7:13 layers.upper.format');
    const byLabel = only(`${head}  upper:\n    label: PERSIST\n    format: first-boot\n`);
    assert.equal(at(byLabel), 'CONFLICT 7:13 layers.upper.format');
    assert.match(byLabel.message, /no label to be found by/);
    assert.match(byLabel.valid!, /device: /);
    assert.match(only(`${head}  upper:\n    uuid: 1A2B-3C4D\n    format: first-boot\n`).message, /no uuid/);
    assert.match(only(`${head}  upper:\n    device: /dev/sda1\n    fstype: ext4\n    image: /p.img\n    format: first-boot\n`).message, /image/);
    assert.equal(at(only(`${head}  upper: { format: first-boot }\n`)), 'MISSING_KEY 5:10 layers.upper');
  });

  it('reset: defaults for hold, led, short-press, device', () => {
    assert.deepEqual(reset(''), { key: 'KEY_RESTART', code: 408, holdMs: 10_000, led: undefined, shortPress: 'nothing', device: undefined });
    assert.deepEqual(reset('  hold: 3s\n  led: "mmc0::"\n  short-press: reboot\n  device: /dev/input/event2\n'), { key: 'KEY_RESTART', code: 408, holdMs: 3000, led: 'mmc0::', shortPress: 'reboot', device: '/dev/input/event2' });
    assert.equal(parseProfile(`${head}reset: { key: BTN_0, led: led0 }\n`, 'p.yaml').reset?.code, 256);
    assert.equal(parseProfile(`${head}reset: { key: KEY_F12 }\n`, 'p.yaml').reset?.code, 88);
  });

  it('reset: errors for each key, at the value', () => {
    const key = only(`${head}reset:\n  key: KEY_RESTRAT\n`);
    assert.equal(at(key), 'BAD_VALUE 6:8 reset.key');
    assert.match(key.message, /not a Linux input key, did you mean 'KEY_RESTART'\?/);
    assert.equal(at(only(`${head}reset:\n  key: restart\n`)), 'BAD_VALUE 6:8 reset.key');
    const hold = only(`${head}reset:\n  key: KEY_RESTART\n  hold: 200ms\n`);
    assert.equal(at(hold), 'BAD_VALUE 7:9 reset.hold');
    assert.match(hold.valid!, /at least 1s/);
    const led = only(`${head}reset:\n  key: KEY_RESTART\n  led: green status\n`);
    assert.equal(at(led), 'BAD_VALUE 7:8 reset.led');
    assert.match(led.valid!, /\/sys\/class\/leds/);
    const short = only(`${head}reset:\n  key: KEY_RESTART\n  short-press: reboto\n`);
    assert.equal(at(short), 'BAD_VALUE 7:16 reset.short-press');
    assert.match(short.message, /did you mean 'reboot'/);
    assert.equal(at(only(`${head}reset:\n  key: KEY_RESTART\n  device: input/event0\n`)), 'BAD_VALUE 7:11 reset.device');
    const unknown = only(`${head}reset:\n  key: KEY_RESTART\n  shortpress: reboot\n`);
    assert.equal(at(unknown), 'UNKNOWN_KEY 7:3 reset.shortpress');
    assert.match(unknown.message, /did you mean 'short-press'/);
    assert.match(unknown.valid!, /key, hold, led, short-press, device/);
    assert.equal(at(only(`${head}reset:\n  hold: 10s\n`)), 'MISSING_KEY 6:3 reset.key');
  });
});
