/**
 * persist-button's work: watch one key of one evdev device; held for `reset.hold`, schedule a
 * factory reset through persistd's control socket and reboot (the initramfs wipes the upper on
 * the way up: DESIGN.md, two-phase reset); a shorter press does nothing, or reboots.
 *
 * Never reboot without a scheduled reset: if persistd cannot be reached, or refuses, the button
 * says so (console, kernel log) and exits non-zero, so that a supervisor restarts it.
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { connectControl, DaemonUnreachable } from '../control/client.js';
import { ControlError } from '../control/protocol.js';
import { loadProfile, type ResetButton } from '../profile/index.js';
import { openDevice, readKeyEvents, type DeviceReader } from './evdev.js';
import { describeScanned, findKeyDevice, kernelWordBits, parseKeyBitmap } from './find-device.js';
import { HoldMachine, type HoldEvent } from './hold.js';
import { Led } from './leds.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, denied: 4 } as const;

/** Something the operator can fix: one line, a hint, an exit code. */
export class ButtonError extends Error {
  constructor(
    message: string,
    readonly hint: string | undefined,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'ButtonError';
  }
}

export interface ButtonOptions {
  profile: string;
  /** Overrides reset.device and the scan. */
  device?: string | undefined;
  /** Overrides control.socket. */
  socket?: string | undefined;
  /** Print what would be run instead of rebooting. */
  dryRun: boolean;
  /** sysfs root (for /sys/class/input and /sys/class/leds); default /sys. */
  sysRoot?: string | undefined;
  /** The kernel log device; default /dev/kmsg. */
  kmsg?: string | undefined;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Called once reading has begun (the CLI installs its signal handlers here). */
  onReady?: (stop: (code: number) => void) => void;
}

export async function runButton(options: ButtonOptions): Promise<number> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const sysRoot = options.sysRoot ?? '/sys';
  const kmsgPath = options.kmsg ?? '/dev/kmsg';

  const profile = loadProfile(options.profile);
  const reset = profile.reset;
  if (!reset) {
    throw new ButtonError(`${options.profile} has no reset section: no key to watch`, 'add e.g. reset: { key: KEY_RESTART, hold: 10s } to the profile', EXIT.usage);
  }
  const socket = options.socket ?? profile.control.socket;
  const devicePath = options.device ?? reset.device ?? findDevice(reset, sysRoot);
  checkDeviceHasKey(devicePath, reset, sysRoot, err);
  const device = await openInput(devicePath);

  const led = reset.led ? new Led(reset.led, { root: join(sysRoot, 'class', 'leds'), warn: err }) : undefined;
  const held = formatMs(reset.holdMs);
  const say = (line: string, kernel = false) => {
    out(`persist-button: ${line}`);
    if (kernel) toKmsg(kmsgPath, `persist-button: ${line}`);
  };
  const shout = (line: string, hint?: string) => {
    err(`persist-button: ${line}`);
    if (hint) err(`hint: ${hint}`);
    toKmsg(kmsgPath, `persist-button: ${line}`, 3);
  };

  let finish!: (code: number) => void;
  const finished = new Promise<number>((done) => (finish = done));
  let acting = false;
  const act = (work: () => Promise<number>) => {
    acting = true;
    work().then(finish, (e: unknown) => {
      shout(`unexpected failure: ${(e as Error)?.stack ?? String(e)}`);
      finish(EXIT.failed);
    });
  };

  const reboot = async (): Promise<number> => {
    if (options.dryRun) {
      say('dry run: not running reboot');
      return EXIT.ok;
    }
    try {
      await execa('reboot');
      return EXIT.ok;
    } catch (e) {
      shout(`reboot failed: ${(e as Error).message.split('\n')[0]}`, 'reboot the device by hand');
      return EXIT.failed;
    }
  };

  const factoryReset = async (): Promise<number> => {
    try {
      const control = await connectControl(socket, { timeoutMs: 30_000 });
      try {
        await control.reset();
      } finally {
        control.close();
      }
    } catch (e) {
      led?.restore();
      if (e instanceof DaemonUnreachable || e instanceof ControlError) {
        shout(`${reset.key} held ${held}: cannot schedule the factory reset: ${e.message}; not rebooting`, e.hint);
        const denied = e instanceof DaemonUnreachable ? e.reason === 'denied' : e.code === 'denied';
        return denied ? EXIT.denied : e instanceof DaemonUnreachable ? EXIT.unreachable : EXIT.failed;
      }
      throw e;
    }
    say(`${reset.key} held ${held}: factory reset scheduled, rebooting`, true);
    led?.blink(50, 50);
    return reboot();
  };

  const machine = new HoldMachine(reset.holdMs, (event: HoldEvent) => {
    if (acting) return;
    switch (event.kind) {
      case 'down':
        led?.blink();
        break;
      case 'threshold':
        led?.on();
        act(factoryReset);
        break;
      case 'short':
        led?.restore();
        if (reset.shortPress === 'reboot') {
          act(async () => {
            say(`${reset.key} pressed ${formatMs(event.heldMs)}: rebooting (hold it ${held} for a factory reset)`, true);
            return reboot();
          });
        } else say(`${reset.key} pressed ${formatMs(event.heldMs)}: nothing to do (hold it ${held} for a factory reset)`);
        break;
      case 'cancelled':
        led?.restore();
        say(`the kernel dropped input events: the hold of ${reset.key} starts again at the next press`);
        break;
      case 'released':
        break;
    }
  });

  const name = deviceName(devicePath, sysRoot);
  say(`watching ${devicePath}${name ? ` (${name})` : ''} for ${reset.key}: hold ${held} for a factory reset; a short press ${reset.shortPress === 'reboot' ? 'reboots' : 'does nothing'}${options.dryRun ? ' (dry run: no reboot)' : ''}`);
  options.onReady?.((code) => {
    if (!acting) led?.restore();
    finish(code);
  });

  const reading = (async (): Promise<number> => {
    try {
      for await (const event of readKeyEvents(device.chunks)) {
        if (acting) break;
        if (event.kind === 'dropped') machine.cancel();
        else if (event.code === reset.code) machine.key(event.value);
      }
    } catch (e) {
      if (acting) return finished;
      machine.cancel();
      led?.restore();
      throw new ButtonError(`reading ${devicePath} failed: ${(e as Error).message}`, 'was the device unplugged?', EXIT.failed);
    }
    if (acting) return finished;
    machine.cancel();
    led?.restore();
    throw new ButtonError(`${devicePath} ended: no more key events`, 'was the device unplugged? (a FIFO: its writer closed it)', EXIT.failed);
  })();
  return Promise.race([finished, reading]);
}

