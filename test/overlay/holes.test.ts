// Guarantee 6: never write what the application did not; holes stay holes. Each case runs the
// same shell commands on kernel overlayfs and on persistd over the same lowers (a squashfs built
// by mksquashfs, which keeps sparse files sparse and, on this kernel, reports its holes to
// SEEK_DATA, and a plain directory on ext4), each with a fresh upper on one ext4 image. Then the
// upper files are compared: st_blocks (persist's within a few blocks of the kernel's, and never
// more than what the application or the lower file holds as data) and content (size plus every
// non-zero 4 KiB block; holes and zeros read alike). Direct mode is compared with its upper as
// the daemon left it; staged mode after a flush (SIGUSR1) to the flash, where the stage's RAM
// use and the flush's bytes are bounded the same way.
//
// Kernel overlayfs copies a lower file up in 1 MiB chunks from each data extent it finds, writing
// the zeros inside a chunk: for a lower file with small data islands it allocates more than the
// file holds. persist copies exactly the data extents; there the bound is the lower's allocation.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { native, SEEK_DATA, SEEK_HOLE } from '../../src/native/index.js';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { attachFlash, createFlashImage, type FlashMount } from '../support/flash-image.js';
import { mountKernelOverlay } from '../support/overlayfs.js';
import { startPersistd } from '../support/persistd.js';
import { buildSquashfs, mountSquashfs } from '../support/squashfs.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { inMount, patternBytes, sha256Of, StageDirs } from '../flush/flush-fixture.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const BLOCK = 4 * KIB;
/** st_blocks units (512 bytes) persist may differ by: two ext4 blocks (an extent-tree block, a tail). */
const TOLERANCE = 16;
/** Files larger than this are compared through the mounts by size, head and tail only. */
const READ_WHOLE_LIMIT = 1100 * MIB;
const LOWER_FILE_BYTES = 256 * MIB;

type Mode = 'direct' | 'staged';

interface Case {
  name: string;
  /** Files the case creates or changes, relative to the union root. */
  files: readonly string[];
  /** Files written into each upper before the mounts (the "upper already holds it" cases). */
  prepareUpper?: (upper: string) => void;
  /** A POSIX shell script run in each mount; $P is a file of 4 KiB pattern bytes. */
  script: string;
}

const sqAndPlain = (kind: string, op: string): string[] => ['sq', 'pl'].map((layer) => `${layer}-${kind}-${op}.bin`);
const lowerFilesFor = (op: string): string[] => [...sqAndPlain('hollow', op), ...sqAndPlain('islands', op)];

/** 256 MiB with 4 KiB of pattern at 0, at 100 MiB and at the end; the rest is holes. */
function writeIslands(path: string, seed: number, size = LOWER_FILE_BYTES): void {
  writeFileSync(path, '');
  truncateSync(path, size);
  const fd = openSync(path, 'r+');
  try {
    for (const [index, offset] of [0, 100 * MIB, size - BLOCK].entries()) writeSync(fd, patternBytes(seed + index, BLOCK), 0, BLOCK, offset);
  } finally {
    closeSync(fd);
  }
}

const CASES: Case[] = [
  {
    name: 'a new sparse file (dd seek=1G; two 4 KiB islands at 100 MiB and 300 MiB)',
    files: ['new-sparse', 'new-islands'],
    script: `dd if=/dev/zero of=new-sparse bs=1 count=1 seek=1G status=none
dd if="$P" of=new-islands bs=4k seek=25600 status=none
dd if="$P" of=new-islands bs=4k seek=76800 conv=notrunc status=none`,
  },
  {
    name: 'truncate -s 10G of a new file',
    files: ['new-10g'],
    script: 'truncate -s 10G new-10g',
  },
  {
    name: 'truncate -s 10G of a lower file (squashfs and plain; hollow and with data islands)',
    files: lowerFilesFor('t'),
    script: `truncate -s 10G ${lowerFilesFor('t').join(' ')}`,
  },
  {
    name: 'a write into a hole of a large upper file, and one past its end',
    files: ['big.bin'],
    prepareUpper: (upper) => writeIslands(join(upper, 'big.bin'), 500),
    script: `dd if="$P" of=big.bin bs=4k seek=32768 conv=notrunc status=none
dd if="$P" of=big.bin bs=4k seek=131072 conv=notrunc status=none`,
  },
  {
    name: 'a large upper file truncated smaller, then larger, then written (one flush interval)',
    files: ['db.bin'],
    prepareUpper: (upper) => writeFileSync(join(upper, 'db.bin'), patternBytes(600, MIB)),
    script: `truncate -s 100000 db.bin
truncate -s 4M db.bin
dd if="$P" of=db.bin bs=4k seek=512 conv=notrunc status=none`,
  },
  {
    name: 'copy-up of a sparse lower file by append',
    files: lowerFilesFor('a'),
    script: `for f in ${lowerFilesFor('a').join(' ')}; do printf x >> "$f"; done`,
  },
  {
    name: 'copy-up of a sparse lower file by chmod',
    files: lowerFilesFor('c'),
    script: `chmod 600 ${lowerFilesFor('c').join(' ')}`,
  },
];

