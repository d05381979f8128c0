// The dedicated long-name check (random operations never use names over 255 bytes). squashfs
// allows 256-byte names, tmpfs 255: kernel overlayfs and persist handle the gap differently, which
// is a documented divergence (see documented-divergences.ts); everything else must agree.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConfig } from './config.js';
import { formatDivergence } from './divergence-report.js';
import { useLowerLayers } from './fixture.js';
import type { Step } from './ops.js';
import { runSeed } from './run-seed.js';

const config = readConfig();
const fixture = useLowerLayers();

const NAME_255 = 'n'.repeat(255);
const NAME_256 = 'n'.repeat(256);
const content = { length: 10, seed: 255 };

const LONG_NAME_STEPS: Step[] = [
  { uid: 0, op: { kind: 'statfsNameMax', path: '' } },
  { uid: 0, op: { kind: 'create', path: NAME_255, how: 'excl', mode: 0o644, content } },
  { uid: 0, op: { kind: 'stat', path: NAME_255 } },
  { uid: 0, op: { kind: 'create', path: NAME_256, how: 'excl', mode: 0o644, content } },
  { uid: 0, op: { kind: 'stat', path: NAME_256 } },
  { uid: 0, op: { kind: 'lstat', path: `etc/${NAME_256}` } },
  { uid: 0, op: { kind: 'mkdir', path: NAME_256, mode: 0o755 } },
  { uid: 0, op: { kind: 'rename', from: NAME_255, to: NAME_256 } },
  { uid: 0, op: { kind: 'symlink', target: NAME_256, path: 'etc/long-target' } },
  { uid: 0, op: { kind: 'readlink', path: 'etc/long-target' } },
  { uid: 1000, op: { kind: 'create', path: `tmp/${NAME_255}`, how: 'plain', mode: 0o600, content } },
  { uid: 0, op: { kind: 'readdir', path: '' } },
  { uid: 0, op: { kind: 'unlink', path: NAME_255 } },
];

test(`names of 255 and 256 bytes: kernel overlayfs vs ${config.target}`, async () => {
  // Seed 1: the squashfs (NAME_MAX 256) is the only lower, the upper is tmpfs (NAME_MAX 255).
  const outcome = await runSeed({
    seed: 1, steps: LONG_NAME_STEPS, target: config.target, layers: fixture.layers(), workspace: fixture.workspace(),
  });
  if (outcome.divergence) {
    assert.fail(formatDivergence(outcome.divergence, `PERSIST_DIFF_TARGET=${config.target} node --test dist/test/differential/name-max.test.js`));
  }
});
