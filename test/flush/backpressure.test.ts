// Guarantee 5, the stage side: the stage is a tiny tmpfs (8 MiB) and an application writes 40 MiB
// of files through the mount. No write may fail: persistd must slow the writer down while flushes
// drain the stage to the (large) flash, before anyone sees ENOSPC. --max-dirty is left at its
// default (32 MiB, more than the stage holds), so the stage filling up must trigger flushes itself.
// Afterwards every file is intact through the mount and, after the final flush, in the upper.
// Knob: PERSIST_BACKPRESSURE_MAX_DIRTY=4MiB passes --max-dirty (to tell "no backpressure" from
// "flushes only at max-dirty").

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { tryRun } from '../support/command.js';
import { attachFlash, createFlashImage } from '../support/flash-image.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { buildLower, inMount, kernelView, StageDirs, writeSourceFiles } from './flush-fixture.js';

const STAGE_SIZE = '8m';
const FILES = 40;
const FILE_BYTES = 1024 * 1024;

describe('backpressure: a writer outrunning a tiny stage is slowed down, never failed', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lowers: string[];
  let flashRoot: string;
  let daemon: Persistd;
  const digests = new Map<string, string>();

  before(async () => {
    dir = makeTempDir(cleanup);
    lowers = [buildLower(cleanup, dir, [{ path: 'etc/hostname', content: 'device\n' }, { path: 'bulk/.keep', content: '' }])];
    const stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: STAGE_SIZE }));
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 256 * 1024 * 1024 });
    flashRoot = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash')).mountpoint;
    const sources = join(dir, 'sources');
    for (const [name, digest] of writeSourceFiles(sources, FILES, FILE_BYTES, 2000)) digests.set(name, digest);
    mkdirSync(join(dir, 'mnt'));
    daemon = await startPersistd(cleanup, {
      lowers,
      upper: join(flashRoot, 'upper'),
      stage: stages.next(),
      mountpoint: join(dir, 'mnt'),
      extraArgs: [
        '--flush-interval', '2s', '--min-interval', '200ms',
        ...(process.env.PERSIST_BACKPRESSURE_MAX_DIRTY ? ['--max-dirty', process.env.PERSIST_BACKPRESSURE_MAX_DIRTY] : []),
      ],
    });
  });
  after(() => cleanup.runAll());

  it(`writes ${FILES} files of 1 MiB through an ${STAGE_SIZE} stage without a single error`, () => {
    // One cp per file, so that every failure is reported with its errno, and all are attempted.
    const script = `cd '${join(dir, 'mnt')}/bulk'
failed=0
for i in $(seq 0 ${FILES - 1}); do
  cp '${join(dir, 'sources')}'/f$i f$i || failed=$((failed + 1))
done
echo "failed=$failed"`;
    const result = tryRun('sh', ['-c', script], { timeoutMs: 600_000 });
    assert.equal(result.status, 0, `the writer did not finish: ${result.stderr}\npersistd output:\n${daemon.tail(3000)}`);
    assert.equal(result.stdout.trim(), 'failed=0', `writes failed (backpressure should have slowed them instead):\n${result.stderr.slice(0, 3000)}\npersistd output:\n${daemon.tail(3000)}`);
    assert.equal(daemon.hasExited(), false, 'persistd is still running');
  });

  it('reads every file back intact through the mount', () => {
    const out = inMount(join(dir, 'mnt'), 'cd bulk && sha256sum -- f*');
    const seen = new Map(out.trim().split('\n').map((line) => {
      const [hash, name] = line.split(/\s+/);
      return [name!, hash!] as const;
    }));
    assert.deepEqual(seen, digests);
  });

  it('has every file in the upper after the final flush (SIGTERM)', async () => {
    const exit = await daemon.stop();
    assert.equal(exit.code, 0, `persistd should exit 0 on SIGTERM: ${JSON.stringify({ code: exit.code, signal: exit.signal, forced: exit.forced })}\n${exit.output.slice(-3000)}`);
    const view = await kernelView(flashRoot, lowers, join(dir, 'kernel-view'));
    const inUpper = new Map(
      view.filter((entry) => entry.path.startsWith('bulk/f') && entry.type === 'file').map((entry) => [entry.path.slice('bulk/'.length), entry.sha256!] as const),
    );
    assert.deepEqual(inUpper, digests);
  });
});
