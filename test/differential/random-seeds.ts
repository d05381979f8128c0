// The random differential run shared by the test files that drive it against one target.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DifferentialConfig } from './config.js';
import { formatDivergence, seedReproducer } from './divergence-report.js';
import { useLowerLayers } from './fixture.js';
import { OpGenerator } from './op-generator.js';
import { runSeed } from './run-seed.js';

/** Registers one test per seed; `testFile` is the compiled file, for the reproducer line. */
export function registerRandomSeeds(config: DifferentialConfig, testFile: string): void {
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
      if (outcome.divergence) assert.fail(formatDivergence(outcome.divergence, seedReproducer(outcome.divergence, testFile)));
    });
  }
}
