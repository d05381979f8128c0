// runTui as persistctl calls it: the exit code when the daemon is not there, q against a fake
// Control, and the real client against a real control server (a commit's progress arrives on the
// same connection while the commit waits for its reply).

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startControlServer } from '../../src/control/server.js';
import { runTui } from '../../src/tui/index.js';
import { gate, RecordingTarget } from '../control/fixture.js';
import { Cleanup } from '../support/cleanup.js';
import { makeTempDir } from '../support/tempdir.js';
import { FakeControl } from './fake-control.js';
import { stripAnsi } from './ansi.js';

// As on a CI runner: runTui must draw anyway (Ink, with CI set, draws only when the app exits).
process.env['CI'] = 'true';

/** A terminal for Ink: a stdout that keeps what it got, a stdin that takes keys. */
class Terminal {
  output = '';
  readonly stdout = Object.assign(new EventEmitter(), {
    columns: 80,
    rows: 24,
    isTTY: false,
    write: (chunk: string) => {
      this.output += chunk;
      return true;
    },
  });
  readonly stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    data: null as string | null,
    setEncoding() {},
    setRawMode() {},
    resume() {},
    pause() {},
    ref() {},
    unref() {},
    read(this: { data: string | null }) {
      const data = this.data;
      this.data = null;
      return data;
    },
  });
  readonly stderrText: string[] = [];
  readonly stderr = Object.assign(new EventEmitter(), {
    write: (chunk: string) => {
      this.stderrText.push(chunk);
      return true;
    },
  });

  key(data: string): void {
    this.stdin.data = data;
    this.stdin.emit('readable');
  }

  async waitFor(re: RegExp, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(stripAnsi(this.output))) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${re}; output:\n${stripAnsi(this.output).slice(-3000)}`);
      await new Promise((done) => setTimeout(done, 10));
    }
  }

  streams() {
    return { stdin: this.stdin as unknown as NodeJS.ReadStream, stdout: this.stdout as unknown as NodeJS.WriteStream, stderr: this.stderr as unknown as NodeJS.WriteStream };
  }
}

describe('tui runTui', () => {
  const cleanup = new Cleanup();
  after(() => cleanup.runAll());

  it('returns 3 with the client message on stderr when the daemon is not running', async () => {
    const term = new Terminal();
    const dir = makeTempDir(cleanup, 'persist-tui-');
    const code = await runTui({ socketPath: join(dir, 'nobody.sock'), ...term.streams() });
    assert.equal(code, 3);
    assert.match(term.stderrText.join(''), /^persistctl: persistd is not running \(no socket at .*nobody\.sock\)/);
    assert.equal(term.output, '', 'no screen was drawn');
  });

  it('returns 0 on q and closes the control', async () => {
    const term = new Terminal();
    const control = new FakeControl();
    const done = runTui({ socketPath: 'unused', control, ...term.streams() });
    await term.waitFor(/f000001/);
    term.key('q');
    assert.equal(await done, 0);
    assert.ok(control.closed);
  });

  it('works over a real socket: a commit shows the flush progress events that arrive while it waits', async () => {
    const dir = makeTempDir(cleanup, 'persist-tui-');
    const target = new RecordingTarget();
    const release = gate();
    target.behave.commit = async (paths: string[]) => {
      await release.promise;
      return { paths, batches: 1, bytes: 3_145_728 };
    };
    const server = await startControlServer({ socketPath: join(dir, 'control.sock'), target, log: () => undefined });
    cleanup.add('close the server', () => server.close());
    const term = new Terminal();
    const done = runTui({ socketPath: server.path, ...term.streams() });
    await term.waitFor(/hostname/);
    await term.waitFor(/RESET SCHEDULED/);
    assert.equal(target.listeners.size, 1, `subscribed: ${JSON.stringify(target.calls.map((c) => c.op))}`);
    term.key('c');
    await term.waitFor(/committing… 0 B written/);
    target.emit({ event: 'flush-started', seq: 1, time: 0 });
    target.emit({ event: 'flush-progress', seq: 1, bytes: 2_097_152, time: 0 });
    await term.waitFor(/committing… 2\.0 MiB written/);
    release.open();
    await term.waitFor(/committed \/etc\/hostname: 1 batch, 3\.0 MiB/);
    assert.deepEqual(target.last('commit'), [['/etc/hostname']]);
    term.key('q');
    assert.equal(await done, 0);
  });
});
