// Finding the button's evdev device from key bitmaps in a fake sysfs tree, and driving an LED
// through fake sysfs files (a missing LED warns once and the button carries on).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeScanned, findKeyDevice, kernelWordBits, parseKeyBitmap } from '../../src/button/find-device.js';
import { currentTrigger, Led } from '../../src/button/leds.js';
import { Cleanup } from '../support/cleanup.js';
import { makeTempDir } from '../support/tempdir.js';
import { addInputDevice, addLed, keyBitmap } from './fake-sysfs.js';

const KEY_RESTART = 408;
const KEY_POWER = 116;
const KEY_ENTER = 28;

describe('button: key bitmaps', () => {
  it('reads the kernel format: hex longs, highest first, leading zero words left out', () => {
    // A real ACPI "Power Button": KEY_POWER, bit 52 of the second 64-bit word.
    assert.deepEqual([...parseKeyBitmap('10000000000000 0', 64)], [KEY_POWER]);
    // The same on a 32-bit kernel: bit 20 of the fourth 32-bit word.
    assert.deepEqual([...parseKeyBitmap('100000 0 0 0', 32)], [KEY_POWER]);
    assert.deepEqual([...parseKeyBitmap('1000000 0 0 0 0 0 0', 64)], [KEY_RESTART]);
    assert.deepEqual([...parseKeyBitmap('0\n')], []);
    assert.deepEqual([...parseKeyBitmap(keyBitmap([1, 28, 63, 64, 116, 256, 408, 767]))].sort((a, b) => a - b), [1, 28, 63, 64, 116, 256, 408, 767]);
    assert.deepEqual([...parseKeyBitmap(keyBitmap([28, 116, 408], 32), 32)].sort((a, b) => a - b), [28, 116, 408]);
    assert.throws(() => parseKeyBitmap('12 zz'), /not a bitmap word/);
    assert.equal(kernelWordBits('x86_64'), 64);
    assert.equal(kernelWordBits('aarch64'), 64);
    assert.equal(kernelWordBits('armv7l'), 32);
  });
});

describe('button: finding the device', () => {
  const cleanup = new Cleanup();
  let sys: string;
  const keyboard = Array.from({ length: 120 }, (_, i) => i + 1).concat([KEY_RESTART]);
  before(() => {
    sys = makeTempDir(cleanup, 'persist-sysfs-');
    addInputDevice(sys, 'event0', 'Power Button', '10000000000000 0');
    addInputDevice(sys, 'event2', 'AT Translated Set 2 keyboard', keyBitmap(keyboard));
    addInputDevice(sys, 'event10', 'gpio-keys', keyBitmap([KEY_RESTART, 256]));
    addInputDevice(sys, 'event3', 'ImExPS/2 Generic Explorer Mouse', '1f0000 0 0 0 0');
    addInputDevice(sys, 'event4', 'no key bitmap', '0');
  });
  after(() => cleanup.runAll());

  it('picks the device with the key, and of several the one with the fewest keys', () => {
    const r = findKeyDevice(KEY_RESTART, { sysRoot: sys, wordBits: 64 });
    assert.deepEqual(r.device, { node: 'event10', path: '/dev/input/event10', name: 'gpio-keys', keys: 2 });
    assert.deepEqual(r.scanned.map((d) => d.node), ['event0', 'event2', 'event3', 'event4', 'event10'], 'in event-number order');
    assert.equal(findKeyDevice(KEY_POWER, { sysRoot: sys, wordBits: 64, devDir: '/x' }).device?.path, '/x/event0');
    assert.equal(findKeyDevice(KEY_ENTER, { sysRoot: sys, wordBits: 64 }).device?.node, 'event2');
  });

  it('says which devices were scanned when none has the key', () => {
    const r = findKeyDevice(142, { sysRoot: sys, wordBits: 64 });
    assert.equal(r.device, undefined);
    assert.equal(describeScanned(r), 'event0 (Power Button, 1 key), event2 (AT Translated Set 2 keyboard, 121 keys), event3 (ImExPS/2 Generic Explorer Mouse, 5 keys), event4 (no key bitmap, 0 keys), event10 (gpio-keys, 2 keys)');
    const none = findKeyDevice(KEY_RESTART, { sysRoot: join(sys, 'nowhere') });
    assert.deepEqual(none, { device: undefined, scanned: [], unreadable: [] });
    assert.equal(describeScanned(none), 'none');
  });

  it('skips (and names) a device whose bitmap cannot be read', () => {
    addInputDevice(sys, 'event7', 'broken', 'not hex');
    const r = findKeyDevice(KEY_RESTART, { sysRoot: sys, wordBits: 64 });
    assert.equal(r.device?.node, 'event10');
    assert.match(r.unreadable.join(), /^event7: not a bitmap word/);
    assert.match(describeScanned(r), /event7 \(unreadable\)$/);
  });
});

describe('button: LEDs', () => {
  const cleanup = new Cleanup();
  let sys: string;
  before(() => (sys = makeTempDir(cleanup, 'persist-leds-')));
  after(() => cleanup.runAll());
  const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').trim();

  it('lights at max_brightness, blinks with the timer trigger, and restores the trigger it had', () => {
    const dir = addLed(sys, 'green:status');
    const warnings: string[] = [];
    const led = new Led('green:status', { root: join(sys, 'class', 'leds'), warn: (m) => warnings.push(m) });
    led.blink(100, 200);
    assert.deepEqual(['trigger', 'delay_on', 'delay_off'].map((f) => read(dir, f)), ['timer', '100', '200']);
    led.on();
    assert.deepEqual([read(dir, 'trigger'), read(dir, 'brightness')], ['none', '255']);
    led.off();
    assert.equal(read(dir, 'brightness'), '0');
    led.restore();
    assert.equal(read(dir, 'trigger'), 'heartbeat');
    assert.deepEqual(warnings, []);
  });

  it('writes 1 where max_brightness is 1 or unreadable', () => {
    const dir = addLed(sys, 'led0', 'none', 1);
    new Led('led0', { root: join(sys, 'class', 'leds') }).on();
    assert.equal(read(dir, 'brightness'), '1');
  });

  it('a missing LED: one warning, then silence', () => {
    const warnings: string[] = [];
    const led = new Led('red:fault', { root: join(sys, 'class', 'leds'), warn: (m) => warnings.push(m) });
    led.blink();
    led.on();
    led.off();
    led.restore();
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^persist-button: warning: no LED red:fault \(.*red:fault does not exist\); carrying on without it$/);
  });

  it('reads the current trigger from the bracketed one', () => {
    assert.equal(currentTrigger('none rc-feedback [mmc0] timer\n'), 'mmc0');
    assert.equal(currentTrigger('[none] timer'), 'none');
    assert.equal(currentTrigger(undefined), undefined);
  });
});
