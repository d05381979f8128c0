/**
 * persistctl: the operator's tool. Subcommands talk to persistd's control socket through the
 * shared client (src/control/client.ts); with no subcommand on a terminal it starts the TUI.
 * Exit codes mean something to scripts: see `persistctl --help` (src/cli/ctl/args.ts).
 */
import { connectControl, DaemonUnreachable } from '../control/client.js';
import { ControlError, type Control } from '../control/protocol.js';
import { EXIT, HELP, parseInvocation, UsageError, VERBS } from './ctl/args.js';
import { confirmTwice } from './ctl/confirm.js';
import { runVerb } from './ctl/verbs.js';

async function main(argv: readonly string[]): Promise<number> {
  const inv = parseInvocation(argv, process.env);
  if (inv.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (inv.verb === null) return startTui(inv.socket);
  if (inv.verb === 'reset' && !inv.yes && !(process.stdin.isTTY && process.stdout.isTTY)) {
    throw new UsageError('reset wipes every change on the flash at the next boot: without a terminal to confirm on, pass --yes');
  }
  const control = await connectControl(inv.socket);
  try {
    if (inv.verb === 'reset' && !inv.yes && !(await confirmReset(control))) {
      process.stderr.write('persistctl: reset cancelled; nothing was changed\n');
      return EXIT.failed;
    }
    const { result, human } = await runVerb(inv.verb, inv, control, { progress: !inv.json && process.stdout.isTTY === true });
    process.stdout.write(`${inv.json ? JSON.stringify(result) : human}\n`);
    return EXIT.ok;
  } finally {
    control.close();
  }
}

async function confirmReset(control: Control): Promise<boolean> {
  const { mountpoint, layers } = await control.status();
  return confirmTwice(
    `Schedule a factory reset of ${mountpoint}? The next boot wipes every change on the flash (${layers.upper ?? 'no upper'}).`,
    'Really? Everything written since the factory image will be lost.',
  );
}

/** The TUI is another module (src/tui), loaded only when asked for, so scripts never pay for Ink. */
async function startTui(socketPath: string): Promise<number> {
  if (!(process.stdin.isTTY && process.stdout.isTTY)) {
    process.stderr.write(`persistctl: no terminal for the interactive view; use a subcommand (${VERBS.join(', ')}) or see persistctl --help\n`);
    return EXIT.usage;
  }
  let runTui: (options: { socketPath: string }) => Promise<number>;
  try {
    ({ runTui } = await import('../tui/index.js'));
  } catch (err) {
    throw new Error(`the interactive view is not available in this build (${(err as Error).message}); use a subcommand, see persistctl --help`);
  }
  return runTui({ socketPath });
}

/** One line (and a hint line) per error; the exit code says which kind. */
function report(err: unknown): number {
  const say = (message: string, hint?: string) => process.stderr.write(`persistctl: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  if (err instanceof UsageError) {
    say(err.message, 'see persistctl --help');
    return EXIT.usage;
  }
  if (err instanceof DaemonUnreachable) {
    say(err.message, err.hint);
    return err.reason === 'denied' ? EXIT.denied : EXIT.unreachable;
  }
  if (err instanceof ControlError) {
    say(err.message, err.hint);
    return err.code === 'denied' ? EXIT.denied : EXIT.failed;
  }
  say(process.env['PERSIST_TRACE'] ? ((err as Error)?.stack ?? String(err)) : ((err as Error)?.message ?? String(err)));
  return EXIT.failed;
}

// `persistctl changes | head`: the reader left; that is not an error worth a stack.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = report(err);
  },
);
