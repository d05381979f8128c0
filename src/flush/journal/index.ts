/**
 * The flush journal: how a batch reaches the upper atomically. Beside the upper, on the same
 * filesystem (FLASH/journal):
 *
 *  1. prepare: every new object (or patch data) is built in journal/batch-SEQ.tmp/objects, the
 *     plan is written as manifest.json with the inode map, and one syncfs makes it all durable.
 *  2. commit: rename batch-SEQ.tmp → batch-SEQ, then syncfs. This rename is the commit point.
 *  3. apply: the manifest's operations, each idempotent, run against the upper; syncfs; the
 *     inode map moves to FLASH/inodes; the batch is removed (durable with the next commit: if a
 *     crash forgets it, recovery applies the batch again, which changes nothing).
 *
 * syncfs instead of an fsync per file and directory: three journal commits per flush instead of
 * dozens, which is most of what a small batch costs the flash.
 *
 * Recovery at start removes uncommitted batches (the upper was never touched by them) and applies
 * committed ones again (idempotence makes a half-applied batch whole). So after a crash at any
 * point the upper is exactly the state after the last committed batch.
 */
export { flashPaths, JOURNAL_VERSION, type FlashPaths, type Pace, type PreparedBatch } from './format.js';
export { prepareBatch } from './prepare.js';
export { applyBatch } from './apply.js';
export { recoverJournal, type Recovery } from './recover.js';
