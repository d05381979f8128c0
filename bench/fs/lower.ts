// The one lower every system serves: a zstd squashfs of a realistic tree (a copy of /usr/include
// and /usr/share/doc where the host has them, topped up with synthesized dirs to >= 24k files),
// the targets the write workloads need (synth/append, synth/mv, synth/rm) and one 256 MiB file of
// incompressible but deterministic bytes (AES-256-CTR of zeros). Also the tarball of ~10k small
// files the untar workload unpacks. Both are cached under --cache and reused by later runs.

import { createCipheriv } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../test/support/command.js';
import { mulberry32 } from '../../test/support/mulberry32.js';

/** Bump when the tree's recipe changes, so a stale cached image is not reused. */
const RECIPE = 'v1';
export const BIG_FILE = 'big.bin';
export const BIG_BYTES = 256 * 1024 * 1024;
export const TAR_SUBTREE = 'usr/include';
export const APPEND_DIR = 'synth/append';
export const APPEND_FILES = 1000;
export const MV_DIR = 'synth/mv';
export const RM_DIR = 'synth/rm';
const MIN_FILES = 24_000;

export interface LowerImage {
  image: string;
  untarTarball: string;
  /** Files (non-directories) in the tree. */
  files: number;
  imageBytes: number;
}

export function ensureLower(cacheDir: string, log: (line: string) => void): LowerImage {
  mkdirSync(cacheDir, { recursive: true });
  const image = join(cacheDir, `lower-${RECIPE}.sqfs`);
  const countFile = join(cacheDir, `lower-${RECIPE}.files`);
  const untarTarball = join(cacheDir, `untar-${RECIPE}.tar`);
  if (!existsSync(image) || !existsSync(countFile)) {
    const src = join(cacheDir, `build-${process.pid}`);
    rmSync(src, { recursive: true, force: true });
    try {
      log(`bench/fs: building the lower tree in ${src}`);
      const files = buildTree(src);
      log(`bench/fs: ${files} files; mksquashfs -comp zstd (this takes a minute)`);
      const partial = `${image}.partial`;
      rmSync(partial, { force: true });
      run('mksquashfs', [src, partial, '-comp', 'zstd', '-xattrs', '-no-progress', '-quiet'], { timeoutMs: 900_000 });
      renameSync(partial, image);
      writeFileSync(countFile, `${files}\n`);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  }
  if (!existsSync(untarTarball)) {
    const src = join(cacheDir, `untar-build-${process.pid}`);
    rmSync(src, { recursive: true, force: true });
    try {
      synthesize(join(src, 'untar'), 10_000, 50, 0x5eed_0002, 64, 6000);
      run('tar', ['cf', `${untarTarball}.partial`, '-C', src, 'untar'], { timeoutMs: 300_000 });
      renameSync(`${untarTarball}.partial`, untarTarball);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  }
  const files = Number(run('cat', [countFile]).trim());
  return { image, untarTarball, files, imageBytes: statSync(image).size };
}

/** Writes `count` files of sizes in [minSize, maxSize) over `dirs` subdirectories of `root`. */
function synthesize(root: string, count: number, dirs: number, seed: number, minSize: number, maxSize: number): number {
  const random = mulberry32(seed);
  for (let d = 0; d < dirs; d++) mkdirSync(join(root, `d${String(d).padStart(3, '0')}`), { recursive: true });
  for (let i = 0; i < count; i++) {
    const size = minSize + Math.floor(random() * (maxSize - minSize));
    const line = `file ${i} of ${root}: ${'lorem ipsum dolor sit amet '.repeat(3)}\n`;
    const body = line.repeat(Math.ceil(size / line.length)).slice(0, size);
    writeFileSync(join(root, `d${String(i % dirs).padStart(3, '0')}`, `f${i}.txt`), body);
  }
  return count;
}

function countFiles(dir: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    n += entry.isDirectory() ? countFiles(join(dir, entry.name)) : 1;
  }
  return n;
}

function buildTree(src: string): number {
  mkdirSync(join(src, 'usr/share'), { recursive: true });
  // The host's own headers and docs: real names, depths and sizes (cp -a keeps modes and links).
  for (const [from, to] of [['/usr/include', 'usr/include'], ['/usr/share/doc', 'usr/share/doc']] as const) {
    if (existsSync(from)) run('cp', ['-a', from, join(src, to)], { timeoutMs: 300_000 });
  }
  if (!existsSync(join(src, TAR_SUBTREE))) synthesize(join(src, TAR_SUBTREE), 6000, 120, 0x5eed_0003, 200, 40_000);
  let files = countFiles(src);
  synthesize(join(src, APPEND_DIR), APPEND_FILES, 10, 0x5eed_0004, 512, 4096);
  synthesize(join(src, MV_DIR), 600, 6, 0x5eed_0005, 200, 8000);
  synthesize(join(src, RM_DIR), 2000, 20, 0x5eed_0006, 200, 8000);
  files += APPEND_FILES + 600 + 2000;
  if (files < MIN_FILES) files += synthesize(join(src, 'synth/fill'), MIN_FILES - files, 100, 0x5eed_0007, 100, 12_000);
  writeBigFile(join(src, BIG_FILE));
  return files + 1;
}

function writeBigFile(path: string): void {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32), Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < BIG_BYTES; written += zeros.length) writeSync(fd, cipher.update(zeros));
  } finally {
    closeSync(fd);
  }
}
