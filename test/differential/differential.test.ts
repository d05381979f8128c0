// Seeded random differential test: persistd against kernel overlayfs, operation by operation.
// See config.ts for the environment knobs and run-seed.ts for what one seed checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConfig } from './config.js';
import { formatDivergence, seedReproducer } from './divergence-report.js';
import { useLowerLayers } from './fixture.js';
import { OpGenerator } from './op-generator.js';
import { runSeed } from './run-seed.js';

const TEST_FILE = 'dist/test/differential/differential.test.js';
const config = readConfig();
let totalOps = 0;
const fixture = useLowerLayers(() => {
  process.stdout.write(`differential: ${totalOps} operations compared, kernel overlayfs vs ${config.target}\n`);
});

for (const seed of config.seeds) {
  test(`seed ${seed}: ${config.opsPerSeed} ops, kernel overlayfs vs ${config.target}`, { timeout: 15 * 60_000 }, async (t) => {
    const steps = new OpGenerator(seed, fixture.layers().paths).generate(config.opsPerSeed);
    const outcome = await runSeed({
      seed, steps, target: config.target, layers: fixture.layers(), workspace: fixture.workspace(), traceFile: config.traceFile,
    });
    totalOps += outcome.opsRun;
    t.diagnostic(`${outcome.opsRun} operations compared; kernel re-asked with cold caches ${outcome.coldCacheRetries} times`);
    if (outcome.divergence) assert.fail(formatDivergence(outcome.divergence, seedReproducer(outcome.divergence, TEST_FILE)));
  });
}
