// Renders the TUI with ink-testing-library at a chosen terminal size, and waits for frames.

import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { App, type AppProps } from '../../src/tui/app.js';
import { stripAnsi } from './ansi.js';

export const KEY = {
  down: '\u001B[B',
  up: '\u001B[A',
  pageDown: '\u001B[6~',
  pageUp: '\u001B[5~',
  enter: '\r',
  escape: '\u001B',
  tab: '\t',
  space: ' ',
  ctrlC: '\u0003',
} as const;

export type Screen = ReturnType<typeof renderApp>;

export function renderApp(props: AppProps, size: { columns: number; rows: number } = { columns: 80, rows: 24 }) {
  const instance = render(createElement(App, { color: false, ...props }));
  const { stdout } = instance;
  // ink-testing-library's stdout is 100 columns and has no rows: set ours, then say it resized.
  const resize = (columns: number, rows: number) => {
    Object.defineProperty(stdout, 'columns', { configurable: true, get: () => columns });
    Object.defineProperty(stdout, 'rows', { configurable: true, get: () => rows });
    stdout.emit('resize');
  };
  resize(size.columns, size.rows);
  const frame = () => stripAnsi(instance.lastFrame() ?? '');

  /** Waits until the (ANSI-stripped) frame matches; fails with the last frame. */
  const waitFor = async (check: RegExp | ((frame: string) => boolean), what = String(check), timeoutMs = 3000): Promise<string> => {
    const test = typeof check === 'function' ? check : (f: string) => check.test(f);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = frame();
      if (test(f)) return f;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the last frame:\n${f}`);
      await new Promise((done) => setTimeout(done, 5));
    }
  };

  /** Writes keys one at a time, each after the frame the previous one caused (or a short pause). */
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      const before = instance.frames.length;
      instance.stdin.write(key);
      const deadline = Date.now() + 200;
      while (instance.frames.length === before && Date.now() < deadline) await new Promise((done) => setTimeout(done, 2));
      await settle();
    }
  };

  return { ...instance, frame, rawFrame: () => instance.lastFrame() ?? '', waitFor, press, resize };
}

/** Lets promises and timers of 0 ms run (replies of the fake control, React's updates). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((done) => setImmediate(done));
}

/** SGR sequences that set a colour (foreground or background), as opposed to bold, dim, inverse. */
export function colourEscapes(text: string): string[] {
  // eslint-disable-next-line no-control-regex
  const sgr = text.match(/\u001B\[[0-9;]*m/g) ?? [];
  return sgr.filter((seq) =>
    seq
      .slice(2, -1)
      .split(';')
      .some((p) => /^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$/.test(p)),
  );
}
