// How much data actually changed: the final tree seen through the mount, compared with the
// read-only lower. This is the floor any persistence layer has to write to keep the changes.

import { closeSync, lstatSync, openSync, readSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export interface NetChange {
  /** Regular files that are new or whose content differs from the lower. */
  changedFiles: number;
  /** Total size of those files: what must be kept to reproduce the final tree file by file. */
  changedFileBytes: number;
  /** 4 KiB blocks that differ from the lower (new files count whole), × 4096: the bytes changed. */
  changedBlockBytes: number;
  /** Names in the lower that no longer exist. */
  deleted: number;
  files: { path: string; size: number; changedBlockBytes: number; isNew: boolean }[];
}

const BLOCK = 4096;

export function measureNetChange(mountRoot: string, lowerRoot: string): NetChange {
  const result: NetChange = { changedFiles: 0, changedFileBytes: 0, changedBlockBytes: 0, deleted: 0, files: [] };
  walk('', mountRoot, lowerRoot, result);
  return result;
}

function tryLstat(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function walk(relative: string, mountRoot: string, lowerRoot: string, result: NetChange): void {
  const here = join(mountRoot, relative);
  const names = new Set(readdirSync(here));
  const lowerStat = tryLstat(join(lowerRoot, relative));
  if (lowerStat?.isDirectory()) {
    for (const name of readdirSync(join(lowerRoot, relative))) if (!names.has(name)) result.deleted++;
  }
  for (const name of [...names].sort()) {
    const path = relative === '' ? name : `${relative}/${name}`;
    const stat = lstatSync(join(mountRoot, path));
    if (stat.isDirectory()) {
      walk(path, mountRoot, lowerRoot, result);
    } else if (stat.isFile()) {
      const lower = tryLstat(join(lowerRoot, path));
      const isNew = !lower?.isFile();
      const changedBlockBytes = isNew ? roundUp(stat.size) : differingBlockBytes(join(mountRoot, path), join(lowerRoot, path));
      if (changedBlockBytes > 0 || (isNew && stat.size === 0) || (!isNew && lower!.size !== stat.size)) {
        result.changedFiles++;
        result.changedFileBytes += stat.size;
        result.changedBlockBytes += changedBlockBytes;
        result.files.push({ path, size: stat.size, changedBlockBytes, isNew });
      }
    }
  }
}

function roundUp(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** Bytes in 4 KiB blocks of `path` that differ from (or lie beyond the end of) `reference`. */
function differingBlockBytes(path: string, reference: string): number {
  const chunk = 1024 * 1024;
  const a = Buffer.alloc(chunk);
  const b = Buffer.alloc(chunk);
  const fa = openSync(path, 'r');
  const fb = openSync(reference, 'r');
  let differing = 0;
  try {
    for (let offset = 0; ; offset += chunk) {
      const na = readFully(fa, a, offset);
      const nb = readFully(fb, b, offset);
      if (na === 0) break;
      for (let block = 0; block < na; block += BLOCK) {
        const end = Math.min(block + BLOCK, na);
        if (end > nb || a.compare(b, block, end, block, end) !== 0) differing += BLOCK;
      }
      if (na < chunk) break;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
  return differing;
}

function readFully(fd: number, buffer: Buffer, position: number): number {
  let total = 0;
  while (total < buffer.length) {
    const n = readSync(fd, buffer, total, buffer.length - total, position + total);
    if (n === 0) break;
    total += n;
  }
  return total;
}
