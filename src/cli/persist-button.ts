/**
 * persist-button: the factory-reset button. Watches the profile's reset.key on an evdev device;
 * held for reset.hold it schedules a factory reset through persistd's control socket and reboots.
 * See `persist-button --help`; the work is in src/button/run.ts.
 */
import { describeError } from '../errors.js';
import { ProfileErrors } from '../profile/index.js';
import { ButtonError, EXIT, runButton, type ButtonOptions } from '../button/run.js';

const HELP = `usage: persist-button --profile FILE [--device /dev/input/eventN] [--socket PATH] [--dry-run]

Watches the reset button the profile names (reset.key, reset.hold, reset.led, reset.short-press,
reset.device). Held for reset.hold (default 10s): schedules a factory reset through persistd's
control socket, then runs reboot; the next boot wipes the changes. A shorter press does nothing,
or reboots (reset.short-press: reboot). Without reset.device or --device, the button is found by
scanning /sys/class/input/event*/device/capabilities/key for the key.

  --profile FILE   the profile (required)
  --device PATH    the evdev device, instead of reset.device or the scan
  --socket PATH    persistd's control socket, instead of control.socket
  --dry-run        do everything but reboot (print instead)

Exit codes: 0 done (dry run, or stopped by SIGTERM/SIGINT), 1 failed (no device with the key,
the device went away, reboot failed), 2 usage or a bad profile, 3 persistd unreachable (no reset
scheduled, no reboot), 4 permission denied (the device or the socket).
`;

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): ButtonOptions | 'help' {
  const options: Partial<ButtonOptions> = { dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && arg.startsWith('--')) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined || next === '') throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--profile':
        options.profile = value();
        break;
      case '--device':
        options.device = value();
        break;
      case '--socket':
        options.socket = value();
        break;
      case '--dry-run':
        options.dryRun = true;
        break;
      default:
        throw new UsageError(arg.startsWith('-') ? `unknown option ${arg}` : `unexpected argument '${arg}'`);
    }
  }
  if (!options.profile) throw new UsageError('--profile FILE is required');
  return options as ButtonOptions;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseArgs(argv);
  if (options === 'help') {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  // Test hooks: a fake sysfs tree (class/input, class/leds) and a file standing in for /dev/kmsg.
  options.sysRoot = process.env['PERSIST_SYSFS'] || undefined;
  options.kmsg = process.env['PERSIST_KMSG'] || undefined;
  options.onReady = (stop) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop(EXIT.ok));
  };
  return runButton(options);
}

function report(err: unknown): number {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (err instanceof UsageError) {
    say(`persist-button: ${err.message}`);
    say('hint: see persist-button --help');
    return EXIT.usage;
  }
  if (err instanceof ProfileErrors) {
    for (const e of err.errors) say(`persist-button: ${e.format()}`);
    return EXIT.usage;
  }
  if (err instanceof ButtonError) {
    say(`persist-button: ${err.message}`);
    if (err.hint) say(`hint: ${err.hint}`);
    return err.exitCode;
  }
  say(`persist-button: ${describeError(err)}`);
  return EXIT.failed;
}

// The device read may still be pending in the thread pool (a key that never comes): exit, do not wait.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(report(err)),
);
