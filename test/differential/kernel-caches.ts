// The oracle is not always self-consistent. Seen on 6.18 with index=off: after a lower file is
// copied up and hard-linked, each name can get its own overlay inode, and a chmod/chown through
// one name leaves the other's cached owner and mode stale. stat (which asks the upper) shows the
// new attributes while permission checks through the other name still use the old ones (EACCES
// where the new mode allows the access). With cold dentry and inode caches the kernel answers
// from the real attributes.
//
// The stale attributes also grant what the real ones deny (a read or even a write of a file whose
// other name was chmod'ed to 0311). Two defences, both narrow:
// - after a change to a file with several links, the runner drops the caches, so the kernel's
//   other overlay inodes for it are rebuilt from the real attributes;
// - when the two unions still disagree, the runner asks the kernel once more with cold caches
//   before calling it a divergence, if asking again is harmless: the operation only reads, or the
//   kernel refused it (a refused operation changed nothing; rm -rf can fail half way, so it is
//   never retried).

import { writeFileSync } from 'node:fs';
import type { Op, OpResult } from './ops.js';

/** Evicts unused dentries and inodes system-wide (echo 2 > /proc/sys/vm/drop_caches). */
export function dropDentryAndInodeCaches(): void {
  writeFileSync('/proc/sys/vm/drop_caches', '2');
}

const READ_ONLY_KINDS: ReadonlySet<Op['kind']> = new Set([
  'read', 'stat', 'lstat', 'readdir', 'readlink', 'access', 'getxattr', 'listxattr', 'statfsNameMax',
]);

/** True if `value` describes (anywhere inside) a non-directory with two or more links. */
function mentionsMultiplyLinkedFile(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (typeof record.nlink === 'number' && record.nlink >= 2 && record.type !== 'dir') return true;
  return Object.values(record).some(mentionsMultiplyLinkedFile);
}

export function shouldDropCachesAfter(op: Op, kernel: OpResult): boolean {
  return !READ_ONLY_KINDS.has(op.kind) && kernel.ok && mentionsMultiplyLinkedFile(kernel.value);
}

export function mayRetryWithColdCaches(op: Op, kernel: OpResult): boolean {
  return READ_ONLY_KINDS.has(op.kind) || (!kernel.ok && op.kind !== 'rmrf');
}
