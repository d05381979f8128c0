/**
 * persistctl's interactive view (loaded by ./index.ts, which src/cli/persistctl.ts calls with no
 * subcommand on a terminal). Resolves with persistctl's exit code: 0 when the operator quits, 3 (4: denied) when
 * the daemon cannot be reached at start, with the client's message and hint on stderr.
 */
import { render } from 'ink';
import { createElement } from 'react';
import { EXIT } from '../cli/ctl/args.js';
import { connectControl, DaemonUnreachable } from '../control/client.js';
import type { Control } from '../control/protocol.js';
import { App } from './app.js';

export interface TuiOptions {
  socketPath: string;
  /** A connected control (tests); otherwise one is opened on socketPath. Closed at the end either way. */
  control?: Control;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

/**
 * Ink's options besides the streams: Ctrl-C is the app's (it quits like q); 60 frames a second
 * at most (Ink's default 30 makes a held arrow key feel sticky).
 */
export const INK_OPTIONS = { exitOnCtrlC: false, patchConsole: true, maxFps: 60 } as const;

/** The alternate screen: the operator's scrollback is as it was after quitting. */
const ENTER_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_SCREEN = '\x1b[?1049l';

export async function runTui(options: TuiOptions): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  let control = options.control;
  if (!control) {
    try {
      control = await connectControl(options.socketPath);
    } catch (err) {
      if (!(err instanceof DaemonUnreachable)) throw err;
      stderr.write(`persistctl: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
      return err.reason === 'denied' ? EXIT.denied : EXIT.unreachable;
    }
  }
  let code: number = EXIT.ok;
  const screen = stdout.isTTY === true;
  if (screen) stdout.write(ENTER_SCREEN);
  try {
    const instance = render(
      createElement(App, {
        control,
        onExit: (c: number) => {
          code = c;
        },
      }),
      { ...INK_OPTIONS, stdout, stderr, stdin: options.stdin ?? process.stdin },
    );
    await instance.waitUntilExit();
  } finally {
    if (screen) stdout.write(LEAVE_SCREEN);
    control.close();
  }
  return code;
}
