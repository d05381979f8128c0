// persist-button end to end: the built CLI reads real input_event records from a FIFO (--device)
// that the test writes into, talks to a real control server with a recording target, and runs
// with --dry-run. A long hold schedules exactly one reset while the key is still held; a short
// press schedules none; persistd unreachable means no reboot; the errors a maker meets (no reset
// section, no device with the key, permission denied) are one line and a hint each.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { encodeEvent, EV_KEY, EV_SYN, SYN_REPORT } from '../../src/button/evdev.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { eventually, RecordingTarget } from '../control/fixture.js';
import { Cleanup } from '../support/cleanup.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';
import { addInputDevice, addLed, keyBitmap } from './fake-sysfs.js';

const repo = findRepoRoot();
const cli = join(repo, 'dist', 'src', 'cli', 'persist-button.js');
const KEY_RESTART = 408;

class Button {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | string>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((done) => child.on('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
  }

  async waitFor(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stdout)) {
      if (Date.now() > deadline) assert.fail(`no ${pattern} within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await sleep(10);
    }
  }

  async exit(timeoutMs = 5000): Promise<number | string> {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    try {
      const code = await this.exited;
      if (killed) assert.fail(`persist-button did not exit within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      return code;
    } finally {
      clearTimeout(timer);
    }
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('persist-button', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let sys: string;
  let kmsg: string;
  let target: RecordingTarget;
  let server: ControlServer;
  let fifoCount = 0;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = makeTempDir(cleanup, 'persist-button-');
    sys = join(dir, 'sys');
    kmsg = join(dir, 'kmsg');
    writeFileSync(kmsg, '');
    target = new RecordingTarget();
    server = await startControlServer({ socketPath: join(dir, 'control.sock'), target, log: () => undefined });
    cleanup.add('close the server', () => server.close());
  });
  beforeEach(() => addLed(sys, 'green:status')); // heartbeat, as a board might show it
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    target.calls.length = 0;
  });
  after(() => cleanup.runAll());

  function profile(reset: string, socket = server.path): string {
    const file = join(dir, `profile-${++fifoCount}.yaml`);
    writeFileSync(file, `version: 1\nlayers:\n  lower:\n    - directory: /ro\ncontrol:\n  socket: ${socket}\n${reset}`);
    return file;
  }

  function start(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): Button {
    const command = [...prefix, process.execPath, cli, ...args];
    const child = spawn(command[0]!, command.slice(1), { cwd: repo, env: { ...process.env, PERSIST_SYSFS: sys, PERSIST_KMSG: kmsg, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return new Button(child);
  }

  /** A FIFO standing in for /dev/input/eventN, and its write end once the button opened it. */
  async function fifo(): Promise<{ path: string; writer: () => Promise<FileHandle> }> {
    const path = join(dir, `event-fifo-${++fifoCount}`);
    assert.equal(spawnSync('mkfifo', [path]).status, 0);
    return {
      path,
      writer: async () => {
        const handle = await open(path, 'w'); // waits for the reader
        cleanup.add(`close ${path}`, () => handle.close().catch(() => undefined));
        return handle;
      },
    };
  }

  const key = (value: number, code = KEY_RESTART) => Buffer.concat([encodeEvent({ type: EV_KEY, code, value }), encodeEvent({ type: EV_SYN, code: SYN_REPORT, value: 0 })]);
  const resets = () => target.calls.filter((c) => c.op === 'reset').length;
  const led = (file: string) => readFileSync(join(sys, 'class', 'leds', 'green:status', file), 'utf8').trim();

  it('a long hold: the reset is scheduled once while the key is held, then the (dry-run) reboot', async () => {
    const dev = await fifo();
    const p = profile('reset:\n  key: KEY_RESTART\n  hold: 1s\n  led: green:status\n');
    const button = start(['--profile', p, '--device', dev.path, '--dry-run']);
    const w = await dev.writer();
    await button.waitFor(/watching .*event-fifo.* for KEY_RESTART: hold 1s for a factory reset; a short press does nothing \(dry run: no reboot\)/);
    const pressed = Date.now();
    // Another key, then the button down, autorepeat while held: written in odd-sized pieces.
    const stream = Buffer.concat([key(1, 28), key(0, 28), key(1), key(2), key(2)]);
    await w.write(stream.subarray(0, 37));
    await sleep(20);
    await w.write(stream.subarray(37));
    await eventually(() => led('trigger') === 'timer', 'the LED blinks while the key is held');
    await button.waitFor(/KEY_RESTART held 1s: factory reset scheduled, rebooting\n/);
    const elapsed = Date.now() - pressed;
    assert.ok(elapsed >= 950 && elapsed < 3000, `the threshold came after ${elapsed} ms`);
    assert.equal(resets(), 1, 'one reset, before the key went up');
    // The release, and another press: the dry run may have ended already (EPIPE), or it ignores them.
    await w.write(Buffer.concat([key(2), key(0), key(1), key(0)])).catch((e: NodeJS.ErrnoException) => assert.equal(e.code, 'EPIPE'));
    assert.equal(await button.exit(), 0, button.stderr);
    assert.equal(resets(), 1, 'still exactly one reset after the release and another press');
    assert.equal(button.stdout.match(/factory reset scheduled/g)?.length, 1);
    assert.match(button.stdout, /persist-button: dry run: not running reboot\n$/);
    assert.equal(button.stderr, '');
    assert.match(readFileSync(kmsg, 'utf8'), /^<5>persist-button: KEY_RESTART held 1s: factory reset scheduled, rebooting\n$/m);
    assert.deepEqual([led('trigger'), led('delay_on'), led('delay_off')], ['timer', '50', '50'], 'blinking fast towards the reboot');
  });

  it('a short press: no reset; nothing else happens until SIGTERM (exit 0, LED restored)', async () => {
    const dev = await fifo();
    const p = profile('reset:\n  key: KEY_RESTART\n  hold: 1s\n  led: green:status\n');
    const button = start(['--profile', p, '--device', dev.path, '--dry-run']);
    const w = await dev.writer();
    await button.waitFor(/watching/);
    await w.write(key(1));
    await sleep(200);
    await w.write(Buffer.concat([key(2), key(0)]));
    await button.waitFor(/KEY_RESTART pressed \d+ms: nothing to do \(hold it 1s for a factory reset\)/);
    assert.equal(led('trigger'), 'heartbeat', 'the LED is back to what it showed');
    await sleep(1200); // past the hold: the timer of the short press must be gone
    assert.equal(resets(), 0);
    assert.doesNotMatch(button.stdout, /scheduled|rebooting|not running reboot/);
    // No read parked in the thread pool keeps it alive: it exits at once, the key never coming.
    const stopped = Date.now();
    button.child.kill('SIGTERM');
    assert.equal(await button.exit(), 0, button.stderr);
    assert.ok(Date.now() - stopped < 1000, `SIGTERM took ${Date.now() - stopped} ms`);
    assert.equal(resets(), 0);
  });

  it('short-press: reboot reboots (dry run) without a reset', async () => {
    const dev = await fifo();
    const p = profile('reset:\n  key: KEY_RESTART\n  hold: 1s\n  short-press: reboot\n');
    const button = start(['--profile', p, '--device', dev.path, '--dry-run']);
    const w = await dev.writer();
    await button.waitFor(/a short press reboots/);
    await w.write(Buffer.concat([key(1), key(0)]));
    assert.equal(await button.exit(), 0, button.stderr);
    assert.match(button.stdout, /KEY_RESTART pressed \d+ms: rebooting \(hold it 1s for a factory reset\)\npersist-button: dry run: not running reboot\n$/);
    assert.equal(resets(), 0);
  });

  it('persistd unreachable: a clear error, no reboot, exit 3', async () => {
    const dev = await fifo();
    const p = profile('reset:\n  key: KEY_RESTART\n  hold: 1s\n  led: green:status\n', join(dir, 'no-such.sock'));
    const button = start(['--profile', p, '--device', dev.path, '--dry-run']);
    const w = await dev.writer();
    await button.waitFor(/watching/);
    await w.write(key(1));
    assert.equal(await button.exit(), 3, button.stdout);
    assert.match(button.stderr, /^persist-button: KEY_RESTART held 1s: cannot schedule the factory reset: persistd is not running \(no socket at .*no-such\.sock\).*; not rebooting\n/);
    assert.doesNotMatch(button.stdout, /scheduled|rebooting|not running reboot/);
    assert.match(readFileSync(kmsg, 'utf8'), /^<3>persist-button: KEY_RESTART held 1s: cannot schedule/m);
    assert.equal(led('trigger'), 'heartbeat');
  });

  it('--socket overrides the profile\'s socket', async () => {
    const dev = await fifo();
    const p = profile('reset: { key: BTN_0, hold: 1s }\n', join(dir, 'no-such.sock'));
    const button = start(['--profile', p, `--device=${dev.path}`, '--socket', server.path, '--dry-run']);
    const w = await dev.writer();
    await button.waitFor(/for BTN_0/);
    await w.write(Buffer.concat([key(1, KEY_RESTART), key(0, KEY_RESTART), key(1, 256)]));
    await button.waitFor(/BTN_0 held 1s: factory reset scheduled/);
    assert.equal(await button.exit(), 0, button.stderr);
    assert.equal(resets(), 1);
  });

  it('the device ending (unplugged; the FIFO closed) is exit 1 and no reset', async () => {
    const dev = await fifo();
    const button = start(['--profile', profile('reset: { key: KEY_RESTART, hold: 1s }\n'), '--device', dev.path, '--dry-run']);
    const w = await dev.writer();
    await button.waitFor(/watching/);
    await w.write(key(1));
    await w.close();
    assert.equal(await button.exit(), 1);
    assert.match(button.stderr, /^persist-button: .*event-fifo-\d+ ended: no more key events\nhint: /);
    assert.equal(resets(), 0);
  });

  it('errors: no reset section, a bad profile, no device with the key (which were scanned), permission denied, usage', async () => {
    let b = start(['--profile', profile('')]);
    assert.equal(await b.exit(), 2);
    assert.match(b.stderr, /^persist-button: .*profile-\d+\.yaml has no reset section: no key to watch\nhint: add e\.g\. reset: \{ key: KEY_RESTART, hold: 10s \}/);

    b = start(['--profile', profile('reset:\n  key: KEY_RESTRAT\n')]);
    assert.equal(await b.exit(), 2);
    assert.match(b.stderr, /^persist-button: .*profile-\d+\.yaml:8:8: reset\.key: 'KEY_RESTRAT' is not a Linux input key, did you mean 'KEY_RESTART'\?/);

    addInputDevice(sys, 'event0', 'Power Button', keyBitmap([116]));
    addInputDevice(sys, 'event1', 'AT Translated Set 2 keyboard', keyBitmap([1, 2, 28, 57]));
    b = start(['--profile', profile('reset: { key: KEY_RESTART }\n')]);
    assert.equal(await b.exit(), 1);
    assert.match(b.stderr, /^persist-button: no input device has KEY_RESTART \(code 408\); scanned .*\/sys\/class\/input: event0 \(Power Button, 1 key\), event1 \(AT Translated Set 2 keyboard, 4 keys\)\nhint: .*reset\.device .*--device/);

    // The scan finds the button's device; on this machine no /dev/input/event5 exists to open.
    addInputDevice(sys, 'event5', 'gpio-keys', keyBitmap([KEY_RESTART]));
    b = start(['--profile', profile('reset: { key: KEY_RESTART }\n')]);
    assert.equal(await b.exit(), 1);
    assert.match(b.stderr, /^persist-button: no device \/dev\/input\/event5\n/);

    const locked = join(dir, 'event-locked');
    writeFileSync(locked, '');
    chmodSync(locked, 0o000);
    // Root without CAP_DAC_OVERRIDE meets the mode, as the button's service user would.
    b = start(['--profile', profile('reset: { key: KEY_RESTART }\n'), '--device', locked], {}, ['setpriv', '--bounding-set=-dac_override,-dac_read_search']);
    assert.equal(await b.exit(), 4);
    assert.match(b.stderr, /^persist-button: permission denied on .*event-locked\nhint: run as root, or as a member of the group that owns it/);

    b = start(['--device', locked]);
    assert.equal(await b.exit(), 2);
    assert.match(b.stderr, /^persist-button: --profile FILE is required\nhint: see persist-button --help\n$/);
    b = start(['--profile', 'x', '--reboot-now']);
    assert.equal(await b.exit(), 2);
    assert.match(b.stderr, /unknown option --reboot-now/);
    b = start(['--help']);
    assert.equal(await b.exit(), 0);
    assert.match(b.stdout, /^usage: persist-button --profile FILE/);
  });
});
