/**
 * persistctl's interactive view, loaded by src/cli/persistctl.ts only when it is asked for. This
 * module loads the rest (./run.js: Ink, React) after choosing React's production build, unless
 * NODE_ENV says otherwise: the development build checks and traces every render, which costs
 * the list several milliseconds a keypress.
 */
import type { TuiOptions } from './run.js';

export type { TuiOptions } from './run.js';

export async function runTui(options: TuiOptions): Promise<number> {
  process.env['NODE_ENV'] ??= 'production';
  const { runTui: run } = await import('./run.js');
  return run(options);
}
