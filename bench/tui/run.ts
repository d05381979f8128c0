// The TUI against a fake Control of 50,000 changes (each reply delayed a little, like a socket):
// time to the first screen with entries, and keypress latency (↓ and PgDn) from stdin.write to
// the next frame (keys 25 ms apart), and to the frame that shows the newly selected entry (its page may have to
// come first). Rendered by ink-testing-library (Ink's debug mode: every render is written, no
// frame-rate cap) and as runTui renders on a terminal (Ink's log-update output, 60 fps cap).
//
//   node dist/bench/tui/run.js [entries=50000] [delayMs=1] [dev]
//
// React's production build, as runTui chooses it (src/tui/index.ts); `dev`: the development build.

import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { FakeControl as FakeControlType } from '../../test/tui/fake-control.js';

const COUNT = Number(process.argv[2] ?? 50_000);
const DELAY_MS = Number(process.argv[3] ?? 1);
const DEV = process.argv[4] === 'dev';
process.env['NODE_ENV'] = DEV ? 'development' : 'production';
// Loaded after NODE_ENV is set: React picks its build when it is first imported.
const { render: inkRender } = await import('ink');
const { render } = await import('ink-testing-library');
const { createElement } = await import('react');
const { App } = await import('../../src/tui/app.js');
const { INK_OPTIONS } = await import('../../src/tui/run.js');
const { FakeControl, syntheticEntries } = await import('../../test/tui/fake-control.js');
const { stripAnsi } = await import('../../test/tui/ansi.js');
type FakeControl = FakeControlType;
const DOWN = '\u001B[B';
const PAGE_DOWN = '\u001B[6~';

interface Screen {
  frames(): number;
  last(): string;
  key(data: string): void;
  close(): void;
}

function debugScreen(control: FakeControl): Screen {
  const instance = render(createElement(App, { control, color: false }));
  Object.defineProperty(instance.stdout, 'columns', { get: () => 80 });
  Object.defineProperty(instance.stdout, 'rows', { get: () => 24 });
  instance.stdout.emit('resize');
  return { frames: () => instance.frames.length, last: () => instance.lastFrame() ?? '', key: (d) => instance.stdin.write(d), close: () => instance.unmount() };
}

/** Ink as runTui starts it on a terminal: log-update output, at most INK_OPTIONS.maxFps frames a second. */
function terminalScreen(control: FakeControl): Screen {
  let writes = 0;
  let output = '';
  const stdout = Object.assign(new EventEmitter(), {
    columns: 80,
    rows: 24,
    isTTY: true,
    // A frame comes in several writes (synchronized-output markers, erase, the text): keep what
    // follows the last erase, which is the frame now on screen.
    write: (chunk: string) => {
      output += chunk;
      const erase = output.lastIndexOf('\u001B[2K');
      if (erase > 0) output = output.slice(erase);
      if (stripAnsi(chunk).trim() !== '') writes++;
      return true;
    },
  });
  let pending: string | null = null;
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    setEncoding() {},
    setRawMode() {},
    resume() {},
    pause() {},
    ref() {},
    unref() {},
    read: () => {
      const d = pending;
      pending = null;
      return d;
    },
  });
  const instance = inkRender(createElement(App, { control, color: false }), {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: stdout as unknown as NodeJS.WriteStream,
    ...INK_OPTIONS,
    patchConsole: false,
  });
  return {
    frames: () => writes,
    last: () => output,
    key: (d) => {
      pending = d;
      stdin.emit('readable');
    },
    close: () => instance.unmount(),
  };
}

const tick = () => new Promise<void>((done) => setImmediate(done));

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('bench: timed out');
    await tick();
  }
}

interface Sample {
  frame: number;
  shown: number;
}

/** One key: ms to the next frame, and to a frame that names `expect` (the selected path). */
async function press(screen: Screen, key: string, expect: (frame: string) => boolean): Promise<Sample> {
  // Keys ~25 ms apart, as a held key repeats: each is measured on its own, not queued behind the
  // frame-rate cap's last frame.
  await new Promise((done) => setTimeout(done, 25));
  const before = screen.frames();
  const start = performance.now();
  screen.key(key);
  await until(() => screen.frames() > before);
  const frame = performance.now() - start;
  await until(() => expect(stripAnsi(screen.last())));
  return { frame, shown: performance.now() - start };
}

