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
  // The attribute cache (native/attr_cache.c) against the oracle: each case first gets an answer
  // cached, then changes what it shows in a way the cached path itself was not asked about.
  {
    name: 'attribute cache: a write through one hard link shows through the other, cached, name',
    steps: [
      { uid: 0, op: { kind: 'create', path: 'etc/a', how: 'excl', mode: 0o644, content: { hex: '41' } } },
      { uid: 0, op: { kind: 'link', from: 'etc/a', to: 'etc/b' } },
      { uid: 0, op: { kind: 'stat', path: 'etc/b' } },
      { uid: 0, op: { kind: 'writeAt', path: 'etc/a', offset: 4000, content: { length: 100, seed: 3 } } },
      { uid: 0, op: { kind: 'stat', path: 'etc/b' } },
      { uid: 0, op: { kind: 'chmod', path: 'etc/b', mode: 0o600 } },
      { uid: 0, op: { kind: 'stat', path: 'etc/a' } },
    ],
  },
  {
    name: 'attribute cache: a name looked up and missing, then created',
    steps: [
      { uid: 0, op: { kind: 'stat', path: 'lonly/new' } },
      { uid: 0, op: { kind: 'create', path: 'lonly/new', how: 'excl', mode: 0o644, content: { hex: '42' } } },
      { uid: 0, op: { kind: 'stat', path: 'lonly/new' } },
      { uid: 0, op: { kind: 'unlink', path: 'lonly/new' } },
      { uid: 0, op: { kind: 'stat', path: 'lonly/new' } },
    ],
  },
  {
    name: 'attribute cache: a file known to hold no xattrs gets one',
    steps: [
      { uid: 0, op: { kind: 'getxattr', path: 'lonly/x', name: 'user.a', noDereference: true } },
      { uid: 0, op: { kind: 'listxattr', path: 'lonly/x', noDereference: true } },
      { uid: 0, op: { kind: 'setxattr', path: 'lonly/x', name: 'user.a', content: { hex: '7a' }, noDereference: true } },
      { uid: 0, op: { kind: 'getxattr', path: 'lonly/x', name: 'user.a', noDereference: true } },
      { uid: 0, op: { kind: 'listxattr', path: 'lonly/x', noDereference: true } },
    ],
  },
  {
    name: 'attribute cache: lower directories copied up by a create two levels down',
    steps: [
      { uid: 0, op: { kind: 'stat', path: 'deep' } },
      { uid: 0, op: { kind: 'stat', path: 'deep/a/b' } },
      { uid: 0, op: { kind: 'create', path: 'deep/a/b/c/new', how: 'excl', mode: 0o644, content: { hex: '43' } } },
      { uid: 0, op: { kind: 'stat', path: 'deep/a/b' } },
      { uid: 0, op: { kind: 'stat', path: 'deep' } },
      { uid: 0, op: { kind: 'readdir', path: 'deep/a/b/c' } },
    ],
  },
  {
    name: 'attribute cache: a directory renamed away, its old and new names',
    steps: [
      { uid: 0, op: { kind: 'stat', path: 'lonly/sub/z' } },
      { uid: 0, op: { kind: 'rename', from: 'lonly/sub', to: 'lonly/moved' } },
      { uid: 0, op: { kind: 'stat', path: 'lonly/sub/z' } },
      { uid: 0, op: { kind: 'stat', path: 'lonly/moved/z' } },
      { uid: 0, op: { kind: 'rmrf', path: 'lonly/moved' } },
      { uid: 0, op: { kind: 'stat', path: 'lonly/moved' } },
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
