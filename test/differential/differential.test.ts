// Seeded random differential test: persistd against kernel overlayfs, operation by operation.
// See config.ts for the environment knobs and run-seed.ts for what one seed checks.

import { readConfig } from './config.js';
import { registerRandomSeeds } from './random-seeds.js';

registerRandomSeeds(readConfig(), 'dist/test/differential/differential.test.js');
