// The control plane against a real persistd (staged mode: a squashfs lower, a stage on tmpfs, an
// ext4 flash on a loop device), through the real socket and client. What commit, discard and
// revert leave must be what kernel overlayfs shows over the resulting upper, and what the
// operator expects: a discarded path shows its last persisted version, a reverted one the factory's.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectControl } from '../../src/control/client.js';
import { ControlError, type Control, type Event } from '../../src/control/protocol.js';
import { Cleanup } from '../support/cleanup.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { snapshotTree } from '../support/tree-snapshot.js';
import { inMount, kernelView, patternBytes, prepareStagedFlash, sameTree, type StagedFlash } from '../flush/flush-fixture.js';

const LOWER = [
  { path: 'etc/hostname', content: 'factory\n' },
  { path: 'etc/app/config', content: 'a=1\nb=2\n' },
  { path: 'etc/app/extra', content: 'x' },
  { path: 'usr/share/doc/readme', content: 'doc\n' },
  { path: 'var/log/.keep', content: '' },
  { path: 'data/.keep', content: '' },
  { path: 'etc/cached', content: 'factory-cached\n' },
  { path: 'etc/shape/inside', content: 'i' },
];

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<ControlError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ControlError, `expected a ControlError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected the request to fail with ${code}`);
}

