// A fake sysfs tree for the button: class/input/eventN/device/{name,capabilities/key} and
// class/leds/NAME/{brightness,max_brightness,trigger,delay_on,delay_off}. Real sysfs files reject
// what the kernel would; these are plain files, so tests check what was written.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The kernel's bitmap text for a set of codes: hex words (64-bit), highest first, no leading zero words. */
export function keyBitmap(codes: readonly number[], wordBits = 64): string {
  if (!codes.length) return '0';
  const words: bigint[] = [];
  for (const code of codes) {
    const index = Math.floor(code / wordBits);
    while (words.length <= index) words.push(0n);
    words[index] = words[index]! | (1n << BigInt(code % wordBits));
  }
  return words.reverse().map((w) => w.toString(16)).join(' ');
}

export function addInputDevice(sysRoot: string, node: string, name: string, bitmap: string): void {
  const dir = join(sysRoot, 'class', 'input', node, 'device');
  mkdirSync(join(dir, 'capabilities'), { recursive: true });
  writeFileSync(join(dir, 'name'), `${name}\n`);
  writeFileSync(join(dir, 'capabilities', 'key'), `${bitmap}\n`);
}

export function addLed(sysRoot: string, name: string, trigger = 'none [heartbeat] timer mmc0', maxBrightness = 255): string {
  const dir = join(sysRoot, 'class', 'leds', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'brightness'), '0\n');
  writeFileSync(join(dir, 'max_brightness'), `${maxBrightness}\n`);
  writeFileSync(join(dir, 'trigger'), `${trigger}\n`);
  return dir;
}
