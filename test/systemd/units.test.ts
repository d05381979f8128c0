// systemd/: the files an image builder installs for a systemd-based appliance. Checked with the
// machine's own systemd tools where they are installed (systemd-analyze verify on the units in a
// temp root, systemd-tmpfiles --create on the tmpfiles line), and the system-shutdown hook run for
// real against a fake @persistd process (a node child that records SIGUSR1) with stubs on PATH.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { findRepoRoot } from '../support/repo-root.js';
import { makeTempDir } from '../support/tempdir.js';

const systemd = join(findRepoRoot(), 'systemd');
const hook = join(systemd, 'system-shutdown', 'persist');
const UNITS = ['persist-flush.service', 'persist-button.service', 'persist-button.path'];

function which(program: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir && existsSync(join(dir, program))) return join(dir, program);
  }
  return null;
}

function writeExecutable(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/** Key=value pairs of one section of a systemd-style ini file (comments and other sections dropped). */
function section(text: string, name: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not key=value: ${line}`);
    const key = line.slice(0, eq).trim();
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return keys;
}

describe('systemd units', () => {
  const cleanup = new Cleanup();
  after(() => cleanup.runAll());

  it('systemd-analyze verify accepts them, silently, in a root with the ExecStart binaries', (t) => {
    const analyze = which('systemd-analyze');
    if (!analyze) return t.skip('systemd-analyze is not installed: the units are not verified');
    if (!existsSync('/usr/lib/systemd/system/sysinit.target')) {
      return t.skip('no /usr/lib/systemd/system/sysinit.target to verify the units against');
    }
    // A temp root: this machine's units (the targets ours order against), ours beside them, and
    // stub executables where our Exec lines point (verify checks that they exist, in the root).
    const root = makeTempDir(cleanup, 'persist-systemd-root-');
    const unitDir = join(root, 'usr/lib/systemd/system');
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', unitDir, { recursive: true, verbatimSymlinks: true });
    for (const unit of UNITS) copyFileSync(join(systemd, 'system', unit), join(unitDir, unit));
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    for (const bin of ['persistctl', 'persist-button']) writeExecutable(join(root, 'usr/bin', bin), '#!/bin/sh\nexit 0\n');
    const run = spawnSync(analyze, ['verify', '--man=no', '--generators=no', `--root=${root}`, ...UNITS], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    // verify exits 0 on unknown keys and unparsable values; it only warns. Any word about ours fails.
    const ours = run.stderr.split('\n').filter((line) => /persist/.test(line));
    assert.deepEqual(ours, [], run.stderr);
  });

  it('every unit file in systemd/system/ is one of those verified', () => {
    assert.deepEqual(readdirSync(join(systemd, 'system')).sort(), [...UNITS].sort());
  });

  it('persist-flush.service flushes on stop, before the local filesystems go, without failing the shutdown', () => {
    const text = readFileSync(join(systemd, 'system', 'persist-flush.service'), 'utf8');
    const unit = section(text, 'Unit');
    const service = section(text, 'Service');
    const words = (keys: Map<string, string[]>, key: string) => (keys.get(key) ?? []).join(' ').split(/\s+/).filter(Boolean);
    assert.deepEqual(unit.get('DefaultDependencies'), ['no']);
    assert.ok(words(unit, 'After').includes('local-fs.target'), 'After=local-fs.target: stopped before the unmounts');
    for (const target of ['sysinit.target', 'shutdown.target', 'umount.target']) assert.ok(words(unit, 'Before').includes(target), `Before=${target}`);
    assert.ok(words(unit, 'Conflicts').includes('shutdown.target'));
    assert.deepEqual(service.get('Type'), ['oneshot']);
    assert.deepEqual(service.get('RemainAfterExit'), ['yes']);
    assert.deepEqual(service.get('ExecStop'), ['-/usr/bin/persistctl commit']);
    assert.match(service.get('TimeoutStopSec')?.[0] ?? '', /^\d+/);
  });

  it('persist-button.service runs the button script with the profile and restarts on failure', () => {
    const text = readFileSync(join(systemd, 'system', 'persist-button.service'), 'utf8');
    const service = section(text, 'Service');
    assert.deepEqual(service.get('ExecStart'), ['/usr/bin/persist-button --profile /etc/persist/profile.yaml']);
    assert.deepEqual(service.get('Restart'), ['on-failure']);
    const path = section(readFileSync(join(systemd, 'system', 'persist-button.path'), 'utf8'), 'Path');
    assert.deepEqual(path.get('PathExists'), ['/run/persist/control.sock']);
    assert.deepEqual(path.get('Unit'), ['persist-button.service']);
  });
});

describe('logind drop-in', () => {
  it('leaves the reset key (KEY_RESTART) to persist-button, short and long presses', () => {
    const login = section(readFileSync(join(systemd, 'logind.conf.d', 'persist.conf'), 'utf8'), 'Login');
    assert.deepEqual(Object.fromEntries(login), { HandleRebootKey: ['ignore'], HandleRebootKeyLongPress: ['ignore'] });
  });

  it('names settings this machine\'s systemd-logind knows', (t) => {
    const logind = ['/usr/lib/systemd/systemd-logind', '/lib/systemd/systemd-logind'].find((p) => existsSync(p));
    if (!logind) return t.skip('systemd-logind is not installed: the key names are not checked against it');
    const binary = readFileSync(logind);
    for (const key of ['HandleRebootKey', 'HandleRebootKeyLongPress']) assert.ok(binary.includes(key), `${logind} does not know ${key}`);
  });
});

describe('tmpfiles.d', () => {
  const cleanup = new Cleanup();
  after(() => cleanup.runAll());

  it('systemd-tmpfiles --create makes /run/persist 0755 root:root, and fixes a wrong mode', (t) => {
    const tmpfiles = which('systemd-tmpfiles');
    if (!tmpfiles) return t.skip('systemd-tmpfiles is not installed: the tmpfiles.d line is not checked');
    const root = makeTempDir(cleanup, 'persist-tmpfiles-root-');
    mkdirSync(join(root, 'usr/lib/tmpfiles.d'), { recursive: true });
    copyFileSync(join(systemd, 'tmpfiles.d', 'persist.conf'), join(root, 'usr/lib/tmpfiles.d', 'persist.conf'));
    const create = () => spawnSync(tmpfiles, ['--create', `--root=${root}`, 'persist.conf'], { encoding: 'utf8', timeout: 30_000 });
    let run = create();
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const dir = join(root, 'run/persist');
    let st = statSync(dir);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o7777, 0o755);
    assert.equal(st.uid, 0);
    assert.equal(st.gid, 0);
    // The daemon's own directory (stage, socket) is kept, and its mode set right again.
    chmodSync(dir, 0o700);
    mkdirSync(join(dir, 'stage'));
    writeFileSync(join(dir, 'stage', 'pending'), 'x');
    run = create();
    assert.equal(run.status, 0, run.stderr);
    st = statSync(dir);
    assert.equal(st.mode & 0o7777, 0o755);
    assert.equal(readFileSync(join(dir, 'stage', 'pending'), 'utf8'), 'x');
  });
});

/**
 * A stand-in for persistd: a node process whose argv[0] (process.title) is `name`, that records
 * each SIGUSR1 in `record`, listens on `socket` if given, and on SIGUSR1 rewrites `metrics` (if
 * given) with nothing pending after `flushMs`.
 */
function startFakeDaemon(options: { name: string; record: string; socket?: string; metrics?: string; flushMs?: number }): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs'), net = require('node:net');
    const [name, record, socket, metrics, flushMs] = process.argv.slice(1);
    process.title = name;
    const pending = (n) => '# TYPE persist_pending_bytes gauge\\npersist_pending_bytes ' + n + '\\npersist_pending_paths ' + n + '\\n';
    if (metrics) fs.writeFileSync(metrics, pending(4096));
    process.on('SIGUSR1', () => {
      fs.appendFileSync(record, 'USR1\\n');
      if (metrics) setTimeout(() => { fs.writeFileSync(metrics + '.tmp', pending(0)); fs.renameSync(metrics + '.tmp', metrics); }, Number(flushMs));
    });
    process.on('SIGTERM', () => process.exit(0));
    const ready = () => process.stdout.write('ready\\n');
    if (socket) net.createServer((c) => c.end()).listen(socket, ready); else ready();
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script, options.name, options.record, options.socket ?? '', options.metrics ?? '', String(options.flushMs ?? 300)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the fake daemon exited (${code}) before it was ready`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

describe('system-shutdown/persist', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let stubs: string;
  let n = 0;
  // Names no real daemon has, one per case: the hook scans all of /proc, and other persistd
  // processes (other tests, a demo) or an earlier case's must not get this case's signals.
  let name = '';

  before(() => {
    dir = makeTempDir(cleanup, 'persist-shutdown-hook-');
    stubs = join(dir, 'bin');
    mkdirSync(stubs);
    // sync: recorded instead of syncing this machine's filesystems.
    writeExecutable(join(stubs, 'sync'), `#!/bin/sh\necho sync >>"${dir}/sync.log"\n`);
  });
  after(() => cleanup.runAll());

  function fresh(): string {
    const case_ = join(dir, `case-${++n}`);
    mkdirSync(case_);
    name = `@persistd-test-${process.pid}-${n}`;
    return case_;
  }

  async function daemon(options: Parameters<typeof startFakeDaemon>[0]): Promise<ChildProcess> {
    const child = await startFakeDaemon(options);
    cleanup.add(`kill fake daemon ${child.pid}`, () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    return child;
  }

  /** persistctl as a stub: records its arguments, then runs `body`. */
  function stubPersistctl(case_: string, body: string): string {
    const bin = join(case_, 'bin');
    mkdirSync(bin);
    writeExecutable(join(bin, 'persistctl'), `#!/bin/sh\necho "$@" >>"${case_}/persistctl.log"\n${body}\n`);
    return bin;
  }

  function runHook(env: Record<string, string>, paths: string[]): { status: number | null; stderr: string; seconds: number } {
    const started = Date.now();
    const run = spawnSync('sh', [hook, 'reboot'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: [...paths, stubs, process.env['PATH'] ?? '/usr/bin:/bin'].join(':'),
        PERSIST_DAEMON_NAME: name,
        PERSIST_SOCKET: join(dir, 'no-socket'),
        PERSIST_METRICS: join(dir, 'no-metrics'),
        ...env,
      },
    });
    return { status: run.status, stderr: run.stderr, seconds: (Date.now() - started) / 1000 };
  }

  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

  it('is an executable POSIX sh script', () => {
    assert.ok((statSync(hook).mode & 0o111) !== 0, `${hook} is not executable`);
    assert.match(readFileSync(hook, 'utf8'), /^#!\/bin\/sh\n/);
    for (const shell of ['sh', 'dash', 'bash', 'busybox']) {
      const path = which(shell);
      if (!path) continue;
      const args = shell === 'busybox' ? ['sh', '-n', hook] : shell === 'bash' ? ['--posix', '-n', hook] : ['-n', hook];
      const run = spawnSync(path, args, { encoding: 'utf8' });
      assert.equal(run.status, 0, `${shell}: ${run.stderr}`);
    }
  });

  it('with no daemon running: exits 0 at once, calls nothing', () => {
    const case_ = fresh();
    const bin = stubPersistctl(case_, 'exit 0');
    const run = runHook({ PERSIST_SOCKET: join(case_, 'control.sock') }, [bin]);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.seconds < 5, `took ${run.seconds}s`);
    assert.match(run.stderr, /no @persistd-test-\d+-\d+ process: nothing to flush/);
    assert.equal(read(join(case_, 'persistctl.log')), '');
  });

  it('signals the daemon, then waits for persistctl commit and syncs', async () => {
    const case_ = fresh();
    const record = join(case_, 'signals');
    const socket = join(case_, 'control.sock');
    await daemon({ name, record, socket });
    // The stub commit succeeds only if the daemon got its SIGUSR1 first.
    const bin = stubPersistctl(case_, `grep -q USR1 "${record}" || exit 1\nexit 0`);
    const syncsBefore = read(join(dir, 'sync.log')).split('\n').length;
    const run = runHook({ PERSIST_SOCKET: socket }, [bin]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(read(record), 'USR1\n');
    assert.equal(read(join(case_, 'persistctl.log')), `commit --socket ${socket}\n`);
    assert.match(run.stderr, /asked @persistd-test-\d+-\d+ \(pid \d+\) to flush \(SIGUSR1\)/);
    assert.match(run.stderr, /flushed: the changes are on the flash/);
    assert.equal(read(join(dir, 'sync.log')).split('\n').length, syncsBefore + 1, 'sync ran once');
  });

  it('a failed flush (persistctl commit exit 1) is exit 1, said', async () => {
    const case_ = fresh();
    const socket = join(case_, 'control.sock');
    await daemon({ name, record: join(case_, 'signals'), socket });
    const run = runHook({ PERSIST_SOCKET: socket }, [stubPersistctl(case_, 'exit 1')]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /the flush failed/);
  });

  it('a commit that hangs is given up at the bound, and killed', async () => {
    const case_ = fresh();
    const socket = join(case_, 'control.sock');
    await daemon({ name, record: join(case_, 'signals'), socket });
    const bin = stubPersistctl(case_, `echo $$ >"${case_}/persistctl.pid"\nexec sleep 600`);
    const run = runHook({ PERSIST_SOCKET: socket, PERSIST_FLUSH_WAIT: '2' }, [bin]);
    assert.equal(run.status, 1, run.stderr);
    assert.ok(run.seconds >= 1.5 && run.seconds < 8, `took ${run.seconds}s`);
    assert.match(run.stderr, /did not finish within 2s/);
    const pid = Number(read(join(case_, 'persistctl.pid')));
    assert.ok(pid > 0);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the hung persistctl was killed');
    assert.equal(read(join(case_, 'signals')), 'USR1\n');
  });

  it('persistctl unusable (node gone: exit 127): waits on the metrics file instead', async () => {
    const case_ = fresh();
    const socket = join(case_, 'control.sock');
    const metrics = join(case_, 'metrics.prom');
    const record = join(case_, 'signals');
    await daemon({ name, record, socket, metrics, flushMs: 700 });
    const started = Date.now();
    const run = runHook({ PERSIST_SOCKET: socket, PERSIST_METRICS: metrics, PERSIST_FLUSH_WAIT: '10' }, [stubPersistctl(case_, 'exit 127')]);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(Date.now() - started >= 600, 'returned before the daemon rewrote its metrics');
    assert.match(run.stderr, /persistctl commit exited 127: waiting for the signalled flush instead/);
    assert.match(run.stderr, /shows nothing pending/);
    assert.equal(read(record), 'USR1\n');
    assert.ok(!existsSync(`${metrics}.shutdown-mark`), 'the mark file is removed');
  });

  it('no socket, metrics never show the flush: gives up at the bound', async () => {
    const case_ = fresh();
    const metrics = join(case_, 'metrics.prom');
    const record = join(case_, 'signals');
    await daemon({ name, record, metrics, flushMs: 60_000 });
    const run = runHook({ PERSIST_METRICS: metrics, PERSIST_FLUSH_WAIT: '2' }, []);
    assert.equal(run.status, 1, run.stderr);
    assert.ok(run.seconds >= 1.5 && run.seconds < 8, `took ${run.seconds}s`);
    assert.match(run.stderr, /did not finish within 2s/);
    assert.equal(read(record), 'USR1\n');
  });

  it('nothing to watch: signals and waits the grace period, no longer', async () => {
    const case_ = fresh();
    const record = join(case_, 'signals');
    await daemon({ name, record });
    const run = runHook({ PERSIST_FLUSH_GRACE: '1' }, []);
    assert.match(run.stderr, /waited 1s for @persistd-test-\d+-\d+'s flush/);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.seconds >= 0.8 && run.seconds < 6, `took ${run.seconds}s`);
    assert.equal(read(record), 'USR1\n');
  });
});