describe('control socket: a staged persistd', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  let daemon: Persistd;
  let control: Control;
  const mnt = (): string => setup.mountpoint;
  const inUpper = (path: string): string => join(setup.upper, path);
  const read = (path: string): string => readFileSync(join(mnt(), path), 'utf8');

  /** The mount equals kernel overlayfs over the lowers and the flash upper (after a full commit). */
  async function sameAsKernel(what: string): Promise<void> {
    await control.commit();
    const kernel = await kernelView(setup.flash.mountpoint, setup.lowers, join(setup.dir, 'kernel-view'));
    sameTree(kernel, snapshotTree(mnt()), what);
  }

  before(async () => {
    setup = prepareStagedFlash(cleanup, LOWER, { flashMiB: 64, stageMiB: 64 });
    daemon = await startPersistd(cleanup, {
      lowers: setup.lowers, upper: setup.upper, stage: setup.stages.next(), mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '0'],
    });
    control = await connectControl(await daemon.controlReady());
    cleanup.add('close the control client', () => control.close());
  });
  after(() => cleanup.runAll());

  it('status names the mode, the layers and the flash health', async () => {
    const status = await control.status();
    assert.equal(status.mode, 'staged');
    assert.equal(status.layers.upper, setup.upper);
    assert.deepEqual(status.layers.lowers, setup.lowers);
    assert.ok(status.flash, 'staged mode has flash health');
    assert.equal(status.flash.pendingBytes, 0);
    assert.equal(status.resetPending, false);
  });

  it('changes lists pending changes by kind, filtered and paged', async () => {
    inMount(mnt(), 'printf changed > etc/hostname; printf n > etc/new; rm usr/share/doc/readme; chmod 600 etc/app/extra');
    const all = await control.changes({ state: 'pending' });
    const byPath = new Map(all.entries.map((e) => [e.path, e.kind]));
    assert.equal(byPath.get('/etc/hostname'), 'modified');
    assert.equal(byPath.get('/etc/new'), 'added');
    assert.equal(byPath.get('/usr/share/doc/readme'), 'deleted');
    assert.equal(byPath.get('/etc/app/extra'), 'metadata');
    assert.ok(all.entries.every((e) => e.state === 'pending'));
    const etc = await control.changes({ prefix: '/etc' });
    assert.deepEqual(etc.entries.map((e) => e.path), ['/etc/app/extra', '/etc/hostname', '/etc/new']);
    const added = await control.changes({ kinds: ['added'] });
    assert.deepEqual(added.entries.map((e) => e.path), ['/etc/new']);
    const page = await control.changes({ prefix: '/etc', offset: 1, limit: 1 });
    assert.equal(page.total, 3);
    assert.deepEqual(page.entries.map((e) => e.path), ['/etc/hostname']);
  });

  it('commit of one path flushes just it; the rest stays pending', async () => {
    const result = await control.commit(['/etc/hostname']);
    assert.equal(result.batches, 1);
    assert.equal(readFileSync(inUpper('etc/hostname'), 'utf8'), 'changed');
    assert.equal(existsSync(inUpper('etc/new')), false, 'an uncommitted file reached the flash');
    const changes = await control.changes();
    const states = new Map(changes.entries.map((e) => [e.path, e.state]));
    assert.equal(states.get('/etc/hostname'), 'persisted');
    assert.equal(states.get('/etc/new'), 'pending');
    assert.equal(states.get('/usr/share/doc/readme'), 'pending');
    assert.equal(read('etc/new'), 'n', 'the pending file is still shown');
  });

  it('discard drops pending changes: the mount shows the persisted version again', async () => {
    inMount(mnt(), 'printf again > etc/hostname');
    const result = await control.discard(['/etc/new', '/usr/share/doc/readme', '/etc/hostname']);
    assert.deepEqual(result.discarded, ['/etc/hostname', '/etc/new', '/usr/share/doc/readme']);
    assert.equal(existsSync(join(mnt(), 'etc/new')), false);
    assert.equal(read('usr/share/doc/readme'), 'doc\n');
    assert.equal(read('etc/hostname'), 'changed', 'not the last persisted version');
    await sameAsKernel('after discard and a full commit, the mount differs from kernel overlayfs over the upper');
  });

  it('diff shows a unified diff against the factory or the flash version', async () => {
    inMount(mnt(), 'printf "a=1\\nb=3\\n" > etc/app/config');
    const factory = await control.diff('/etc/app/config');
    assert.equal(factory.format, 'text');
    assert.match(factory.unified!, /^-b=2$/m);
    assert.match(factory.unified!, /^\+b=3$/m);
    const flash = await control.diff('/etc/hostname', 'flash');
    assert.equal(flash.format, 'text');
    assert.equal(flash.unified, '', 'the current version is the persisted one');
    const vsFactory = await control.diff('/etc/hostname');
    assert.match(vsFactory.unified!, /^-factory$/m);
    const bytes = Buffer.from([0, 1, 2, 3, 0, 255]);
    inMount(mnt(), "printf '\\000\\001\\002\\003\\000\\377' > data/blob");
    const binary = await control.diff('/data/blob');
    assert.equal(binary.format, 'binary');
    assert.equal(binary.old, null);
    assert.equal(binary.new?.size, bytes.length);
    assert.equal(binary.new?.sha256, sha256(bytes));
    await rejectsWith(control.diff('/no/such/file'), 'not-found');
  });

  it('revert takes persisted and pending changes back to the factory version, in one batch', async () => {
    inMount(mnt(), 'rm usr/share/doc/readme; rm -rf etc/app; mkdir etc/app; printf z > etc/app/config; printf new > data/added');
    await control.commit();
    assert.ok(lstatSync(inUpper('usr/share/doc/readme')).isCharacterDevice(), 'the deletion is on the flash as a whiteout');
    inMount(mnt(), 'printf pending > etc/app/pending; printf again > etc/hostname');
    const before = daemon.output().length;
    const result = await control.revert(['/etc/hostname', '/usr/share/doc/readme', '/etc/app', '/data/added']);
    assert.deepEqual(result.reverted.filter((p) => !p.startsWith('/etc/app/')), ['/data/added', '/etc/app', '/etc/hostname', '/usr/share/doc/readme']);
    assert.match(daemon.output().slice(before), /applied batch \d+ \(a revert\)/);
    assert.equal(read('etc/hostname'), 'factory\n');
    assert.equal(read('usr/share/doc/readme'), 'doc\n');
    assert.equal(read('etc/app/config'), 'a=1\nb=2\n');
    assert.equal(read('etc/app/extra'), 'x');
    assert.equal(existsSync(join(mnt(), 'etc/app/pending')), false);
    assert.equal(existsSync(join(mnt(), 'data/added')), false);
    for (const path of ['etc/hostname', 'usr/share/doc/readme', 'etc/app', 'data/added']) {
      assert.equal(existsSync(inUpper(path)), false, `the upper still holds ${path}`);
    }
    await sameAsKernel('after revert, the mount differs from kernel overlayfs over the upper');
  });

  it('a reader that had the file cached sees the discarded and the reverted content', async () => {
    // Same size and mtime as the cached pages: auto_cache alone would keep them; the daemon must
    // tell the kernel (notify_inval_inode) that the file changed under it.
    const path = join(mnt(), 'etc/cached');
    const { atime, mtime } = statSync(path);
    const changeKeepingStat = (content: string) => {
      writeFileSync(path, content);
      utimesSync(path, atime, mtime);
      assert.equal(readFileSync(path, 'utf8'), content, 'the reader caches the changed pages');
    };
    changeKeepingStat('FACTORY-CACHED\n');
    await control.discard(['/etc/cached']);
    assert.equal(readFileSync(path, 'utf8'), 'factory-cached\n', 'after discard a reader still saw the old cached content');
    changeKeepingStat('PERSIST-CACHED\n');
    await control.commit(['/etc/cached']);
    assert.equal(readFileSync(path, 'utf8'), 'PERSIST-CACHED\n');
    await control.revert(['/etc/cached']);
    assert.equal(readFileSync(path, 'utf8'), 'factory-cached\n', 'after revert a reader still saw the old cached content');
  });

  it('a path whose type changed reads as its old type at once after revert (no stale entry)', async () => {
    const path = join(mnt(), 'etc/shape');
    inMount(mnt(), 'rm -rf etc/shape; printf file > etc/shape');
    assert.ok(lstatSync(path).isFile());
    await control.revert(['/etc/shape']);
    assert.ok(lstatSync(path).isDirectory(), 'the cached entry still said "file"');
    assert.equal(readFileSync(join(path, 'inside'), 'utf8'), 'i');
    inMount(mnt(), 'rm -rf etc/shape; printf file > etc/shape');
    assert.ok(lstatSync(path).isFile());
    await control.discard(['/etc/shape']);
    assert.ok(lstatSync(path).isDirectory(), 'the cached entry still said "file" after discard');
  });

  it('discard and revert refuse a path with open files, and say so', async () => {
    inMount(mnt(), 'printf held > data/held');
    const holder = spawn('sh', ['-c', `exec 3>>'${join(mnt(), 'data/held')}'; echo ready; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanup.add('stop the holder', () => void holder.kill('SIGKILL'));
    await new Promise((ready) => holder.stdout!.once('data', ready));
    const busy = await rejectsWith(control.discard(['/data']), 'busy');
    assert.match(busy.message, /\/data\/held/);
    await rejectsWith(control.revert(['/data/held']), 'busy');
    assert.equal(read('data/held'), 'held', 'a refused discard changed something');
    holder.kill('SIGKILL');
    await new Promise((done) => holder.once('exit', done));
    await new Promise((settle) => setTimeout(settle, 200)); // the kernel's release reaches persistd
    assert.deepEqual((await control.discard(['/data/held'])).discarded, ['/data/held']);
    assert.equal(existsSync(join(mnt(), 'data/held')), false);
  });

  it('a large file patched and discarded reads as its persisted version; a partial commit keeps its stub', async () => {
    const big = patternBytes(7, 256 * 1024);
    writeFileSync(join(mnt(), 'data/big'), big); // through the mount (this process serves nothing)
    await control.commit(['/data/big']);
    inMount(mnt(), 'printf PATCH | dd of=data/big bs=1 seek=4096 conv=notrunc status=none');
    await control.discard(['/data/big']);
    assert.equal(sha256(readFileSync(join(mnt(), 'data/big'))), sha256(big), 'the discarded patch still shows');
    inMount(mnt(), 'printf PATCH | dd of=data/big bs=1 seek=8192 conv=notrunc status=none; printf other > data/other');
    await control.commit(['/data/other']);
    const patched = Buffer.from(big);
    patched.write('PATCH', 8192);
    assert.equal(sha256(readFileSync(join(mnt(), 'data/big'))), sha256(patched), 'a partial commit of another path changed the stub');
    await control.commit(['/data/big']);
    assert.equal(sha256(readFileSync(inUpper('data/big'))), sha256(patched));
  });

  it('a file open for writing across a partial commit keeps every write', async () => {
    const writer = spawn('sh', ['-c', `exec 3>>'${join(mnt(), 'var/log/app.log')}'; echo one >&3; echo ready; read x; echo two >&3`], { stdio: ['pipe', 'pipe', 'ignore'] });
    cleanup.add('stop the writer', () => void writer.kill('SIGKILL'));
    await new Promise((ready) => writer.stdout!.once('data', ready));
    inMount(mnt(), 'printf c > etc/committed');
    await control.commit(['/etc/committed']);
    writer.stdin!.end('go\n');
    await new Promise((done) => writer.once('exit', done));
    assert.equal(read('var/log/app.log'), 'one\ntwo\n');
    await control.commit();
    assert.equal(readFileSync(inUpper('var/log/app.log'), 'utf8'), 'one\ntwo\n');
  });

  it('top ranks the paths that wrote most, by directory depth too', async () => {
    inMount(mnt(), 'for i in $(seq 1 50); do head -c 20000 /dev/zero > var/log/churn; done; printf small > etc/small');
    await control.commit();
    const top = await control.top({ limit: 3 });
    assert.equal(top.entries[0]!.path, '/var/log/churn');
    assert.ok(top.entries[0]!.written >= 1_000_000, `written ${top.entries[0]!.written}`);
    assert.ok(top.entries[0]!.flushed < top.entries[0]!.written, 'rewrites were not avoided');
    assert.equal(top.entries[0]!.avoided, top.entries[0]!.written - top.entries[0]!.flushed);
    const byDir = await control.top({ depth: 1, limit: 10 });
    assert.ok(byDir.entries.some((e) => e.path === '/var' && e.written >= 1_000_000));
    assert.ok(byDir.totals.written >= top.entries[0]!.written);
  });

  it('subscribers get changed paths and flush events', async () => {
    const events: Event[] = [];
    const listener = await connectControl(daemon.socketPath!);
    cleanup.add('close the listener', () => listener.close());
    await listener.subscribe((event) => events.push(event));
    inMount(mnt(), 'printf e > etc/evented');
    const deadline = Date.now() + 5_000;
    while (!events.some((e) => e.event === 'changed' && e.paths.includes('/etc/evented')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(events.some((e) => e.event === 'changed' && e.paths.includes('/etc/evented')), JSON.stringify(events));
    await control.commit();
    await new Promise((r) => setTimeout(r, 100));
    const started = events.find((e) => e.event === 'flush-started');
    const finished = events.find((e) => e.event === 'flush-finished');
    assert.ok(started && finished, JSON.stringify(events));
    assert.equal(started.seq, finished.seq);
  });

  it('paths outside the union and unknown paths get clear errors', async () => {
    await rejectsWith(control.diff('../../etc/shadow'), 'bad-path');
    await rejectsWith(control.discard(['/etc/../../shadow']), 'bad-path');
    await rejectsWith(control.revert(['/no/such/thing']), 'not-found');
    await rejectsWith(control.commit(['/no/such/thing']), 'not-found');
  });

  it('reset schedules a factory reset: a durable marker beside the upper', async () => {
    const result = await control.reset();
    assert.equal(result.marker, join(setup.flash.mountpoint, 'reset-pending'));
    assert.equal(JSON.parse(readFileSync(result.marker, 'utf8')).phase, 'scheduled');
    const status = await control.status();
    assert.equal(status.resetPending, true);
    assert.ok(status.warnings.some((w) => /factory reset/.test(w)));
  });
});

describe('control socket: volatile and direct persistd', () => {
  const cleanup = new Cleanup();
  after(() => cleanup.runAll());
  let setup: StagedFlash;
  before(() => {
    setup = prepareStagedFlash(cleanup, LOWER, { flashMiB: 16, stageMiB: 16 });
  });

  it('volatile: revert and discard go back to the factory version; commit and reset say why not', async () => {
    const daemon = await startPersistd(cleanup, { lowers: setup.lowers, stage: setup.stages.next(), mountpoint: setup.mountpoint });
    const control = await connectControl(await daemon.controlReady());
    try {
      inMount(setup.mountpoint, 'printf v > etc/hostname; printf n > etc/new');
      assert.equal((await control.status()).mode, 'volatile');
      assert.deepEqual((await control.revert(['/etc/hostname'])).reverted, ['/etc/hostname']);
      assert.equal(readFileSync(join(setup.mountpoint, 'etc/hostname'), 'utf8'), 'factory\n');
      await control.discard();
      assert.equal(existsSync(join(setup.mountpoint, 'etc/new')), false);
      await rejectsWith(control.commit(), 'unsupported');
      await rejectsWith(control.reset(), 'unsupported');
    } finally {
      control.close();
      await daemon.stop();
    }
  });

  it('direct: changes lists what the upper holds; discard says there is no stage', async () => {
    const upper = join(setup.dir, 'direct-upper');
    const daemon = await startPersistd(cleanup, { lowers: setup.lowers, upper, mountpoint: setup.mountpoint });
    const control = await connectControl(await daemon.controlReady());
    try {
      inMount(setup.mountpoint, 'printf d > etc/hostname; rm etc/app/extra');
      const changes = await control.changes();
      assert.deepEqual(changes.entries.map((e) => [e.path, e.kind, e.state]), [
        ['/etc/app/extra', 'deleted', 'persisted'],
        ['/etc/hostname', 'modified', 'persisted'],
      ]);
      await rejectsWith(control.discard(['/etc/hostname']), 'unsupported');
      assert.equal((await control.top()).entries[0]?.path, '/etc/hostname');
    } finally {
      control.close();
      await daemon.stop();
    }
  });
});
