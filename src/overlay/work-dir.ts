/**
 * The work directory: scratch space on the upper's filesystem where new objects are built before
 * an atomic rename puts them in place. Ours live in one subdirectory so that the kernel's own use
 * of the same work dir (`work/work`, `work/index`) and ours never meet. Leftovers from a crash are
 * incomplete by definition and are removed at start.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const TEMP_DIR = 'persist-tmp';

export class WorkDir {
  private readonly dir: string;
  private counter = 0;

  constructor(readonly root: string) {
    this.dir = join(root, TEMP_DIR);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** A fresh path that nothing else uses. */
  tempPath(): string {
    return join(this.dir, `t${++this.counter}`);
  }
}

/** Direct mode: the upper-inode → shown-number map, beside the upper (see inodes.ts). */
export const INODE_LOG = 'persist-inodes';
