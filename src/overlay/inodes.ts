/**
 * Inode numbers the union shows: unique across layers (layer index in the high bits), and stable
 * across copy-up and remount. A copied-up object keeps the number it had in its lower layer: the
 * mapping from the upper inode to that number is appended to a small log in the work directory
 * (beside the upper, never inside it) and read back at the next mount.
 */
import { appendFileSync, readFileSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from './errors.js';
import type { Layer } from './layers.js';

const LAYER_SHIFT = 44n; // 2^44 inodes per layer; 2^53 / 2^44 leaves room for 512 layers
const INODE_MASK = (1n << LAYER_SHIFT) - 1n;
export const INODE_LOG = 'persist-inodes';

/** Identity of an upper inode that survives inode-number reuse: number plus birth time. */
function upperKey(stat: BigIntStats): string {
  return `${stat.ino}:${stat.birthtimeNs}`;
}

export class InodeNumbers {
  private readonly origins = new Map<string, number>();
  private readonly logPath: string;

  constructor(workDir: string) {
    this.logPath = join(workDir, INODE_LOG);
    this.load();
  }

  /** The number the union shows for an object found in `layer` with real stat `stat`. */
  of(layer: Layer, stat: BigIntStats): number {
    if (layer.writable) {
      const origin = this.origins.get(upperKey(stat));
      if (origin !== undefined) return origin;
    }
    return Number((BigInt(layer.index) << LAYER_SHIFT) | (stat.ino & INODE_MASK));
  }

  /** Called after a copy-up: the upper object keeps the lower object's number. */
  remember(upperStat: BigIntStats, shownIno: number): void {
    const key = upperKey(upperStat);
    this.origins.set(key, shownIno);
    appendFileSync(this.logPath, `${key} ${shownIno}\n`);
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const line of text.split('\n')) {
      const [key, ino] = line.split(' ');
      if (key && ino) this.origins.set(key, Number(ino));
    }
  }
}
