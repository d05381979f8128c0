// Per-test-file setup shared by the differential test files: a workspace directory and the lower
// layers, built before the file's tests and torn down after them (teardown failures fail the file).

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { makeTempDir } from '../support/tempdir.js';
import { prepareLowerLayers, type LowerLayers } from './layers.js';

export interface LayersFixture {
  workspace(): string;
  layers(): LowerLayers;
}

/** Call at the top level of a test file. */
export function useLowerLayers(onTeardown?: () => void): LayersFixture {
  const cleanup = new Cleanup();
  let workspace: string | undefined;
  let layers: LowerLayers | undefined;
  before(() => {
    workspace = makeTempDir(cleanup, 'persist-test-diff-');
    layers = prepareLowerLayers(cleanup, workspace);
  });
  after(async () => {
    onTeardown?.();
    const failures = await cleanup.runAll();
    assert.deepEqual(failures, [], 'teardown must leave no mount, loop device or process behind');
  });
  return {
    workspace: () => workspace ?? assert.fail('workspace used before setup'),
    layers: () => layers ?? assert.fail('layers used before setup'),
  };
}
