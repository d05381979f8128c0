/**
 * persistctl's interactive view, loaded by src/cli/persistctl.ts only when it is asked for. This
 * module loads the rest (./run.js: Ink, React) after setting up the environment they read once,
 * at load:
 * - React's production build, unless NODE_ENV says otherwise: the development build checks and
 *   traces every render, which costs the list several milliseconds a keypress;
 * - no CI variables: with `CI` set, Ink draws nothing until the app exits. The view runs only on
 *   a terminal (persistctl checks), so a CI variable that leaked into an operator's shell, or a
 *   test run under CI, must not blank it.
 */
import type { TuiOptions } from './run.js';

export type { TuiOptions } from './run.js';

export async function runTui(options: TuiOptions): Promise<number> {
  process.env['NODE_ENV'] ??= 'production';
  delete process.env['CI'];
  delete process.env['CONTINUOUS_INTEGRATION'];
  const { runTui: run } = await import('./run.js');
  return run(options);
}
