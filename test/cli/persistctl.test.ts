// persistctl, the built CLI, against a control server started here with a recording target (no
// persistd): every verb's --json is what the target returned, the human output names the key
// facts, exit codes 0-4, reset's confirmation, no verb without a terminal, PERSIST_SOCKET, host
// paths under the mountpoint, and the commit progress line on a terminal.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlServer, type ControlServer } from '../../src/control/server.js';
import { Cleanup } from '../support/cleanup.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';
import { controlError, DIFF, ENTRIES, MOUNTPOINT, RecordingTarget, RESET, STATUS, TOP } from '../control/fixture.js';

const repo = findRepoRoot();
const cli = join(repo, 'dist', 'src', 'cli', 'persistctl.js');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A command line to run node under (setpriv ..., script ...). */
  prefix?: string[];
  entry?: string;
  /** The whole command line instead (args are ignored). */
  command?: string[];
}

/** Runs the CLI asynchronously: the server it talks to runs in this process. */
function persistctl(args: string[], options: RunOptions = {}): Promise<Outcome> {
  const [command, ...rest] = options.command ?? [...(options.prefix ?? []), process.execPath, options.entry ?? cli, ...args];
  const env = { ...process.env, PERSIST_SOCKET: '', ...options.env };
  return new Promise((done, fail) => {
    const child = spawn(command!, rest, { cwd: options.cwd ?? repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function json(outcome: Outcome): unknown {
  assert.equal(outcome.code, 0, `exit status; stderr: ${outcome.stderr}`);
  const lines = outcome.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line of JSON, got:\n${outcome.stdout}`);
  return JSON.parse(lines[0]!);
}

function assertExit(outcome: Outcome, code: number, stderr: RegExp): void {
  assert.equal(outcome.code, code, `exit status; stdout: ${outcome.stdout}\nstderr: ${outcome.stderr}`);
  assert.match(outcome.stderr, stderr);
  assert.match(outcome.stderr, /^persistctl: /);
}

describe('persistctl', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let target: RecordingTarget;
  let server: ControlServer;
  let sock: string[];

  before(async () => {
    dir = makeTempDir(cleanup, 'persist-ctl-');
    target = new RecordingTarget();
    server = await startControlServer({ socketPath: join(dir, 'control.sock'), target, log: () => undefined });
    cleanup.add('close the server', () => server.close());
    sock = ['--socket', server.path];
  });
  after(() => cleanup.runAll());

  it('--json prints what the target returned, for every verb', async () => {
    assert.deepEqual(json(await persistctl(['status', '--json', ...sock])), STATUS);
    assert.deepEqual(json(await persistctl(['changes', '--json', ...sock])), { total: ENTRIES.length, offset: 0, entries: ENTRIES });
    const page = json(await persistctl(['changes', '--prefix', '/var', '--state', 'pending', '--kind', 'modified', '--kind', 'added', '--offset', '0', '--limit', '1', '--json', ...sock]));
    assert.deepEqual(page, { total: 1, offset: 0, entries: [ENTRIES[3]] });
    assert.deepEqual(target.last('changes'), [{ prefix: '/var', state: 'pending', kinds: ['modified', 'added'], offset: 0, limit: 1 }]);
    assert.deepEqual(json(await persistctl(['diff', '/etc/hostname', '--json', ...sock])), DIFF);
    assert.deepEqual(json(await persistctl(['diff', '/etc/hostname', '--base', 'flash', '--json', ...sock])), { ...DIFF, base: 'flash' });
    assert.deepEqual(json(await persistctl(['commit', '--json', ...sock])), { paths: [], batches: 2, bytes: 1_572_864 });
    assert.deepEqual(json(await persistctl(['commit', '/etc', '/var/log', '--json', ...sock])), { paths: ['/etc', '/var/log'], batches: 2, bytes: 1_572_864 });
    assert.deepEqual(json(await persistctl(['discard', '--json', ...sock])), { discarded: ['/etc/hostname', '/etc/new'] });
    assert.deepEqual(json(await persistctl(['discard', '/a', '--json', ...sock])), { discarded: ['/a'] });
    assert.deepEqual(json(await persistctl(['revert', '/b', '/c', '--json', ...sock])), { reverted: ['/b', '/c'] });
    assert.deepEqual(json(await persistctl(['reset', '--yes', '--json', ...sock])), RESET);
    assert.deepEqual(json(await persistctl(['top', '--json', ...sock])), TOP);
    assert.deepEqual(json(await persistctl(['top', '--depth', '2', '--limit', '1', '--json', ...sock])), { ...TOP, depth: 2, entries: TOP.entries.slice(0, 1) });
    assert.deepEqual(target.last('top'), [2, 1]);
  });

  it('changes --all pages through everything and prints one object', async () => {
    const before = target.calls.filter((c) => c.op === 'changes').length;
    assert.deepEqual(json(await persistctl(['changes', '--all', '--limit', '2', '--json', ...sock])), { total: ENTRIES.length, offset: 0, entries: ENTRIES });
    assert.equal(target.calls.filter((c) => c.op === 'changes').length - before, 3, 'three pages of two');
    const human = await persistctl(['changes', '--all', ...sock]);
    assert.equal(human.code, 0);
    for (const entry of ENTRIES) assert.ok(human.stdout.includes(entry.path), human.stdout);
  });

  it('human output names the key facts', async () => {
    const status = await persistctl(['status', ...sock]);
    assert.equal(status.code, 0, status.stderr);
    for (const fact of ['staged', MOUNTPOINT, '/run/persist/lower', '/flash/upper', '1.2 MiB in 17 paths', '12s ago', 'FAILED (ENOSPC', 'FAILING', '100 MiB', '30 MiB', '70 MiB', 'mmcblk0', '1,234 write requests', 'PENDING', STATUS.warnings[0]!]) {
      assert.ok(status.stdout.includes(fact), `status shows ${fact}:\n${status.stdout}`);
    }
    const changes = await persistctl(['changes', ...sock]);
    assert.match(changes.stdout, /pending\s+modified \(flash: modified\)\s+9 B\s+\/etc\/hostname/);
    assert.match(changes.stdout, /2\.0 MiB\s+\/var\/log\/syslog/);
    assert.match(changes.stdout, /5 changes/);
    const paged = await persistctl(['changes', '--limit', '2', ...sock]);
    assert.match(paged.stdout, /1-2 of 5 \(more: --offset 2, or --all\)/);
    const diff = await persistctl(['diff', '/etc/hostname', ...sock]);
    assert.ok(diff.stdout.includes('-factory\n+appliance'), diff.stdout);
    const top = await persistctl(['top', ...sock]);
    assert.match(top.stdout, /50 MiB\s+1\.0 MiB\s+49 MiB\s+\/var\/log\/syslog/);
    const commit = await persistctl(['commit', ...sock]);
    assert.equal(commit.stdout, 'committed everything pending: 2 batches, 1.5 MiB written to the flash\n');
    const reset = await persistctl(['reset', '--yes', ...sock]);
    assert.ok(reset.stdout.includes(RESET.marker) && reset.stdout.includes(RESET.next), reset.stdout);
  });

  it('exit 1 for an error reply, with the message and the hint', async () => {
    target.behave.revert = () => Promise.reject(controlError('busy', '/data/held is open', 'close the files first'));
    try {
      const outcome = await persistctl(['revert', '/data/held', ...sock]);
      assertExit(outcome, 1, /^persistctl: \/data\/held is open\nhint: close the files first\n$/);
    } finally {
      delete target.behave.revert;
    }
    assertExit(await persistctl(['diff', '/../etc/shadow', ...sock]), 1, /'\.\.' segment/);
  });

  it('exit 2 for usage errors, before anything reaches the daemon', async () => {
    const before = target.calls.length;
    assertExit(await persistctl(['frobnicate', ...sock]), 2, /unknown verb "frobnicate"/);
    assertExit(await persistctl(['status', '--bogus', ...sock]), 2, /--bogus/);
    assertExit(await persistctl(['status', '--limit', '3', ...sock]), 2, /status takes no --limit/);
    assertExit(await persistctl(['changes', '--state', 'dirty', ...sock]), 2, /--state must be one of pending, persisted/);
    assertExit(await persistctl(['changes', '--limit', 'many', ...sock]), 2, /--limit must be a whole number/);
    assertExit(await persistctl(['diff', ...sock]), 2, /diff needs exactly one PATH/);
    assertExit(await persistctl(['revert', ...sock]), 2, /revert needs at least one PATH/);
    assert.equal(target.calls.length, before);
  });

  it('reset without --yes and without a terminal is a usage error, and resets nothing', async () => {
    const resets = target.calls.filter((c) => c.op === 'reset').length;
    assertExit(await persistctl(['reset', ...sock]), 2, /pass --yes/);
    assert.equal(target.calls.filter((c) => c.op === 'reset').length, resets);
  });

  it('no verb and no terminal: exit 2 and which subcommands to use', async () => {
    const outcome = await persistctl([...sock]);
    assert.equal(outcome.code, 2);
    assert.equal(outcome.stderr, 'persistctl: no terminal for the interactive view; use a subcommand (status, changes, diff, commit, discard, revert, reset, top) or see persistctl --help\n');
  });

  it('exit 3 when persistd is not running, naming the socket and what to do', async () => {
    const missing = join(dir, 'none', 'control.sock');
    const outcome = await persistctl(['status', '--socket', missing]);
    assertExit(outcome, 3, new RegExp(`^persistctl: persistd is not running \\(no socket at ${missing}\\): start it, or pass --socket / PERSIST_SOCKET\n$`));
    // the default socket is what is tried without --socket or PERSIST_SOCKET (none runs here)
    const fallback = await persistctl(['status'], { env: { PERSIST_SOCKET: '' } });
    if (fallback.code === 3) assert.match(fallback.stderr, /\/run\/persist\/control\.sock/);
  });

  it('PERSIST_SOCKET names the socket when --socket does not', async () => {
    assert.deepEqual(json(await persistctl(['status', '--json'], { env: { PERSIST_SOCKET: server.path } })), STATUS);
    const overridden = await persistctl(['status', '--json', '--socket', join(dir, 'none.sock')], { env: { PERSIST_SOCKET: server.path } });
    assert.equal(overridden.code, 3, '--socket wins');
  });

  it('host paths under the mountpoint, absolute or relative to the current directory, become union paths', async () => {
    const mnt = join(dir, 'mnt');
    mkdirSync(join(mnt, 'etc'), { recursive: true });
    target.behave.status = () => ({ ...STATUS, mountpoint: mnt });
    try {
      await persistctl(['diff', join(mnt, 'etc', 'hostname'), '--json', ...sock]);
      assert.deepEqual(target.last('diff'), ['/etc/hostname', 'factory']);
      await persistctl(['diff', 'hostname', '--json', ...sock], { cwd: join(mnt, 'etc') });
      assert.deepEqual(target.last('diff'), ['/etc/hostname', 'factory']);
      await persistctl(['commit', mnt, `${mnt}/etc/`, '/var/log', '--json', ...sock]);
      assert.deepEqual(target.last('commit'), [['/', '/etc', '/var/log']]);
      await persistctl(['revert', `${mnt}x/etc`, '--json', ...sock]);
      assert.deepEqual(target.last('revert'), [[`${mnt}x/etc`]], 'a sibling of the mountpoint is not under it');
      // a relative path outside the mount goes as given: the daemon refuses it as not absolute
      assertExit(await persistctl(['diff', 'etc/hostname', ...sock], { cwd: dir }), 1, /not absolute/);
    } finally {
      delete target.behave.status;
    }
    target.behave.status = () => ({ ...STATUS, mountpoint: '/' });
    try {
      await persistctl(['diff', '/etc/hostname', '--json', ...sock]);
      assert.deepEqual(target.last('diff'), ['/etc/hostname', 'factory']);
    } finally {
      delete target.behave.status;
    }
  });

  it('exit 4 when permission is denied: by the socket mode, or by the daemon\'s peer check', async () => {
    // uid 1000 may not read the checkout (it can live under /root): it runs a copy of the CLI.
    const copy = join(dir, 'cli-copy');
    mkdirSync(join(copy, 'src'), { recursive: true });
    for (const part of ['cli', 'control']) cpSync(join(repo, 'dist', 'src', part), join(copy, 'src', part), { recursive: true });
    writeFileSync(join(copy, 'package.json'), '{"type":"module"}\n');
    const entry = join(copy, 'src', 'cli', 'persistctl.js');
    const asUser = { prefix: ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups'], entry, cwd: copy };
    assertExit(await persistctl(['status', ...sock], asUser), 4, /permission denied on .*control\.sock\nhint: run as root/);
    chmodSync(server.path, 0o666); // the kernel lets uid 1000 in; SO_PEERCRED refuses it
    try {
      const outcome = await persistctl(['status', ...sock], asUser);
      assertExit(outcome, 4, /persistd refused the connection on .*: permission denied: uid 1000 is neither root nor uid 0\nhint: run persistctl as root\n$/);
    } finally {
      chmodSync(server.path, 0o600);
    }
  });

  it('commit on a terminal shows a progress line from the flush events, then the summary', async () => {
    target.behave.commit = async (paths: string[]) => {
      // the progress connection subscribed before the commit was sent
      target.emit({ event: 'flush-started', seq: 1, time: 1 });
      target.emit({ event: 'flush-progress', seq: 1, bytes: 524_288, time: 1 });
      target.emit({ event: 'flush-finished', seq: 1, bytes: 1_048_576, durationSeconds: 0.1, time: 1 });
      await new Promise((done) => setTimeout(done, 100));
      return { paths, batches: 1, bytes: 1_048_576 };
    };
    try {
      const command = [process.execPath, cli, 'commit', ...sock].map((a) => `'${a}'`).join(' ');
      const outcome = await persistctl([], { command: ['script', '-qec', command, '/dev/null'] });
      assert.equal(outcome.code, 0, outcome.stdout + outcome.stderr);
      assert.ok(outcome.stdout.includes('committing: batch 1, 512 KiB written so far'), JSON.stringify(outcome.stdout));
      assert.ok(outcome.stdout.includes('committing: 1 batch done, 1.0 MiB written'), JSON.stringify(outcome.stdout));
      assert.ok(outcome.stdout.includes('committed everything pending: 1 batch, 1.0 MiB written to the flash'), JSON.stringify(outcome.stdout));
    } finally {
      delete target.behave.commit;
    }
  });

  it('--help lists every verb, the options and the exit codes', async () => {
    const outcome = await persistctl(['--help']);
    assert.equal(outcome.code, 0);
    for (const word of ['status', 'changes', 'diff PATH', 'commit [PATH...]', 'discard [PATH...]', 'revert PATH...', 'reset [--yes]', 'top', '--json', '--socket PATH', 'PERSIST_SOCKET', '--all', '--base factory|flash']) {
      assert.ok(outcome.stdout.includes(word), `help names ${word}`);
    }
    for (const code of ['0  ok', '1  the operation failed', '2  usage', '3  persistd is not running', '4  permission denied']) assert.ok(outcome.stdout.includes(code), code);
    assert.equal((await persistctl(['commit', '--help'])).code, 0);
  });
});
