// Guarantee 4 (wear), measured by persistd's own counters and checked in the upper: what is
// created and deleted between two flushes costs no flash bytes and leaves nothing in the upper
// (not even a whiteout, when no lower has the name); a whiteout is written where a lower has the
// name; a file rewritten 100 times between flushes (and a state file replaced 50 times by
// write-temp-then-rename) reaches the flash once. Also: the flash device's own counters from
// /sys/block/loopN/stat are reported when the upper sits on a block device.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { attachFlash, createFlashImage, readBlockDeviceStat, type FlashMount } from '../support/flash-image.js';
import { metric, readMetrics, waitForMetrics, type Metrics } from '../support/prometheus-textfile.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { snapshotTree } from '../support/tree-snapshot.js';
import { isWhiteout } from '../support/upper-audit.js';
import { buildLower, inMount, StageDirs } from './flush-fixture.js';

const MIB = 1024 * 1024;
const HOT_BYTES = 256 * 1024;
const HOT_REWRITES = 100;
const STATE_BYTES = 64 * 1024;
const STATE_REPLACEMENTS = 50;
/** Journal and manifest overhead a flush may add on top of the data (bytes). */
const OVERHEAD = 64 * 1024;

describe('coalescing: the flash sees the net change of a batch, once', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let flash: FlashMount;
  let daemon: Persistd;
  let metricsFile: string;
  let stageDir: string;

  const upper = (): string => join(flash.mountpoint, 'upper');
  const mnt = (): string => join(dir, 'mnt');

  /** Flushes now and returns the metrics written after that flush (and those before it). */
  const flushAndMeasure = async (): Promise<{ before: Metrics; after: Metrics }> => {
    const before = await waitForMetrics(metricsFile, () => true, 30_000, 'a metrics file');
    const flushes = metric(before, 'persist_flushes_total');
    await daemon.flushNow();
    const after = await waitForMetrics(metricsFile, (m) => (m.get('persist_flushes_total') ?? 0) > flushes, 30_000, 'persist_flushes_total up after the flush');
    return { before, after };
  };
  const delta = (m: { before: Metrics; after: Metrics }, name: string): number => metric(m.after, name) - metric(m.before, name);

  /** Runs a Node.js snippet in a child process (it writes through the mount; this process never does). */
  const nodeChild = (code: string): void => {
    run(process.execPath, ['--input-type=module', '-e', code], { timeoutMs: 300_000 });
  };

  before(async () => {
    dir = makeTempDir(cleanup);
    const lowers = [buildLower(cleanup, dir, [
      { path: 'etc/hostname', content: 'device\n' },
      { path: 'etc/lowerfile', content: 'in the lower\n' },
      { path: 'var/lib/.keep', content: '' },
    ])];
    const stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '256m' }));
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 128 * MIB });
    flash = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'));
    metricsFile = join(dir, 'metrics.prom');
    mkdirSync(mnt());
    daemon = await startPersistd(cleanup, {
      lowers,
      upper: upper(),
      stage: (stageDir = stages.next()),
      mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--max-dirty', '1GiB', '--min-interval', '0s', '--metrics-file', metricsFile],
    });
  });
  after(() => cleanup.runAll());

  it('writes nothing for files created and deleted between flushes, and no whiteout for them', async (t) => {
    inMount(mnt(), `
mkdir scratch && head -c ${MIB} /dev/urandom > scratch/big.bin && rm -rf scratch
printf 'temporary\\n' > var/lib/tmpfile && mv var/lib/tmpfile var/lib/tmpfile2 && rm var/lib/tmpfile2
printf 'marker\\n' > var/lib/marker`); // the marker makes the batch non-empty
    const m = await flushAndMeasure();
    t.diagnostic(`app ${delta(m, 'persist_app_bytes_written_total')} flash ${delta(m, 'persist_flash_bytes_written_total')} avoided ${delta(m, 'persist_bytes_avoided_total')}`);
    assert.ok(delta(m, 'persist_app_bytes_written_total') >= MIB, `app bytes should count the 1 MiB written: ${delta(m, 'persist_app_bytes_written_total')}`);
    assert.ok(delta(m, 'persist_flash_bytes_written_total') < OVERHEAD, `flash bytes for a created-and-deleted 1 MiB file: ${delta(m, 'persist_flash_bytes_written_total')}`);
    assert.ok(delta(m, 'persist_bytes_avoided_total') >= 0.9 * MIB, `bytes avoided should count the 1 MiB: ${delta(m, 'persist_bytes_avoided_total')}`);
    assert.ok(existsSync(join(upper(), 'var/lib/marker')), 'the marker reached the upper');
    const names = snapshotTree(upper()).map((entry) => entry.path);
    const leftovers = names.filter((path) => /scratch|tmpfile/.test(path));
    assert.deepEqual(leftovers, [], 'created-and-deleted names must leave nothing in the upper (no whiteout either)');
  });

  it('writes a whiteout where a lower has the name', async () => {
    inMount(mnt(), 'rm etc/lowerfile && printf x > etc/newname && rm etc/newname');
    await flushAndMeasure();
    const entries = new Map(snapshotTree(upper()).map((entry) => [entry.path, entry]));
    const whiteout = entries.get('etc/lowerfile');
    assert.ok(whiteout && isWhiteout(whiteout), `etc/lowerfile should be a whiteout in the upper, is ${JSON.stringify(whiteout)}`);
    assert.equal(entries.has('etc/newname'), false, 'no whiteout for a name no lower has');
  });

  it(`writes a file rewritten ${HOT_REWRITES} times (and one replaced ${STATE_REPLACEMENTS} times by rename) once`, async (t) => {
    nodeChild(`
import * as fs from 'node:fs';
import { join } from 'node:path';
const root = ${JSON.stringify(mnt())};
const fill = (seed, length) => { const b = Buffer.alloc(length); for (let i = 0; i < length; i += 4) b.writeUInt32LE((Math.imul(seed + 1, 2654435761) ^ Math.imul(i, 40503)) >>> 0, i); return b; };
for (let n = 0; n < ${HOT_REWRITES}; n++) fs.writeFileSync(join(root, 'var/lib/hot.bin'), fill(n, ${HOT_BYTES}));
for (let n = 0; n < ${STATE_REPLACEMENTS}; n++) {
  fs.writeFileSync(join(root, 'var/lib/state.json.tmp'), fill(1000 + n, ${STATE_BYTES}));
  fs.renameSync(join(root, 'var/lib/state.json.tmp'), join(root, 'var/lib/state.json'));
}`);
    const m = await flushAndMeasure();
    const net = HOT_BYTES + STATE_BYTES;
    const appBytes = delta(m, 'persist_app_bytes_written_total');
    const flashBytes = delta(m, 'persist_flash_bytes_written_total');
    t.diagnostic(`app ${appBytes} flash ${flashBytes} net ${net}`);
    assert.ok(appBytes >= HOT_REWRITES * HOT_BYTES + STATE_REPLACEMENTS * STATE_BYTES, `app bytes ${appBytes}`);
    assert.ok(flashBytes >= net, `flash bytes ${flashBytes} are less than the net data ${net}: not counted?`);
    assert.ok(flashBytes <= 2 * net + OVERHEAD, `flash bytes ${flashBytes} for ${net} bytes of net change (app wrote ${appBytes})`);
    // The last versions, and nothing else, are in the upper.
    const expected = (seed: number, length: number): string => {
      const buffer = Buffer.alloc(length);
      for (let i = 0; i < length; i += 4) buffer.writeUInt32LE((Math.imul(seed + 1, 2654435761) ^ Math.imul(i, 40503)) >>> 0, i);
      return createHash('sha256').update(buffer).digest('hex');
    };
    const entries = new Map(snapshotTree(join(upper(), 'var/lib')).map((entry) => [entry.path, entry]));
    assert.equal(entries.get('hot.bin')?.sha256, expected(HOT_REWRITES - 1, HOT_BYTES), 'hot.bin in the upper is its last version');
    assert.equal(entries.get('state.json')?.sha256, expected(1000 + STATE_REPLACEMENTS - 1, STATE_BYTES), 'state.json in the upper is its last version');
    assert.equal(entries.has('state.json.tmp'), false, 'no temp name (or whiteout for it) in the upper');
  });

  it('costs RAM and flash in proportion to the bytes changed for small writes into a large file', async (t) => {
    const size = 16 * MIB;
    const writes = 64;
    const block = 4096;
    nodeChild(`
import * as fs from 'node:fs';
const b = Buffer.alloc(${size}); for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
fs.writeFileSync(${JSON.stringify(join(mnt(), 'var/lib/big.db'))}, b);`);
    await flushAndMeasure(); // the file is now in the upper
    // The same seeded writes go to the mount and to a local copy that says what to expect.
    const script = (target: string) => `
import * as fs from 'node:fs';
const fd = fs.openSync(${JSON.stringify(target)}, 'r+');
let x = 12345;
for (let n = 0; n < ${writes}; n++) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  const page = x % ${size / block};
  fs.writeSync(fd, Buffer.alloc(${block}, n + 1), 0, ${block}, page * ${block});
}
fs.closeSync(fd);`;
    const expectedCopy = join(dir, 'big.db.expected');
    nodeChild(`
import * as fs from 'node:fs';
const b = Buffer.alloc(${size}); for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
fs.writeFileSync(${JSON.stringify(expectedCopy)}, b);`);
    nodeChild(script(expectedCopy));
    nodeChild(script(join(mnt(), 'var/lib/big.db')));
    const changed = writes * block;
    const stageBytes = Number(run('du', ['-s', '-B1', join(stageDir, 'top')]).split(/\s/)[0]);
    const m = await flushAndMeasure();
    const flashBytes = delta(m, 'persist_flash_bytes_written_total');
    t.diagnostic(`changed ${changed} stage RAM ${stageBytes} flash ${flashBytes}`);
    assert.ok(stageBytes <= 3 * changed + OVERHEAD, `stage RAM ${stageBytes} for ${changed} bytes changed in a ${size}-byte file`);
    assert.ok(flashBytes <= 3 * changed, `flash bytes ${flashBytes} for ${changed} bytes changed in a ${size}-byte file`);
    const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
    assert.equal(sha(join(upper(), 'var/lib/big.db')), sha(expectedCopy), 'the upper file has every change, in place');
    assert.equal(sha(join(mnt(), 'var/lib/big.db')), sha(expectedCopy), 'the union shows the same bytes');
  });

  it('reports the flash device counters from /sys/block', (t) => {
    const metrics = readMetrics(metricsFile);
    assert.ok(metrics, 'metrics file exists');
    const device = readBlockDeviceStat(flash.blockName);
    const ios = metric(metrics, 'persist_flash_device_write_ios');
    const sectors = metric(metrics, 'persist_flash_device_sectors_written');
    t.diagnostic(`metrics: ${ios} write ios, ${sectors} sectors; /sys/block/${flash.blockName}/stat: ${device.writeIos} ios, ${device.writeSectors} sectors`);
    assert.ok(ios > 0 && ios <= device.writeIos, `persist_flash_device_write_ios ${ios}, /sys/block/${flash.blockName}/stat says ${device.writeIos}`);
    assert.ok(sectors > 0 && sectors <= device.writeSectors, `persist_flash_device_sectors_written ${sectors}, /sys/block/${flash.blockName}/stat says ${device.writeSectors}`);
    // The device really received at least the flushed data.
    assert.ok(sectors * 512 >= HOT_BYTES, `only ${sectors * 512} bytes reached the device`);
  });
});
