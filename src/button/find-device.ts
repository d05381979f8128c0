/**
 * Which /dev/input/eventN has a key: each evdev device's key bitmap is in
 * /sys/class/input/eventN/device/capabilities/key, as the kernel prints a bitmap: hex words of the
 * kernel's `long` (64 bits on a 64-bit kernel), highest word first, separated by spaces, leading
 * zero words left out ("0" for none). Bit `code` of the map is set when the device can send it.
 *
 * When several devices have the key, the one with the fewest keys wins: a board's reset button
 * (gpio-keys, a handful of keys) rather than a USB keyboard that also has it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { machine } from 'node:os';
import { join } from 'node:path';

export interface InputDevice {
  /** eventN */
  node: string;
  /** /dev/input/eventN */
  path: string;
  /** The device's name (device/name), e.g. gpio-keys or "Power Button". */
  name: string;
  /** How many keys its bitmap has. */
  keys: number;
}

export interface FindOptions {
  /** Default /sys (tests pass a temp dir holding class/input/eventN/...). */
  sysRoot?: string;
  /** Default /dev/input. */
  devDir?: string;
  /** Bits of one bitmap word: the kernel's long. Default from uname -m. */
  wordBits?: number;
}

export interface FindResult {
  /** The device chosen, if any had the key. */
  device: InputDevice | undefined;
  /** Every evdev device looked at, in event-number order (for the error message). */
  scanned: InputDevice[];
  /** Devices whose bitmap could not be read, with why. */
  unreadable: string[];
}

export function kernelWordBits(uname: string = machine()): number {
  return /64|^s390x$/.test(uname) ? 64 : 32;
}

/** Parses a key bitmap into the set of codes it has. */
export function parseKeyBitmap(text: string, wordBits: number = kernelWordBits()): Set<number> {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const codes = new Set<number>();
  words.reverse().forEach((word, index) => {
    if (!/^[0-9a-fA-F]+$/.test(word)) throw new Error(`not a bitmap word: '${word}'`);
    let bits = BigInt(`0x${word}`);
    for (let bit = 0; bits !== 0n && bit < wordBits; bit++, bits >>= 1n) {
      if (bits & 1n) codes.add(index * wordBits + bit);
    }
  });
  return codes;
}

export function findKeyDevice(code: number, options: FindOptions = {}): FindResult {
  const classDir = join(options.sysRoot ?? '/sys', 'class', 'input');
  const devDir = options.devDir ?? '/dev/input';
  const wordBits = options.wordBits ?? kernelWordBits();
  let nodes: string[];
  try {
    nodes = readdirSync(classDir).filter((n) => /^event\d+$/.test(n));
  } catch {
    nodes = [];
  }
  nodes.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const scanned: InputDevice[] = [];
  const unreadable: string[] = [];
  let best: InputDevice | undefined;
  for (const node of nodes) {
    const dir = join(classDir, node, 'device');
    let codes: Set<number>;
    try {
      codes = parseKeyBitmap(readFileSync(join(dir, 'capabilities', 'key'), 'utf8'), wordBits);
    } catch (err) {
      unreadable.push(`${node}: ${(err as Error).message}`);
      continue;
    }
    let name = '';
    try {
      name = readFileSync(join(dir, 'name'), 'utf8').trim();
    } catch {
      // a device without a name is still a device
    }
    const device: InputDevice = { node, path: join(devDir, node), name, keys: codes.size };
    scanned.push(device);
    if (codes.has(code) && (best === undefined || device.keys < best.keys)) best = device;
  }
  return { device: best, scanned, unreadable };
}

/** `event0 (Power Button, 1 key), event1 (AT keyboard, 250 keys)`, for messages. */
export function describeScanned(result: FindResult): string {
  const parts = result.scanned.map((d) => `${d.node} (${d.name || 'no name'}, ${d.keys} key${d.keys === 1 ? '' : 's'})`);
  parts.push(...result.unreadable.map((u) => `${u.split(':')[0]} (unreadable)`));
  return parts.length ? parts.join(', ') : 'none';
}
