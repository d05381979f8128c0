// The control socket's server on a real Unix socket, with a target that records its calls: ids
// echoed, replies out of order, every kind of malformed request answered on a connection that
// stays usable, errors passed through, subscriptions, the socket file's mode, owner and
// lifetime, the SO_PEERCRED check (clients run as uid 1000), and clients that misbehave.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startControlServer, type ControlServer, type ControlServerOptions } from '../../src/control/server.js';
import { MAX_REQUEST_BYTES, OPS, type ControlTarget } from '../../src/control/protocol.js';
import { Cleanup } from '../support/cleanup.js';
import { makeTempDir } from '../support/tempdir.js';
import { controlError, DIFF, ENTRIES, eventually, gate, LineClient, RecordingTarget, RESET, STATUS, TOP } from './fixture.js';

const run = promisify(execFile);

/** A group that is neither root's nor uid 1000's own, for the group tests. */
function someGroup(): { name: string; gid: number } {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid && Number(gid) !== 0 && Number(gid) !== 1000 && Number(gid) < 1000) return { name, gid: Number(gid) };
  }
  throw new Error('no system group in /etc/group to test with');
}

// Runs as another uid from a world-readable temp dir (the checkout may be closed to that uid):
// sends one status request and prints the first line it gets back (or what went wrong).
const PEER_CLIENT = `
import { createConnection } from 'node:net';
const socket = createConnection(process.argv[2]);
let text = '';
const done = (out) => { process.stdout.write(out + '\\n'); process.exit(0); };
socket.on('connect', () => socket.write('{"id":7,"op":"status"}\\n'));
socket.on('data', (d) => { text += d; const i = text.indexOf('\\n'); if (i !== -1) done(text.slice(0, i)); });
socket.on('end', () => done(text || 'END'));
socket.on('error', (e) => done(JSON.stringify({ connectError: e.code })));
setTimeout(() => done('TIMEOUT'), 5000);
`;

