// Guarantee 5 (no silent loss) on a full flash: a 16 MiB ext4 flash and a big stage; 24 MiB of new
// files cannot be flushed. The failed flush is reported (persist_flush_failures_total,
// persist_last_flush_success 0), nothing is lost (every file reads back intact through the mount,
// which keeps working), and no torn file reaches the upper. Once enough is deleted, a flush
// succeeds and the upper, read by kernel overlayfs, is exactly the union the mount shows.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { attachFlash, createFlashImage } from '../support/flash-image.js';
import { metric, readMetrics, waitForMetrics } from '../support/prometheus-textfile.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { snapshotTree } from '../support/tree-snapshot.js';
import { buildLower, inMount, kernelView, sameTree, StageDirs, writeSourceFiles } from './flush-fixture.js';

const FLASH_BYTES = 16 * 1024 * 1024;
const FILES = 24;
const FILE_BYTES = 1024 * 1024;
const KEEP = 4; // files kept for the flush that must succeed

describe('ENOSPC on the flash: the flush fails, nothing is lost, a later flush succeeds', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lowers: string[];
  let daemon: Persistd;
  let metricsFile: string;
  let flashRoot: string;
  const digests = new Map<string, string>();

  /** sha256 of each file under mnt/big, read by a child process. */
  const digestsThroughMount = (): Map<string, string> => {
    const out = inMount(daemon.mountpoint, 'cd big && sha256sum -- *');
    return new Map(out.trim().split('\n').map((line) => {
      const [hash, name] = line.split(/\s+/);
      return [name!, hash!];
    }));
  };

  before(async () => {
    dir = makeTempDir(cleanup);
    lowers = [buildLower(cleanup, dir, [{ path: 'etc/hostname', content: 'device\n' }, { path: 'big/README', content: 'lower file\n' }])];
    const stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '256m' }));
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: FLASH_BYTES });
    flashRoot = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash')).mountpoint;
    const sources = join(dir, 'sources');
    for (const [name, digest] of writeSourceFiles(sources, FILES, FILE_BYTES, 1000)) digests.set(name, digest);
    digests.set('README', createHash('sha256').update('lower file\n').digest('hex'));
    metricsFile = join(dir, 'metrics.prom');
    mkdirSync(join(dir, 'mnt'));
    daemon = await startPersistd(cleanup, {
      lowers,
      upper: join(flashRoot, 'upper'),
      stage: stages.next(),
      mountpoint: join(dir, 'mnt'),
      extraArgs: ['--flush-interval', '1h', '--max-dirty', '1GiB', '--min-interval', '0s', '--metrics-file', metricsFile],
    });
  });
  after(() => cleanup.runAll());

  it('accepts more new data than the flash can hold', () => {
    inMount(daemon.mountpoint, `cp '${join(dir, 'sources')}'/f* big/`);
    assert.deepEqual(digestsThroughMount(), digests);
  });

  it('reports the failed flush and keeps serving every byte', async () => {
    const before = readMetrics(metricsFile);
    const failuresBefore = before?.get('persist_flush_failures_total') ?? 0;
    daemon.signal('SIGUSR1');
    const seen = await waitForMetrics(
      metricsFile,
      (m) => (m.get('persist_flush_failures_total') ?? 0) > failuresBefore && m.get('persist_last_flush_success') === 0,
      120_000,
      'a failed flush (persist_flush_failures_total up, persist_last_flush_success 0)',
    );
    assert.ok(metric(seen, 'persist_pending_bytes') >= (FILES * FILE_BYTES) / 2, 'the unflushed files are still pending');
    assert.equal(daemon.hasExited(), false, `persistd died after ENOSPC:\n${daemon.tail()}`);
    assert.deepEqual(digestsThroughMount(), digests, 'a file changed or vanished after the failed flush');
    inMount(daemon.mountpoint, `printf 'still works\\n' > etc/after-failure && cat etc/after-failure > /dev/null && rm etc/after-failure`);
  });

  it('leaves no torn file in the upper', () => {
    const upperBig = join(flashRoot, 'upper', 'big');
    if (!existsSync(upperBig)) return;
    for (const entry of snapshotTree(upperBig)) {
      if (entry.type !== 'file') continue;
      assert.equal(entry.sha256, digests.get(entry.path), `upper/big/${entry.path} is torn (a partial file reached the upper)`);
    }
  });

  it('flushes once enough is deleted, and the upper is then exactly the union', async () => {
    const removed = [...digests.keys()].filter((name) => name.startsWith('f')).slice(KEEP);
    // Read before the deletion: a retry may succeed on its own as soon as the space is there.
    const flushesBefore = readMetrics(metricsFile)?.get('persist_flushes_total') ?? 0;
    inMount(daemon.mountpoint, `cd big && rm -- ${removed.join(' ')}`);
    daemon.signal('SIGUSR1');
    await waitForMetrics(
      metricsFile,
      (m) => m.get('persist_last_flush_success') === 1 && (m.get('persist_flushes_total') ?? 0) > flushesBefore,
      60_000,
      'a successful flush (persist_last_flush_success 1, persist_flushes_total up)',
    );
    const after = readMetrics(metricsFile)!;
    assert.equal(metric(after, 'persist_pending_bytes'), 0, 'nothing pending after the successful flush');
    for (const name of removed) digests.delete(name);
    assert.deepEqual(digestsThroughMount(), digests);
    const union = snapshotTree(daemon.mountpoint);
    const exit = await daemon.stop();
    assert.equal(exit.code, 0, `persistd should exit 0 on SIGTERM: ${JSON.stringify({ code: exit.code, signal: exit.signal })}\n${exit.output.slice(-3000)}`);
    sameTree(union, await kernelView(flashRoot, lowers, join(dir, 'kernel-view')), 'kernel overlayfs over the upper differs from the union persistd showed');
  });
});