/**
 * The content of a file, independent of how it is allocated: its size and every 4 KiB block that
 * is not all zeros, with its offset. Only data extents are read (holes are zeros).
 */
function contentFingerprint(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    hash.update(`size ${size}\n`);
    const buf = Buffer.alloc(MIB);
    const zero = Buffer.alloc(BLOCK);
    let nextBlock = 0; // blocks below this are hashed already
    for (let at = 0; at < size; ) {
      let data: number;
      let hole: number;
      try {
        data = native.lseek(fd, at, SEEK_DATA);
        hole = data < 0 ? -1 : native.lseek(fd, data, SEEK_HOLE);
      } catch {
        [data, hole] = [at, size];
      }
      if (data < 0) break;
      if (hole < 0) hole = size;
      for (let block = Math.max(nextBlock, Math.floor(data / BLOCK) * BLOCK); block < hole; ) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, hole - block), block);
        if (n === 0) break;
        for (let offset = 0; offset < n; offset += BLOCK) {
          const piece = buf.subarray(offset, Math.min(offset + BLOCK, n));
          if (!piece.equals(zero.subarray(0, piece.length))) hash.update(`${block + offset}\n`).update(piece);
        }
        block += n;
        nextBlock = Math.ceil(block / BLOCK) * BLOCK;
      }
      at = hole;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

const blocksOf = (path: string): number => lstatSync(path).blocks;