describe('control server', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let target: RecordingTarget;
  let server: ControlServer;
  let logs: string[];
  let peerScript: string;

  async function start(options: Partial<ControlServerOptions> & { socketPath: string }): Promise<ControlServer> {
    const started = await startControlServer({ target, log: (line) => logs.push(line), ...options });
    cleanup.add(`close ${started.path}`, () => started.close());
    return started;
  }

  async function connect(path = server.path): Promise<LineClient> {
    const client = await LineClient.connect(path);
    cleanup.add('close a client', () => client.close());
    return client;
  }

  /** Runs PEER_CLIENT under setpriv with these credentials; returns the line it printed, parsed. */
  async function peerAs(setprivArgs: string[], path = server.path): Promise<Record<string, unknown>> {
    const { stdout } = await run('setpriv', [...setprivArgs, process.execPath, peerScript, path], { timeout: 15_000 });
    return JSON.parse(stdout.trim()) as Record<string, unknown>;
  }

  before(async () => {
    dir = makeTempDir(cleanup, 'persist-control-');
    peerScript = join(dir, 'peer-client.mjs');
    writeFileSync(peerScript, PEER_CLIENT, { mode: 0o644 });
    target = new RecordingTarget();
    logs = [];
    server = await start({ socketPath: join(dir, 'run', 'control.sock') });
  });
  after(() => cleanup.runAll());

  it('creates the missing directory 0755 and the socket 0600', () => {
    assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o755);
    const socket = statSync(server.path);
    assert.ok(socket.isSocket());
    assert.equal(socket.mode & 0o777, 0o600);
    assert.equal(server.path, join(dir, 'run', 'control.sock'));
  });

  it('answers each op with what the target returned, echoing number and string ids', async () => {
    const client = await connect();
    assert.deepEqual(await client.ask({ id: 1, op: 'status' }), { id: 1, ok: true, result: STATUS });
    assert.deepEqual(await client.ask({ id: 'two', op: 'changes' }), { id: 'two', ok: true, result: { total: ENTRIES.length, offset: 0, entries: ENTRIES } });
    assert.deepEqual(await client.ask({ id: 3.5, op: 'diff', path: '/etc/hostname' }), { id: 3.5, ok: true, result: DIFF });
    assert.deepEqual(await client.ask({ id: 4, op: 'commit', paths: ['/etc/hostname'] }), { id: 4, ok: true, result: { paths: ['/etc/hostname'], batches: 2, bytes: 1_572_864 } });
    assert.deepEqual(await client.ask({ id: 5, op: 'discard', paths: ['/a'] }), { id: 5, ok: true, result: { discarded: ['/a'] } });
    assert.deepEqual(await client.ask({ id: 6, op: 'revert', paths: ['/b'] }), { id: 6, ok: true, result: { reverted: ['/b'] } });
    assert.deepEqual(await client.ask({ id: 7, op: 'reset' }), { id: 7, ok: true, result: RESET });
    assert.deepEqual(await client.ask({ id: 8, op: 'top' }), { id: 8, ok: true, result: TOP });
    assert.deepEqual(await client.ask({ id: '', op: 'status' }), { id: '', ok: true, result: STATUS });
  });

  it('applies defaults and caps and normalises paths before the target sees them', async () => {
    const client = await connect();
    await client.ask({ id: 1, op: 'changes' });
    assert.deepEqual(target.last('changes'), [{ prefix: '/', offset: 0, limit: 1000 }]);
    await client.ask({ id: 2, op: 'changes', prefix: '/var//log/', state: 'pending', kinds: ['modified', 'added'], offset: 3, limit: 50_000 });
    assert.deepEqual(target.last('changes'), [{ prefix: '/var/log', offset: 3, limit: 10_000, state: 'pending', kinds: ['modified', 'added'] }]);
    await client.ask({ id: 3, op: 'diff', path: '/etc/./hostname' });
    assert.deepEqual(target.last('diff'), ['/etc/hostname', 'factory']);
    await client.ask({ id: 4, op: 'diff', path: '/etc/hostname', base: 'flash' });
    assert.deepEqual(target.last('diff'), ['/etc/hostname', 'flash']);
    await client.ask({ id: 5, op: 'commit' });
    assert.deepEqual(target.last('commit'), [[]]);
    await client.ask({ id: 6, op: 'discard', paths: ['/x/', '//y'] });
    assert.deepEqual(target.last('discard'), [['/x', '/y']]);
    await client.ask({ id: 7, op: 'top' });
    assert.deepEqual(target.last('top'), [0, 20]);
    await client.ask({ id: 8, op: 'top', depth: 2, limit: 5 });
    assert.deepEqual(target.last('top'), [2, 5]);
    await client.ask({ id: 9, op: 'status', extra: 'ignored' });
  });

  it('answers requests on one connection as they finish, not in order', async () => {
    const slow = gate<typeof DIFF>();
    target.behave.diff = () => slow.promise;
    try {
      const client = await connect();
      client.send(`${JSON.stringify({ id: 'slow', op: 'diff', path: '/etc/hostname' })}\n${JSON.stringify({ id: 'fast', op: 'status' })}\n`);
      assert.deepEqual(await client.next(), { id: 'fast', ok: true, result: STATUS });
      slow.open({ ...DIFF, unified: 'late' });
      assert.deepEqual(await client.next(), { id: 'slow', ok: true, result: { ...DIFF, unified: 'late' } });
    } finally {
      delete target.behave.diff;
    }
  });

  it('answers malformed lines with bad-request, unknown ops with unknown-op, and keeps the connection', async () => {
    const client = await connect();
    const error = async (line: object | string, id: unknown, code: string, pattern: RegExp) => {
      const reply = await client.ask(typeof line === 'string' ? `${line}\n` : line);
      assert.equal(reply['id'], id, JSON.stringify(reply));
      assert.equal(reply['ok'], false);
      const body = reply['error'] as { code: string; message: string; hint?: string };
      assert.equal(body.code, code, JSON.stringify(reply));
      assert.match(body.message, pattern);
      assert.ok(body.hint, 'every error says what to do');
    };
    const before = target.calls.length;
    await error('{"id": 1, "op": "status"', null, 'bad-request', /not JSON/);
    await error('[1,2]', null, 'bad-request', /a JSON object, got an array/);
    await error('42', null, 'bad-request', /got number 42/);
    await error('"status"', null, 'bad-request', /got string/);
    await error('null', null, 'bad-request', /got null/);
    await error({ op: 'status' }, null, 'bad-request', /id must be a number or a string, got nothing/);
    await error({ id: { x: 1 }, op: 'status' }, null, 'bad-request', /id must be/);
    await error({ id: true, op: 'status' }, null, 'bad-request', /id must be/);
    await error({ id: 1 }, 1, 'bad-request', /op must be a string, got nothing/);
    await error({ id: 2, op: 7 }, 2, 'bad-request', /op must be a string/);
    await error({ id: 3, op: 'format-disk' }, 3, 'unknown-op', /unknown op "format-disk"/);
    await error({ id: 4, op: 'changes', limit: '10' }, 4, 'bad-request', /"limit" must be an integer/);
    await error({ id: 5, op: 'changes', offset: -1 }, 5, 'bad-request', /"offset" must be an integer ≥ 0, got number -1/);
    await error({ id: 6, op: 'changes', offset: 1.5 }, 6, 'bad-request', /"offset"/);
    await error({ id: 7, op: 'changes', state: 'dirty' }, 7, 'bad-request', /"state" must be one of pending, persisted/);
    await error({ id: 8, op: 'changes', kinds: ['added', 'renamed'] }, 8, 'bad-request', /"kinds" must be an array of added/);
    await error({ id: 9, op: 'changes', kinds: 'added' }, 9, 'bad-request', /"kinds"/);
    await error({ id: 10, op: 'changes', prefix: 'etc' }, 10, 'bad-path', /prefix "etc" is not absolute/);
    await error({ id: 11, op: 'diff' }, 11, 'bad-request', /diff needs a "path" field/);
    await error({ id: 12, op: 'diff', path: 5 }, 12, 'bad-path', /must be a string/);
    await error({ id: 13, op: 'diff', path: '../../etc/shadow' }, 13, 'bad-path', /not absolute/);
    await error({ id: 14, op: 'diff', path: '/../etc/shadow' }, 14, 'bad-path', /'\.\.' segment/);
    await error({ id: 15, op: 'diff', path: '/etc/hostname', base: 'yesterday' }, 15, 'bad-request', /"base" must be one of factory, flash/);
    await error({ id: 16, op: 'commit', paths: '/etc' }, 16, 'bad-request', /"paths" must be an array/);
    await error({ id: 17, op: 'discard', paths: ['/ok', 3] }, 17, 'bad-path', /paths\[1\] must be a string/);
    await error({ id: 18, op: 'revert' }, 18, 'bad-request', /revert needs a "paths" field/);
    await error({ id: 19, op: 'revert', paths: [] }, 19, 'bad-request', /at least one path/);
    await error({ id: 20, op: 'top', depth: -2 }, 20, 'bad-request', /"depth"/);
    await error({ id: 21, op: 'top', limit: 0 }, 21, 'bad-request', /"limit" must be an integer ≥ 1/);
    assert.equal(target.calls.length, before, 'no malformed request reached the target');
    client.send('\n   \n'); // blank lines are skipped, not answered
    assert.deepEqual(await client.ask({ id: 'after', op: 'status' }), { id: 'after', ok: true, result: STATUS });
  });

  it('drops a 1.5 MiB line with too-large and still answers the next request on that connection', async () => {
    const client = await connect();
    const huge = JSON.stringify({ id: 'huge', op: 'commit', paths: ['/'.padEnd(1.5 * 1024 * 1024, 'x')] });
    assert.ok(huge.length > MAX_REQUEST_BYTES);
    client.send(`${huge}\n${JSON.stringify({ id: 'next', op: 'status' })}\n`);
    const tooLarge = await client.next();
    assert.equal(tooLarge['id'], null);
    assert.equal((tooLarge['error'] as { code: string }).code, 'too-large');
    assert.match((tooLarge['error'] as { message: string }).message, /more than 1048576 bytes/);
    assert.deepEqual(await client.next(), { id: 'next', ok: true, result: STATUS });
    assert.equal(target.calls.filter((c) => c.op === 'commit' && JSON.stringify(c.args).includes('xxxx')).length, 0);
  });

  it('passes a ControlError through with its code, message and hint', async () => {
    target.behave.revert = () => Promise.reject(controlError('busy', '/data/held is open', 'close the files first'));
    try {
      const client = await connect();
      assert.deepEqual(await client.ask({ id: 1, op: 'revert', paths: ['/data/held'] }), {
        id: 1,
        ok: false,
        error: { code: 'busy', message: '/data/held is open', hint: 'close the files first' },
      });
    } finally {
      delete target.behave.revert;
    }
  });

  it('answers a plain thrown error (sync or async) with failed and its message, and logs it', async () => {
    target.behave.status = () => {
      throw new Error('the stage is gone');
    };
    target.behave.commit = () => Promise.reject(new Error('EIO on the flash'));
    try {
      const client = await connect();
      assert.deepEqual(await client.ask({ id: 1, op: 'status' }), { id: 1, ok: false, error: { code: 'failed', message: 'the stage is gone' } });
      assert.deepEqual(await client.ask({ id: 2, op: 'commit' }), { id: 2, ok: false, error: { code: 'failed', message: 'EIO on the flash' } });
      assert.ok(logs.some((l) => /status failed: the stage is gone/.test(l)), logs.join('\n'));
    } finally {
      delete target.behave.status;
      delete target.behave.commit;
    }
    const client = await connect();
    assert.equal((await client.ask({ id: 3, op: 'status' }))['ok'], true);
  });

  it('subscribe replies ok, then forwards events until the client disconnects', async () => {
    const client = await connect();
    const before = target.unsubscribed;
    assert.deepEqual(await client.ask({ id: 's', op: 'subscribe' }), { id: 's', ok: true, result: { subscribed: true } });
    assert.equal(target.listeners.size, 1);
    const changed = { event: 'changed' as const, paths: ['/etc/hostname'], more: 0, time: 1700000000.5 };
    target.emit(changed);
    target.emit({ event: 'flush-started', seq: 3, time: 1700000001 });
    assert.deepEqual(await client.next(), changed);
    assert.deepEqual(await client.next(), { event: 'flush-started', seq: 3, time: 1700000001 });
    // requests still work on a subscribed connection
    assert.deepEqual(await client.ask({ id: 'st', op: 'status' }), { id: 'st', ok: true, result: STATUS });
    client.close();
    await eventually(() => target.unsubscribed === before + 1, 'the subscription ends with the connection');
    assert.equal(target.listeners.size, 0);
    target.emit(changed); // nobody listens: nothing breaks
  });

  it('a client that half-closes after its requests still gets every reply, then the connection ends', async () => {
    const slow = gate<typeof RESET>();
    target.behave.reset = () => slow.promise;
    try {
      const client = await connect();
      client.socket.end(`${JSON.stringify({ id: 1, op: 'reset' })}\n${JSON.stringify({ id: 2, op: 'status' })}`); // the last line has no newline
      assert.deepEqual(await client.next(), { id: 2, ok: true, result: STATUS });
      slow.open(RESET);
      assert.deepEqual(await client.next(), { id: 1, ok: true, result: RESET });
      await client.closed;
    } finally {
      delete target.behave.reset;
    }
  });

  it('survives clients that vanish mid-request', async () => {
    const slow = gate<{ paths: string[]; batches: number; bytes: number }>();
    target.behave.commit = () => slow.promise;
    try {
      for (let i = 0; i < 5; i++) {
        const client = await connect();
        client.send({ id: i, op: 'commit' });
        await eventually(() => target.calls.filter((c) => c.op === 'commit').length > 0, 'the commit reached the target');
        client.socket.destroy();
      }
      await new Promise((done) => setTimeout(done, 50));
      slow.open({ paths: [], batches: 1, bytes: 1 }); // five replies to nobody
    } finally {
      delete target.behave.commit;
    }
    const client = await connect();
    assert.deepEqual(await client.ask({ id: 'alive', op: 'status' }), { id: 'alive', ok: true, result: STATUS });
    assert.ok(!logs.some((l) => /bug/.test(l)), logs.join('\n'));
  });

  it('stops reading from a client that does not read its replies, and loses none of them', async () => {
    const client = await connect();
    const count = 20_000; // ~20 MiB of status replies
    let requests = '';
    for (let id = 1; id <= count; id++) requests += `{"id":${id},"op":"status"}\n`;
    client.send(requests);
    await new Promise((done) => setTimeout(done, 300)); // the server's output backs up meanwhile
    for (let id = 1; id <= count; id++) {
      const reply = await client.next(10_000);
      assert.equal(reply['id'], id);
    }
    assert.ok(!logs.some((l) => /dropped/.test(l)), logs.join('\n'));
  });

  it('drops a subscriber that leaves megabytes of events unread, with a log line', async () => {
    const client = await connect();
    const before = target.unsubscribed;
    assert.equal((await client.ask({ id: 1, op: 'subscribe' }))['ok'], true);
    client.socket.pause(); // reads nothing more
    const big = { event: 'changed' as const, paths: ['/'.padEnd(64 * 1024, 'e')], more: 0, time: 1 };
    for (let i = 0; i < 200 && target.unsubscribed === before; i++) target.emit(big);
    assert.equal(target.unsubscribed, before + 1, 'the subscriber was dropped');
    assert.equal(logs.filter((l) => /dropped subscriber .* events unread/.test(l)).length, 1, logs.join('\n'));
    client.socket.resume();
    await client.closed;
  });

  it('refuses a peer that is neither root nor the daemon\'s uid, and logs it once', async () => {
    chmodSync(server.path, 0o666); // let the kernel through: SO_PEERCRED must be what refuses
    const before = logs.length;
    try {
      const reply = await peerAs(['--reuid=1000', '--regid=1000', '--clear-groups']);
      assert.equal(reply['id'], null);
      assert.equal(reply['ok'], false);
      const error = reply['error'] as { code: string; message: string; hint: string };
      assert.equal(error.code, 'denied');
      assert.match(error.message, /uid 1000 is neither root nor uid 0/);
      assert.match(error.hint, /root/);
    } finally {
      chmodSync(server.path, 0o600);
    }
    const refusals = logs.slice(before).filter((l) => /refused a connection from pid \d+ \(uid 1000, gid 1000\)/.test(l));
    assert.equal(refusals.length, 1, logs.slice(before).join('\n'));
    assert.ok(!target.calls.slice(-1).some((c) => c.op === 'status' && false));
  });

  it('with a group: the socket is 0660 and that group\'s, and its members get in by gid or supplementary group', async () => {
    const group = someGroup();
    const grouped = await start({ socketPath: join(dir, 'grouped', 'control.sock'), group: group.name });
    const stat = statSync(grouped.path);
    assert.equal(stat.mode & 0o777, 0o660);
    assert.equal(stat.gid, group.gid);
    assert.equal(stat.uid, 0);
    // supplementary group
    assert.deepEqual(await peerAs(['--reuid=1000', '--regid=1000', `--groups=${group.gid}`], grouped.path), { id: 7, ok: true, result: STATUS });
    // primary group
    assert.deepEqual(await peerAs(['--reuid=1000', `--regid=${group.gid}`, '--clear-groups'], grouped.path), { id: 7, ok: true, result: STATUS });
    // not in the group: the socket's mode already refuses (EACCES); opened up, SO_PEERCRED does
    assert.deepEqual(await peerAs(['--reuid=1000', '--regid=1000', '--clear-groups'], grouped.path), { connectError: 'EACCES' });
    chmodSync(grouped.path, 0o666);
    const reply = await peerAs(['--reuid=1000', '--regid=1000', '--clear-groups'], grouped.path);
    assert.equal((reply['error'] as { code: string }).code, 'denied');
    assert.match((reply['error'] as { hint: string }).hint, new RegExp(`member of group ${group.name}`));
    await grouped.close();
  });

  it('an unknown group is a clear error, before anything is created', async () => {
    const path = join(dir, 'nogroup', 'control.sock');
    await assert.rejects(start({ socketPath: path, group: 'no-such-group-here' }), /no group "no-such-group-here" in \/etc\/group: create it \(groupadd/);
    assert.equal(existsSync(join(dir, 'nogroup')), false);
  });

  it('replaces a stale socket file, refuses a live one and a file that is not a socket', async () => {
    const staleDir = join(dir, 'stale');
    mkdirSync(staleDir);
    const path = join(staleDir, 'control.sock');
    // a socket nobody listens on any more: what a killed daemon leaves
    // (a process killed while listening; closing a server in-process would unlink the file)
    await run(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]).catch(() => undefined);
    assert.ok(statSync(path).isSocket());
    const replacing = await start({ socketPath: path });
    const client = await connect(path);
    assert.equal((await client.ask({ id: 1, op: 'status' }))['ok'], true);

    await assert.rejects(startControlServer({ socketPath: path, target, log: () => undefined }), new RegExp(`a server already listens on ${path} \\(pid ${process.pid}\\): stop it`));
    assert.equal((await client.ask({ id: 2, op: 'status' }))['ok'], true, 'the live server still serves');
    await replacing.close();

    const file = join(staleDir, 'not-a-socket');
    writeFileSync(file, 'keep me');
    await assert.rejects(startControlServer({ socketPath: file, target, log: () => undefined }), /exists and is not a socket: remove it/);
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
  });

  it('refuses a socket path longer than a Unix socket allows', async () => {
    await assert.rejects(startControlServer({ socketPath: join(dir, 'x'.repeat(120)), target, log: () => undefined }), /at most 107/);
  });

  it('close() stops listening, ends connections and subscriptions, and removes the socket file', async () => {
    const own = new RecordingTarget();
    const path = join(dir, 'closing.sock');
    const closing = await startControlServer({ socketPath: path, target: own as ControlTarget, log: () => undefined });
    const client = await LineClient.connect(path);
    assert.equal((await client.ask({ id: 1, op: 'subscribe' }))['ok'], true);
    assert.equal(own.listeners.size, 1);
    await closing.close();
    await client.closed;
    assert.equal(own.listeners.size, 0);
    assert.equal(existsSync(path), false);
    await assert.rejects(LineClient.connect(path), /ENOENT/);
    await closing.close(); // twice is fine
  });

  it('every op of the protocol is served', () => {
    const served = new Set(target.calls.map((c) => c.op));
    for (const op of OPS) assert.ok(served.has(op), `${op} was exercised`);
  });
});
