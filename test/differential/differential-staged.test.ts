// The same random differential test against persistd in staged mode: writes land in a RAM stage
// that is frozen and flushed to the upper every 50 ms, so operations meet freezes, copy-ups out of
// frozen snapshots and flushes in progress. The final tree, and the flushed upper mounted by the
// kernel, must equal kernel overlayfs's. Seeds 101-105 unless PERSIST_DIFF_SEEDS says otherwise.

import { readConfig } from './config.js';
import { registerRandomSeeds } from './random-seeds.js';

const config = readConfig({ PERSIST_DIFF_SEEDS: '101,102,103,104,105', ...process.env, PERSIST_DIFF_TARGET: 'persistd-staged' });
registerRandomSeeds(config, 'dist/test/differential/differential-staged.test.js');