describe('holes stay holes: st_blocks of the upper against kernel overlayfs', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lowers: string[];
  let plainLower: string;
  let flash: FlashMount;
  let stages: StageDirs;
  let pattern: string;

  before(async () => {
    dir = makeTempDir(cleanup);
    const tree = join(dir, 'squashfs-tree');
    plainLower = join(dir, 'plain-lower'); // on the host's ext4, which reports holes
    mkdirSync(tree);
    mkdirSync(plainLower);
    let seed = 1;
    for (const op of ['t', 'a', 'c']) {
      for (const [layer, root] of [['sq', tree], ['pl', plainLower]] as const) {
        const hollow = join(root, `${layer}-hollow-${op}.bin`);
        writeFileSync(hollow, '');
        truncateSync(hollow, LOWER_FILE_BYTES);
        writeIslands(join(root, `${layer}-islands-${op}.bin`), (seed += 10));
      }
    }
    buildSquashfs(tree, join(dir, 'lower.sqfs')); // mksquashfs keeps sparse files sparse by default
    lowers = [mountSquashfs(cleanup, join(dir, 'lower.sqfs'), join(dir, 'lower')).mountpoint, plainLower];
    pattern = join(dir, 'pattern-4k');
    writeFileSync(pattern, patternBytes(99, BLOCK));
    createFlashImage(join(dir, 'flash.img'), { sizeBytes: 3 * GIB });
    flash = attachFlash(cleanup, join(dir, 'flash.img'), join(dir, 'flash'));
    stages = new StageDirs(mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '3g' }));
    for (const name of ['mnt-kernel', 'mnt-persist']) mkdirSync(join(dir, name));
  });
  after(() => cleanup.runAll());

  /** What the lower holds for a copied-up file (its allocation), if it comes from a lower. */
  const lowerBlocks = (file: string): number | undefined => {
    for (const root of lowers) {
      try {
        return blocksOf(join(root, file));
      } catch {
        // not in this layer
      }
    }
    return undefined;
  };

  /** The same content through both mounts: whole for files up to 1.1 GiB, else size, head and tail. */
  const sameThroughMounts = (kernelMnt: string, persistMnt: string, file: string): void => {
    const size = statSync(join(kernelMnt, file)).size;
    assert.equal(statSync(join(persistMnt, file)).size, size, `${file}: size through the mounts`);
    if (size <= READ_WHOLE_LIMIT) {
      assert.equal(sha256Of(join(persistMnt, file)), sha256Of(join(kernelMnt, file)), `${file}: content through the mounts`);
      return;
    }
    const ends = (mnt: string) => inMount(mnt, `head -c ${MIB} '${file}' | sha256sum; tail -c ${MIB} '${file}' | sha256sum`);
    assert.equal(ends(persistMnt), ends(kernelMnt), `${file}: first and last MiB through the mounts`);
  };

  /**
   * st_blocks of persist's copy against the kernel's: never more than the data (upper and stage),
   * and within TOLERANCE of the kernel's where the kernel kept the holes too (`whole`: the upper;
   * a stub in the stage holds only the changed ranges).
   */
  const checkBlocks = (t: TestContext, what: string, file: string, persistBlocks: number, kernelBlocks: number, grown: number, whole: boolean): number => {
    const source = lowerBlocks(file);
    // The kernel writes zeros when it copies up a lower file with small data islands (see top).
    const kernelWroteZeros = source !== undefined && kernelBlocks > source + grown + TOLERANCE;
    const limit = kernelWroteZeros ? source + grown : kernelBlocks;
    t.diagnostic(`${what} ${file}: persist ${persistBlocks} blocks, kernel ${kernelBlocks}${source === undefined ? '' : `, lower ${source}`}`);
    assert.ok(persistBlocks <= limit + TOLERANCE, `${what} ${file}: ${persistBlocks} blocks of 512 bytes, kernel overlayfs ${kernelBlocks}${source === undefined ? '' : `, the lower file ${source}`}`);
    if (whole && !kernelWroteZeros) assert.ok(persistBlocks >= kernelBlocks - TOLERANCE, `${what} ${file}: ${persistBlocks} blocks, fewer than the kernel's ${kernelBlocks}: data missing?`);
    return limit;
  };

  const runCase = async (t: TestContext, c: Case, mode: Mode): Promise<void> => {
    const local = new Cleanup();
    const root = join(flash.mountpoint, `${mode}-${CASES.indexOf(c)}`);
    const kernelUpper = join(root, 'kernel', 'upper');
    const persistUpper = join(root, 'persist', 'upper');
    const kernelMnt = join(dir, 'mnt-kernel');
    const persistMnt = join(dir, 'mnt-persist');
    try {
      for (const path of [kernelUpper, join(root, 'kernel', 'work'), persistUpper]) mkdirSync(path, { recursive: true });
      c.prepareUpper?.(kernelUpper);
      c.prepareUpper?.(persistUpper);
      mountKernelOverlay(local, { lowers, upper: kernelUpper, work: join(root, 'kernel', 'work') }, kernelMnt);
      let stageTop = '';
      const daemon =
        mode === 'direct'
          ? await startPersistd(local, { lowers, upper: persistUpper, work: join(root, 'persist', 'work'), mountpoint: persistMnt })
          : await startPersistd(local, {
              lowers,
              upper: persistUpper,
              stage: (stageTop = stages.next()),
              mountpoint: persistMnt,
              extraArgs: ['--flush-interval', '1h', '--min-interval', '0s', '--max-dirty', '64GiB', '--rate-limit', '4GiB/s'],
            });
      const script = `P='${pattern}'\n${c.script}`;
      inMount(kernelMnt, script);
      inMount(persistMnt, script);
      for (const file of c.files) sameThroughMounts(kernelMnt, persistMnt, file);
      run('sync', ['-f', join(kernelUpper, '.')]);
      const kernelBlocks = new Map(c.files.map((file) => [file, blocksOf(join(kernelUpper, file))]));
      const grownBy = (file: string) => (lowerBlocks(file) === undefined ? 0 : 8); // an appended byte: one ext4 block
      if (daemon.staged) {
        let limitBytes = 0;
        for (const file of c.files) {
          // The stage is RAM: it must not hold zeros either (a stub holds only the changed ranges).
          const staged = blocksOf(join(stageTop, 'top', file));
          limitBytes += 512 * checkBlocks(t, 'stage (RAM)', file, staged, kernelBlocks.get(file)!, grownBy(file), false);
        }
        const batch = await daemon.flushNow(120_000);
        t.diagnostic(`flush: ${batch.bytes} bytes to the flash`);
        assert.ok(batch.bytes <= 2 * limitBytes + MIB, `the flush wrote ${batch.bytes} bytes for at most ${limitBytes} bytes of data`);
      }
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, `persistd exit: ${JSON.stringify({ code: exit.code, signal: exit.signal })}\n${exit.output.slice(-4000)}`);
      run('sync', ['-f', join(persistUpper, '.')]);
      for (const file of c.files) {
        checkBlocks(t, `${mode} upper`, file, blocksOf(join(persistUpper, file)), kernelBlocks.get(file)!, grownBy(file), true);
        assert.equal(contentFingerprint(join(persistUpper, file)), contentFingerprint(join(kernelUpper, file)), `${file}: content of the upper files`);
      }
    } finally {
      const failures = await local.runAll();
      rmSync(root, { recursive: true, force: true });
      assert.deepEqual(failures, [], 'cleanup');
    }
  };

  for (const c of CASES) {
    it(`direct: ${c.name}`, (t) => runCase(t, c, 'direct'));
    it(`staged: ${c.name}`, (t) => runCase(t, c, 'staged'));
  }

  // A stub changed while its snapshot is being flushed is copied out of the snapshot (derived):
  // it inherits the snapshot's changes, and its own shrink and growth must still leave holes.
  it('staged: a large upper file shrunk, grown and written while its first change is being flushed', async (t) => {
    const local = new Cleanup();
    const root = join(flash.mountpoint, 'across-freeze');
    const kernelUpper = join(root, 'kernel', 'upper');
    const persistUpper = join(root, 'persist', 'upper');
    const kernelMnt = join(dir, 'mnt-kernel');
    const persistMnt = join(dir, 'mnt-persist');
    const chunk = join(dir, 'pattern-3m');
    writeFileSync(chunk, patternBytes(700, 3 * MIB));
    const first = `dd if='${chunk}' of=log.bin bs=1M conv=notrunc status=none`;
    const second = `truncate -s 100000 log.bin\ntruncate -s 8M log.bin\ndd if='${pattern}' of=log.bin bs=4k seek=1536 conv=notrunc status=none`;
    try {
      for (const path of [kernelUpper, join(root, 'kernel', 'work'), persistUpper]) mkdirSync(path, { recursive: true });
      for (const upper of [kernelUpper, persistUpper]) writeFileSync(join(upper, 'log.bin'), patternBytes(701, 4 * MIB));
      mountKernelOverlay(local, { lowers, upper: kernelUpper, work: join(root, 'kernel', 'work') }, kernelMnt);
      const stageDir = stages.next();
      const daemon = await startPersistd(local, {
        lowers,
        upper: persistUpper,
        stage: stageDir,
        mountpoint: persistMnt,
        // 3 MiB at 1 MiB/s: the first flush takes about 6 s (journal, then in place).
        extraArgs: ['--flush-interval', '1h', '--min-interval', '0s', '--max-dirty', '64GiB', '--rate-limit', '1MiB/s'],
      });
      inMount(kernelMnt, `${first}\n${second}`);
      inMount(persistMnt, first);
      const offset = daemon.output().length;
      daemon.signal('SIGUSR1');
      const deadline = Date.now() + 10_000;
      while (!readdirSync(stageDir).some((name) => name.startsWith('frozen-'))) {
        assert.ok(Date.now() < deadline, 'no frozen snapshot in the stage after SIGUSR1');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      inMount(persistMnt, second);
      assert.equal(daemon.flushedBatches().length, 0, 'the first flush was still running while the file changed');
      sameThroughMounts(kernelMnt, persistMnt, 'log.bin'); // read through the derived stub
      const batch = await daemon.waitForNextFlush(offset, 60_000);
      t.diagnostic(`first flush: ${batch.bytes} bytes`);
      sameThroughMounts(kernelMnt, persistMnt, 'log.bin');
      const staged = blocksOf(join(stageDir, 'top', 'log.bin'));
      t.diagnostic(`stage (RAM) log.bin: ${staged} blocks`);
      // It holds what it copied out of the snapshot (the first 100000 bytes) and the new block.
      const heldBlocks = Math.ceil(100000 / BLOCK) * 8 + 8;
      assert.ok(staged <= heldBlocks + TOLERANCE, `the stage holds ${staged} blocks for ${heldBlocks} blocks of data`);
      const secondBatch = await daemon.flushNow(60_000);
      t.diagnostic(`second flush: ${secondBatch.bytes} bytes`);
      assert.ok(secondBatch.bytes <= 2 * BLOCK + 64 * KIB, `the second flush wrote ${secondBatch.bytes} bytes for one 4 KiB block`);
      const exit = await daemon.stop();
      assert.equal(exit.code, 0, exit.output.slice(-4000));
      run('sync', ['-f', join(persistUpper, '.')]);
      checkBlocks(t, 'staged upper', 'log.bin', blocksOf(join(persistUpper, 'log.bin')), blocksOf(join(kernelUpper, 'log.bin')), 0, true);
      assert.equal(contentFingerprint(join(persistUpper, 'log.bin')), contentFingerprint(join(kernelUpper, 'log.bin')), 'log.bin: content of the upper files');
    } finally {
      const failures = await local.runAll();
      rmSync(root, { recursive: true, force: true });
      assert.deepEqual(failures, [], 'cleanup');
    }
  });
});
