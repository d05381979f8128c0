// One executor child per test uid, started once per seed. The test process never performs the
// operations itself: a non-root uid needs its own process, and a hung mount must only block a
// child that can be killed. The children run a copy of the executor's code (see module-copy.ts):
// uids 1000 and 1001 may not be able to read the checkout.

import type { Cleanup } from '../support/cleanup.js';
import { JsonLinesChild } from '../support/json-lines-child.js';
import { copyModuleForOtherUids } from '../support/module-copy.js';
import type { TreeEntry } from '../support/tree-snapshot.js';
import { TEST_UIDS, type ExecutorResponse, type Op, type OpResult } from './ops.js';

export const EXECUTOR_MODULE = new URL('./executor.js', import.meta.url);
const OP_TIMEOUT_MS = 30_000;
const SNAPSHOT_TIMEOUT_MS = 120_000;

export class ExecutorPool {
  private readonly executors = new Map<number, JsonLinesChild>();

  constructor(cleanup: Cleanup) {
    const code = copyModuleForOtherUids(cleanup, EXECUTOR_MODULE);
    for (const uid of TEST_UIDS) {
      const options = { uid, gid: uid, cwd: code.root, label: `executor uid ${uid}` };
      this.executors.set(uid, new JsonLinesChild(cleanup, code.entry, ['--serve'], options));
    }
  }

  async run(uid: number, root: string, op: Op): Promise<OpResult> {
    const response = (await this.executor(uid).request({ root, op }, OP_TIMEOUT_MS)) as ExecutorResponse;
    return response.result;
  }

  /** The whole tree under `root`, walked as root; trusted.* xattrs only with `allXattrs`. */
  async snapshot(root: string, allXattrs = false): Promise<TreeEntry[]> {
    const request = { root, op: { kind: 'snapshot', allXattrs } };
    const response = (await this.executor(0).request(request, SNAPSHOT_TIMEOUT_MS)) as ExecutorResponse;
    if (!response.result.ok) throw new Error(`snapshot of ${root} failed: ${response.result.code}`);
    return response.result.value as TreeEntry[];
  }

  private executor(uid: number): JsonLinesChild {
    const executor = this.executors.get(uid);
    if (!executor) throw new Error(`no executor for uid ${uid}`);
    return executor;
  }
}