const selectedIs = (n: number) => (frame: string) => frame.includes(`Changes ${(n + 1).toLocaleString('en-US')} of`) && frame.includes(`› /srv/d`) && new RegExp(`› /srv/d\\d+/f${String(n).padStart(6, '0')}`).test(frame);

function stats(values: number[]): { median: number; p95: number; worst: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p95: at(0.95), worst: sorted[sorted.length - 1]! };
}

async function run(mode: string, make: (control: FakeControl) => Screen, entries: ReturnType<typeof syntheticEntries>) {
  const control = new FakeControl(entries);
  control.delayMs = DELAY_MS;
  const start = performance.now();
  const screen = make(control);
  await until(() => stripAnsi(screen.last()).includes('f000001'));
  const firstScreen = performance.now() - start;
  await until(() => stripAnsi(screen.last()).includes('RESET SCHEDULED'));
  await new Promise((done) => setTimeout(done, 50));

  const downs: Sample[] = [];
  for (let i = 1; i <= 200; i++) downs.push(await press(screen, DOWN, selectedIs(i)));
  const pages: Sample[] = [];
  let at = 200;
  for (let i = 0; i < 20; i++) {
    const before = stripAnsi(screen.last());
    const sample = await press(screen, PAGE_DOWN, (f) => f !== before && /Changes ([\d,]+) of/.test(f) && !f.includes('   …'));
    const now = Number(/Changes ([\d,]+) of/.exec(stripAnsi(screen.last()))![1]!.replace(/,/g, '')) - 1;
    if (now <= at) throw new Error(`bench: PgDn did not move (${at} -> ${now})`);
    at = now;
    pages.push(sample);
  }
  const gEnd = await press(screen, 'G', (f) => f.includes(`f${String(COUNT - 1).padStart(6, '0')}`));
  screen.close();
  const requests = control.callsOf('changes').length;
  return { mode, firstScreen, downs, pages, gEnd, requests, cursor: at };
}

const fmt = (ms: number) => ms.toFixed(1).padStart(7);

async function main() {
  const entries = syntheticEntries(COUNT);
  console.log(`persistctl TUI bench: ${COUNT.toLocaleString('en-US')} changes, ${DELAY_MS} ms per request, 80x24, React ${DEV ? 'development' : 'production'} build, node ${process.version}`);
  const results = [await run('debug (every render)', debugScreen, entries), await run(`terminal (${INK_OPTIONS.maxFps} fps cap)`, terminalScreen, entries)];
  console.log('');
  console.log(`${'mode'.padEnd(22)} ${'what'.padEnd(26)} ${'median'.padStart(7)} ${'p95'.padStart(7)} ${'worst'.padStart(7)}  (ms)`);
  for (const r of results) {
    const row = (what: string, s: { median: number; p95: number; worst: number }) => console.log(`${r.mode.padEnd(22)} ${what.padEnd(26)} ${fmt(s.median)} ${fmt(s.p95)} ${fmt(s.worst)}`);
    console.log(`${r.mode.padEnd(22)} ${'first screen with entries'.padEnd(26)} ${fmt(r.firstScreen)}`);
    row('↓ ×200: next frame', stats(r.downs.map((s) => s.frame)));
    row('↓ ×200: entry shown', stats(r.downs.map((s) => s.shown)));
    row('PgDn ×20: next frame', stats(r.pages.map((s) => s.frame)));
    row('PgDn ×20: page shown', stats(r.pages.map((s) => s.shown)));
    console.log(`${r.mode.padEnd(22)} ${'G (to the last entry)'.padEnd(26)} ${fmt(r.gEnd.frame)} (frame) ${fmt(r.gEnd.shown).trim()} (shown)`);
    console.log(`${r.mode.padEnd(22)} ${'changes requests in all'.padEnd(26)} ${String(r.requests).padStart(7)}  (pages of 200; cursor reached ${r.cursor})`);
  }
}

await main();
process.exit(0);
