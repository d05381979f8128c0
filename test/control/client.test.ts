// The typed client against a real control server with a recording target: results as the target
// returned them, error replies as ControlError, no daemon as DaemonUnreachable, a daemon that goes
// away mid-request, and a close() that lets the process exit.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { connectControl, DaemonUnreachable } from '../../src/control/client.js';
import { ControlError, type Control, type Event } from '../../src/control/protocol.js';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { Cleanup } from '../support/cleanup.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';
import { controlError, DIFF, ENTRIES, eventually, gate, RecordingTarget, RESET, STATUS, TOP } from './fixture.js';

const run = promisify(execFile);

describe('control client', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let target: RecordingTarget;
  let server: ControlServer;

  async function client(path = server.path): Promise<Control> {
    const control = await connectControl(path);
    cleanup.add('close a client', () => control.close());
    return control;
  }

  before(async () => {
    dir = makeTempDir(cleanup, 'persist-client-');
    target = new RecordingTarget();
    server = await startControlServer({ socketPath: join(dir, 'control.sock'), target, log: () => undefined });
    cleanup.add('close the server', () => server.close());
  });
  after(() => cleanup.runAll());

  it('returns each op\'s result as the target returned it', async () => {
    const control = await client();
    assert.deepEqual(await control.status(), STATUS);
    assert.deepEqual(await control.changes(), { total: ENTRIES.length, offset: 0, entries: ENTRIES });
    assert.deepEqual(await control.changes({ prefix: '/var', offset: 1, limit: 1 }), { total: 2, offset: 1, entries: [ENTRIES[4]] });
    assert.deepEqual(target.last('changes'), [{ prefix: '/var', offset: 1, limit: 1 }]);
    assert.deepEqual(await control.diff('/etc/hostname'), DIFF);
    assert.deepEqual(await control.diff('/etc/hostname', 'flash'), { ...DIFF, base: 'flash' });
    assert.deepEqual(await control.commit(), { paths: [], batches: 2, bytes: 1_572_864 });
    assert.deepEqual(await control.commit(['/etc']), { paths: ['/etc'], batches: 2, bytes: 1_572_864 });
    assert.deepEqual(await control.discard(['/a']), { discarded: ['/a'] });
    assert.deepEqual(await control.revert(['/b', '/c']), { reverted: ['/b', '/c'] });
    assert.deepEqual(await control.reset(), RESET);
    assert.deepEqual(await control.top(), TOP);
    assert.deepEqual(await control.top({ depth: 2, limit: 1 }), { ...TOP, depth: 2, entries: TOP.entries.slice(0, 1) });
  });

  it('matches concurrent requests to their replies whatever order they come back in', async () => {
    const slow = gate<typeof RESET>();
    target.behave.reset = () => slow.promise;
    try {
      const control = await client();
      const reset = control.reset();
      assert.deepEqual(await control.status(), STATUS);
      slow.open({ ...RESET, next: 'later' });
      assert.deepEqual(await reset, { ...RESET, next: 'later' });
    } finally {
      delete target.behave.reset;
    }
  });

  it('rejects an error reply with a ControlError carrying its code, message and hint', async () => {
    target.behave.revert = () => Promise.reject(controlError('busy', '/data/held is open', 'close the files first'));
    try {
      const control = await client();
      await assert.rejects(control.revert(['/data/held']), (err: unknown) => {
        assert.ok(err instanceof ControlError);
        assert.deepEqual([err.code, err.message, err.hint], ['busy', '/data/held is open', 'close the files first']);
        return true;
      });
      await assert.rejects(control.diff('relative/path'), (err: unknown) => err instanceof ControlError && err.code === 'bad-path' && /not absolute/.test(err.message));
      assert.deepEqual(await control.status(), STATUS, 'the connection stays usable');
    } finally {
      delete target.behave.revert;
    }
  });

  it('delivers events to subscribers, and stops when the client closes', async () => {
    const control = await client();
    const events: Event[] = [];
    const before = target.unsubscribed;
    await control.subscribe((event) => events.push(event));
    const changed: Event = { event: 'changed', paths: ['/etc/hostname'], more: 0, time: 1 };
    target.emit(changed);
    target.emit({ event: 'flush-progress', seq: 1, bytes: 10, time: 2 });
    await eventually(() => events.length === 2, 'two events');
    assert.deepEqual(events, [changed, { event: 'flush-progress', seq: 1, bytes: 10, time: 2 }]);
    control.close();
    await eventually(() => target.unsubscribed === before + 1, 'the server unsubscribed');
    assert.equal(events.length, 2, 'no error event for a close the client asked for');
    await assert.rejects(control.status(), /closed/);
  });

  it('no socket, or a stale one: DaemonUnreachable not-running, naming the path and what to do', async () => {
    const missing = join(dir, 'nowhere', 'control.sock');
    await assert.rejects(connectControl(missing), (err: unknown) => {
      assert.ok(err instanceof DaemonUnreachable);
      assert.equal(err.reason, 'not-running');
      assert.equal(err.message, `persistd is not running (no socket at ${missing}): start it, or pass --socket / PERSIST_SOCKET`);
      return true;
    });
    const stale = join(dir, 'stale.sock');
    await run(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]).catch(() => undefined);
    await assert.rejects(connectControl(stale), (err: unknown) => err instanceof DaemonUnreachable && err.reason === 'not-running' && err.message.includes(stale));
  });

  it('a daemon that goes away mid-request: pending requests reject, subscribers get a final error event', async () => {
    const own = new RecordingTarget();
    const slow = gate<never>();
    own.behave.commit = () => slow.promise;
    const going = await startControlServer({ socketPath: join(dir, 'going.sock'), target: own, log: () => undefined });
    const control = await client(going.path);
    const events: Event[] = [];
    await control.subscribe((event) => events.push(event));
    const commit = control.commit();
    await eventually(() => own.calls.some((c) => c.op === 'commit'), 'the commit reached the target');
    const rejected = assert.rejects(commit, (err: unknown) => {
      assert.ok(err instanceof DaemonUnreachable);
      assert.equal(err.reason, 'gone');
      assert.match(err.message, /persistd closed the connection on .*going\.sock before answering commit/);
      return true;
    });
    await going.close();
    await rejected;
    await eventually(() => events.length === 1, 'a final error event');
    assert.equal(events[0]!.event, 'error');
    await assert.rejects(control.status(), (err: unknown) => err instanceof DaemonUnreachable && err.reason === 'gone');
  });

  it('timeoutMs bounds a reply that never comes', async () => {
    target.behave.reset = () => new Promise(() => undefined);
    try {
      const control = await connectControl(server.path, { timeoutMs: 200 });
      cleanup.add('close a client', () => control.close());
      await assert.rejects(control.reset(), (err: unknown) => err instanceof DaemonUnreachable && err.reason === 'timeout' && /reset within 200 ms/.test(err.message));
      assert.deepEqual(await control.status(), STATUS, 'a late reply does not confuse the next one');
    } finally {
      delete target.behave.reset;
    }
  });

  it('close() leaves no open handles: a script that uses the client exits by itself', async () => {
    const script = join(dir, 'uses-client.mjs');
    const clientModule = pathToFileURL(join(findRepoRoot(), 'dist', 'src', 'control', 'client.js')).href;
    writeFileSync(
      script,
      `import { connectControl } from ${JSON.stringify(clientModule)};
const control = await connectControl(process.argv[2]);
await control.subscribe(() => undefined);
const status = await control.status();
control.close();
console.log(status.mode);
`,
    );
    const { stdout } = await run(process.execPath, [script, server.path], { timeout: 10_000 });
    assert.equal(stdout.trim(), 'staged');
  });
});