function findDevice(reset: ResetButton, sysRoot: string): string {
  const result = findKeyDevice(reset.code, { sysRoot, wordBits: kernelWordBits() });
  if (result.device) return result.device.path;
  throw new ButtonError(
    `no input device has ${reset.key} (code ${reset.code}); scanned ${join(sysRoot, 'class', 'input')}: ${describeScanned(result)}`,
    'is the button driver loaded (gpio-keys, a device tree entry)? Or name the device: reset.device in the profile, or --device /dev/input/eventN',
    EXIT.failed,
  );
}

/** A device named by hand that sysfs says lacks the key is worth a warning (it may be a FIFO). */
function checkDeviceHasKey(devicePath: string, reset: ResetButton, sysRoot: string, err: (line: string) => void): void {
  const node = devicePath.match(/(event\d+)$/)?.[1];
  if (!node) return;
  let codes: Set<number>;
  try {
    codes = parseKeyBitmap(readFileSync(join(sysRoot, 'class', 'input', node, 'device', 'capabilities', 'key'), 'utf8'));
  } catch {
    return;
  }
  if (!codes.has(reset.code)) err(`persist-button: warning: ${devicePath} has no ${reset.key} in its key bitmap; its presses may never come`);
}

function deviceName(devicePath: string, sysRoot: string): string | undefined {
  const node = devicePath.match(/(event\d+)$/)?.[1];
  if (!node) return undefined;
  try {
    return readFileSync(join(sysRoot, 'class', 'input', node, 'device', 'name'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function openInput(path: string): Promise<DeviceReader> {
  try {
    return await openDevice(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ButtonError(`permission denied on ${path}`, `run as root, or as a member of the group that owns it (ls -l ${path}; usually input)`, EXIT.denied);
    }
    if (code === 'ENOENT') throw new ButtonError(`no device ${path}`, 'check reset.device or --device (ls /dev/input)', EXIT.failed);
    throw new ButtonError(`cannot open ${path}: ${(e as Error).message}`, undefined, EXIT.failed);
  }
}

/** One record in the kernel log (level 5, notice; 3 for errors); nothing if it cannot be written. */
function toKmsg(path: string, line: string, level = 5): void {
  let fd: number;
  try {
    // No O_CREAT: where there is no /dev/kmsg, do not make a file of that name.
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND);
  } catch {
    return;
  }
  try {
    writeSync(fd, `<${level}>${line}\n`);
  } catch {
    // the console line was printed; the kernel log is a bonus
  } finally {
    closeSync(fd);
  }
}

/** 10000 → 10s, 1500 → 1.5s, 250 → 250ms. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}
