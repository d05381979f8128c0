/** Recovery at start: what a crash interrupted is rolled back (uncommitted) or finished (committed). */
import {
  readdirSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { isErrno } from '../../overlay/errors.js';
import { applyBatch } from './apply.js';
import type { FlashPaths } from './format.js';

export interface Recovery {
  rolledBack: number[];
  completed: number[];
  /** Highest batch number seen (new batches continue after it). */
  lastSeq: number;
}

/** Finish what a crash interrupted: drop uncommitted batches, apply committed ones. */
export async function recoverJournal(paths: FlashPaths): Promise<Recovery> {
  const recovery: Recovery = { rolledBack: [], completed: [], lastSeq: 0 };
  let names: string[];
  try {
    names = readdirSync(paths.journal);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) names = [];
    else throw err;
  }
  const seqOf = (name: string) => Number(/^batch-(\d+)/.exec(name)?.[1] ?? NaN);
  for (const name of names.filter((n) => n.endsWith('.tmp'))) {
    rmSync(join(paths.journal, name), { recursive: true, force: true });
    recovery.rolledBack.push(seqOf(name));
  }
  const committed = names.filter((n) => /^batch-\d+$/.test(n)).sort((a, b) => seqOf(a) - seqOf(b));
  for (const name of committed) {
    await applyBatch(paths, join(paths.journal, name));
    recovery.completed.push(seqOf(name));
  }
  if (recovery.rolledBack.length > 0) await native.syncfs(paths.journal);
  for (const name of [...names, ...safeList(paths.inodes)]) {
    const seq = seqOf(name);
    if (Number.isFinite(seq)) recovery.lastSeq = Math.max(recovery.lastSeq, seq);
  }
  return recovery;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
