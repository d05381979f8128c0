// The operation executor: a child process (one per uid) that reads one ExecutorRequest per line on
// stdin and answers with one ExecutorResponse per line on stdout. It runs in its own process so
// that operations can run as a non-root uid and so that a hung FUSE mount blocks it, not the test.
//
// `node --test dist/` treats every .js file under a test/ directory as a test file, so this module
// does nothing unless started with --serve.

import { createInterface } from 'node:readline';
import { allXattrs, snapshotTree, userVisibleXattrs } from '../support/tree-snapshot.js';
import { executeOp } from './op-executor.js';
import type { ExecutorRequest, ExecutorResponse, OpResult } from './ops.js';

function handle(request: ExecutorRequest): OpResult {
  if (request.op.kind === 'snapshot') {
    try {
      return { ok: true, value: snapshotTree(request.root, request.op.allXattrs ? allXattrs : userVisibleXattrs) };
    } catch (error) {
      return { ok: false, code: `EXCEPTION(${error instanceof Error ? error.message : String(error)})` };
    }
  }
  return executeOp(request.root, request.op);
}

function serve(): void {
  // A fixed umask: both unions must see the same creation modes.
  process.umask(0o022);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const request = JSON.parse(line) as ExecutorRequest;
    const response: ExecutorResponse = { id: request.id, result: handle(request) };
    process.stdout.write(`${JSON.stringify(response)}\n`);
  });
}

if (process.argv[2] === '--serve') serve();
