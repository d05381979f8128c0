// Hand-minimized reproducers of divergences the random test found, kept as regression tests. Each
// case is a short fixed list of steps run on kernel overlayfs and the target like one seed. The
// ones persist cannot match are in documented-divergences.ts; a case fails if persist's answer
// changes to anything that list does not explain.
// Run one: node --test --test-name-pattern='<case name>' dist/test/differential/divergence-cases.test.js

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConfig } from './config.js';
import { formatDivergence } from './divergence-report.js';
import { useLowerLayers } from './fixture.js';
import type { Step } from './ops.js';
import { runSeed } from './run-seed.js';

const config = readConfig();
const fixture = useLowerLayers();

interface DivergenceCase {
  name: string;
  steps: Step[];
}

const CASES: DivergenceCase[] = [
  {
    name: 'fstat after unlinking an open file that is still in a lower layer reports the lower link count',
    steps: [{ uid: 0, op: { kind: 'openUnlinkRead', path: 'etc/secret' } }],
  },
  {
    name: 'a lower FIFO opened, unlinked, read and fstat-ed through its descriptor',
    steps: [{ uid: 0, op: { kind: 'openUnlinkRead', path: 'fifo' } }],
  },
  {
    name: 'rename between two names of one upper file succeeds without permission checks',
    steps: [
      { uid: 0, op: { kind: 'create', path: 'etc/a', how: 'excl', mode: 0o644, content: { hex: '41' } } },
      { uid: 0, op: { kind: 'link', from: 'etc/a', to: 'etc/b' } },
      { uid: 1000, op: { kind: 'rename', from: 'etc/a', to: 'etc/b' } },
    ],
  },
];

for (const [index, divergenceCase] of CASES.entries()) {
  test(divergenceCase.name, async () => {
    // Odd seeds: the squashfs is the only lower. Distinct seeds give each case its own tmpfs.
    const outcome = await runSeed({
      seed: 1001 + 2 * index, steps: divergenceCase.steps, target: config.target, layers: fixture.layers(), workspace: fixture.workspace(),
    });
    if (outcome.divergence) {
      const reproducer = `node --test --test-name-pattern='${divergenceCase.name}' dist/test/differential/divergence-cases.test.js`;
      assert.fail(formatDivergence(outcome.divergence, reproducer));
    }
  });
}
