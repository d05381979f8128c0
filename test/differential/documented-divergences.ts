// Where persist deliberately answers differently from kernel overlayfs. Each entry says why and
// matches as narrowly as possible; a mismatch that no entry explains is a bug. Add entries only for
// decisions, never to make a failing run pass.

import type { Op, OpResult, Step } from './ops.js';

export interface DocumentedDivergence {
  id: string;
  reason: string;
  matches(step: Step, kernel: OpResult, persist: OpResult): boolean;
}

/** Longest path component of any path the operation names, in bytes. */
function longestNameBytes(op: Op): number {
  const paths = Object.entries(op)
    .filter(([key, value]) => (key === 'path' || key === 'from' || key === 'to') && typeof value === 'string')
    .map(([, value]) => value as string);
  return Math.max(0, ...paths.flatMap((path) => path.split('/').map((name) => Buffer.byteLength(name))));
}

export const DOCUMENTED_DIVERGENCES: readonly DocumentedDivergence[] = [
  {
    id: 'name-max-statfs',
    reason:
      'statfs f_namelen: persist reports the smallest NAME_MAX of its layers (255 with a tmpfs/ext4 ' +
      'upper), so every name it accepts can be stored in every layer; kernel overlayfs reports the ' +
      'largest (256 with a squashfs lower).',
    matches: (step, kernel, persist) =>
      step.op.kind === 'statfsNameMax' && kernel.ok && persist.ok && (persist.value as number) < (kernel.value as number),
  },
  {
    id: 'name-max-lookup',
    reason:
      'A name longer than the smallest NAME_MAX of the layers: persist rejects it with ENAMETOOLONG ' +
      'for every operation, lookups included; the kernel looks it up in each layer (ENOENT) and only ' +
      'fails with ENAMETOOLONG when creating it in the upper.',
    matches: (step, kernel, persist) =>
      longestNameBytes(step.op) > 255 && !persist.ok && persist.code === 'ENAMETOOLONG' && !kernel.ok,
  },
  {
    id: 'open-unlinked-nlink',
    reason:
      'fstat of an open file after its last name is unlinked: the kernel\'s FUSE client lowers the ' +
      'link count itself and does not ask again, so persist shows 0 (or one less for a lower hard ' +
      'link); kernel overlayfs shows the count of the lower file that keeps the object alive.',
    matches: (step, kernel, persist) =>
      step.op.kind === 'openUnlinkRead' && kernel.ok && persist.ok &&
      sameExcept(kernel.value, persist.value, 'nlinkAfter') &&
      field(persist.value, 'nlinkAfter') < field(kernel.value, 'nlinkAfter'),
  },
  {
    id: 'open-unlinked-special-file',
    reason:
      'A FIFO, socket or device node is opened by the kernel itself, without asking the filesystem; ' +
      'once it is unlinked, FUSE 2\'s path-based API has no name left to answer its fstat with (ENOENT).',
    matches: (step, kernel, persist) =>
      step.op.kind === 'openUnlinkRead' && kernel.ok && !persist.ok && persist.code === 'ENOENT' &&
      field(kernel.value, 'size') === 0 && (kernel.value as { unlink?: string }).unlink === 'ok',
  },
  {
    id: 'rename-between-links-of-one-file',
    reason:
      'rename(a, b) where a and b are links to one file is a no-op that the kernel allows before any ' +
      'permission check; through FUSE 2 each name is its own inode to the kernel, so it checks write ' +
      'permission on the directory first (EACCES/EPERM for a user without it).',
    matches: (step, kernel, persist) => {
      if (step.op.kind !== 'rename' || !kernel.ok || persist.ok) return false;
      if (persist.code !== 'EACCES' && persist.code !== 'EPERM') return false;
      // After a real rename the old name is gone; after the no-op both names remain, multiply linked.
      const from = (kernel.value as { from?: { ok?: boolean; value?: { nlink?: number } } }).from;
      return JSON.stringify(from ?? null).includes('"nlink"') && field(from, 'nlink', true) >= 2;
    },
  },
];

/** A numeric field of a result value, looked for at any depth when `deep`. */
function field(value: unknown, name: string, deep = false): number {
  if (typeof value !== 'object' || value === null) return NaN;
  const record = value as Record<string, unknown>;
  if (typeof record[name] === 'number') return record[name];
  if (!deep) return NaN;
  for (const inner of Object.values(record)) {
    const found = field(inner, name, true);
    if (!Number.isNaN(found)) return found;
  }
  return NaN;
}

/** True when two result values are equal apart from `name` (at any depth). */
function sameExcept(a: unknown, b: unknown, name: string): boolean {
  const strip = (v: unknown): unknown =>
    typeof v === 'object' && v !== null
      ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== name).map(([k, x]) => [k, strip(x)]))
      : v;
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

export function findDocumentedDivergence(step: Step, kernel: OpResult, persist: OpResult): DocumentedDivergence | undefined {
  return DOCUMENTED_DIVERGENCES.find((divergence) => divergence.matches(step, kernel, persist));
}
