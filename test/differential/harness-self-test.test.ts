// Proves the differential harness can fail: kernel overlayfs against a kernel overlayfs made to
// differ must be reported, with a reproducer that really reproduces. Runs against the kernel only,
// so it is meaningful (and green) whether or not persistd works.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Cleanup } from '../support/cleanup.js';
import { JsonLinesChild } from '../support/json-lines-child.js';
import { copyModuleForOtherUids } from '../support/module-copy.js';
import type { TreeEntry } from '../support/tree-snapshot.js';
import { auditUpper } from '../support/upper-audit.js';
import { formatDivergence, seedReproducer } from './divergence-report.js';
import { EXECUTOR_MODULE } from './executor-pool.js';
import { useLowerLayers } from './fixture.js';
import { OpGenerator } from './op-generator.js';
import { runSeed } from './run-seed.js';

const fixture = useLowerLayers();
const TEST_FILE = 'dist/test/differential/differential.test.js';
// With redirect_dir=on the kernel renames lower directories that redirect_dir=off refuses (EXDEV).
const DIFFERENT_FEATURES = 'redirect_dir=on,index=off,metacopy=off,xino=off';

test('an operation answered differently is reported with seed, op, both results and a reproducer', async () => {
  const seed = 1;
  const steps = new OpGenerator(seed, fixture.layers().paths).generate(2000);
  const run = { seed, target: 'kernel' as const, targetKernelFeatures: DIFFERENT_FEATURES, layers: fixture.layers(), workspace: fixture.workspace() };
  const outcome = await runSeed({ ...run, steps });
  const divergence = outcome.divergence;
  assert.ok(divergence, 'redirect_dir=on vs off must be noticed');
  assert.equal(divergence.phase, 'op');
  assert.notDeepEqual(divergence.oracleResult, divergence.targetResult);

  const message = formatDivergence(divergence, seedReproducer(divergence, TEST_FILE));
  assert.match(message, new RegExp(`seed ${seed}, op #${divergence.opsRun - 1}`));
  assert.match(message, new RegExp(`PERSIST_DIFF_TARGET=kernel PERSIST_DIFF_SEEDS=${seed} PERSIST_DIFF_OPS=${divergence.opsRun} node --test`));
  assert.match(message, /kernel: {3}\{"ok":false,"code":"EXDEV"\}/);
  assert.match(message, /last \d+ ops before it/);

  // The reproducer's op count re-runs a prefix of the same sequence and fails at the same op.
  const replay = await runSeed({ ...run, steps: new OpGenerator(seed, fixture.layers().paths).generate(divergence.opsRun) });
  assert.equal(replay.divergence?.opsRun, divergence.opsRun);
  assert.deepEqual(replay.divergence?.step, divergence.step);
});

test('a tree that differs before any operation is reported', async () => {
  const outcome = await runSeed({
    seed: 2,
    steps: [],
    target: 'kernel',
    layers: fixture.layers(),
    workspace: fixture.workspace(),
    tamperWithTargetUpper: (upper) => writeFileSync(join(upper, 'empty'), 'not empty any more\n'),
  });
  assert.equal(outcome.divergence?.phase, 'tree');
  assert.match(outcome.divergence.details.join('\n'), /differs {4}\/empty/);
});

test('the executors run as uid 1000 from a copy of their code: nothing of the checkout is read', async () => {
  // A clone under /root (mode 0700) is closed to uid 1000. Node's permission model stands in for
  // that here: the child may read its copy and nothing else, wherever the checkout is.
  const cleanup = new Cleanup();
  try {
    const code = copyModuleForOtherUids(cleanup, EXECUTOR_MODULE);
    const confined = (script: string, label: string): JsonLinesChild =>
      new JsonLinesChild(cleanup, script, ['--serve'], {
        uid: 1000, gid: 1000, cwd: code.root, label,
        nodeArgs: ['--experimental-permission', `--allow-fs-read=${code.root}/*`],
      });
    const request = { root: code.root, op: { kind: 'stat', path: 'package.json' } };
    const answer = (await confined(code.entry, 'executor copy').request(request, 30_000)) as { result: { ok: boolean } };
    assert.equal(answer.result.ok, true, JSON.stringify(answer));
    // The control: the checkout's own executor, confined the same way, cannot even start (denied by
    // the permission model, or by the directory modes when the checkout is under /root).
    const denied = /exited.*(Access to this API has been restricted|Cannot find module)/s;
    await assert.rejects(confined(fileURLToPath(EXECUTOR_MODULE), 'checkout executor').request(request, 30_000), denied);
  } finally {
    await cleanup.runAll();
  }
});

function entry(path: string, fields: Partial<TreeEntry> = {}): TreeEntry {
  return { path, type: 'file', mode: '0644', uid: 0, gid: 0, xattrs: {}, ...fields };
}

test('the upper audit flags FUSE leftovers, stray xattrs and whiteouts in opaque dirs', () => {
  const opaque = { 'trusted.overlay.opaque': Buffer.from('y').toString('hex') };
  const clean = [
    entry('', { type: 'dir' }),
    entry('d', { type: 'dir', xattrs: opaque }),
    entry('d/f', { xattrs: { 'user.a': '00', 'trusted.overlay.overlay.opaque': '79' } }),
    entry('gone', { type: 'char', rdev: '0:0' }),
  ];
  assert.deepEqual(auditUpper(clean, ['user.a', 'trusted.overlay.opaque']), []);

  const dirty = [
    ...clean,
    entry('.fuse_hidden000001'),
    entry('d/x', { xattrs: { 'trusted.persist.journal': '01' } }),
    entry('d/sub', { type: 'dir' }),
    entry('d/sub/gone', { type: 'char', rdev: '0:0' }),
  ];
  assert.deepEqual(auditUpper(dirty, ['user.a', 'trusted.overlay.opaque']), [
    'FUSE leftover /.fuse_hidden000001',
    'unexpected xattr trusted.persist.journal on /d/x',
    'whiteout /d/sub/gone inside opaque dir /d',
  ]);
});
