/**
 * Copy-up: before the union changes anything that lives in a read-only layer, the object is copied
 * into the writable layer. It is built in the work directory (same filesystem as the upper) and
 * renamed into place, so the upper never holds a half-copied object. Parents are copied first.
 * Type, mode (with setuid/setgid/sticky), owner, xattrs (incl. security.capability), symlink
 * target and atime/mtime to the nanosecond are kept; the upper parent's times are restored after
 * the rename, as the kernel does.
 */
import {
  closeSync,
  linkSync,
  readdirSync,
  mkdirSync,
  openSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  constants as fsc,
  type BigIntStats,
} from 'node:fs';
import { native } from '../native/index.js';
import { lstatOrNull } from './format.js';
import type { InodeNumbers } from './inodes.js';
import { parentOf, type Layers } from './layers.js';
import type { Orphans } from './orphans.js';
import { applyMetadata, setTimes } from './metadata.js';
import { copySparse } from './sparse.js';
import { Stubs } from './stubs.js';
import type { Entry, Resolver } from './resolve.js';
import type { WorkDir } from './work-dir.js';

const S_IFMT = 0o170000;

/** Union paths of the objects in a (small, RAM) layer tree with inode `ino`. */
function namesInTree(root: string, ino: bigint): string[] {
  const found: string[] = [];
  const walk = (dirV: string): void => {
    for (const dirent of readdirSync(dirV === '/' ? root : root + dirV, { withFileTypes: true })) {
      const vpath = dirV === '/' ? `/${dirent.name}` : `${dirV}/${dirent.name}`;
      if (dirent.isDirectory()) walk(vpath);
      else if (lstatOrNull(root + vpath)?.ino === ino) found.push(vpath);
    }
  };
  walk('/');
  return found;
}

export interface CopyUpHooks {
  /** Open read-only handles on the lower copy must follow the object to the upper. */
  afterCopyUp(vpath: string, upper: Entry): void;
}

export class CopyUp {
  constructor(
    private readonly layers: Layers,
    private readonly resolver: Resolver,
    private readonly work: WorkDir,
    private readonly inodes: InodeNumbers,
    private readonly orphans: Orphans,
    private readonly stubs: Stubs,
    private readonly hooks: CopyUpHooks,
  ) {}

  /**
   * The upper entry for `vpath`, copying it up first if it lives in a read-only layer.
   * `dataBytes` limits how much file content to copy (a truncate to 0 copies none).
   */
  ensure(vpath: string, dataBytes = Infinity): Entry {
    const entry = this.resolver.lookup(vpath);
    if (entry.layer.writable) return entry;
    if (entry.orphan) return this.ensureOrphan(entry, dataBytes);
    this.ensureDir(parentOf(vpath));
    const upperPath = this.layers.topPath(vpath);
    const parentReal = this.layers.topPath(parentOf(vpath));
    const parentBefore = lstatOrNull(parentReal);
    const tmp = this.work.tempPath();
    this.build(entry, tmp, dataBytes);
    renameSync(tmp, upperPath);
    if (entry.dirLayers.length > 0) this.resolver.invalidate(); // it now comes from the upper
    if (parentBefore) setTimes(parentReal, parentBefore);
    const upper = this.resolver.lookup(vpath);
    this.inodes.remember(upper.layer, upper.stat, this.inodes.of(entry.layer, entry.stat));
    this.hooks.afterCopyUp(vpath, upper);
    this.bringLinks(entry, upper);
    return upper;
  }

  /**
   * The stage must not split hard links that the upper (or a frozen snapshot) holds: the other
   * names of a copied-up object become links to the copy. (Links inside a lower are split, as
   * kernel overlayfs does without index=on.)
   */
  private bringLinks(entry: Entry, copy: Entry): void {
    for (const name of this.visibleLinks(entry) ?? []) {
      if (name === entry.vpath) continue;
      this.ensureDir(parentOf(name));
      linkSync(copy.real, this.layers.topPath(name));
      this.hooks.afterCopyUp(name, this.resolver.lookup(name));
    }
  }

  /**
   * Build the writable layer's copy of `entry` at `tmp`. A big upper file becomes a stub (no data
   * copied, see stubs.ts); a stub in a frozen snapshot stays a stub (only its changed bytes are
   * copied) unless it was renamed since, then it is copied whole.
   */
  private build(entry: Entry, tmp: string, dataBytes: number): void {
    const frozenStub = entry.layer.kind === 'frozen' ? this.stubs.get(entry.stat.ino) : undefined;
    const upperRoot = this.layers.upper?.root;
    if (frozenStub) {
      if (upperRoot && frozenStub.origin === this.layers.real(this.layers.upper!, entry.vpath)) {
        closeSync(openSync(tmp, 'wx', 0o600));
        this.stubs.derive(frozenStub, entry.real, entry.layer, tmp);
      } else {
        const fd = openSync(entry.real, 'r');
        try {
          this.stubs.materialize(frozenStub, fd, tmp);
        } finally {
          closeSync(fd);
        }
      }
      applyMetadata(entry.real, entry.stat, tmp);
      return;
    }
    if (this.layers.top.kind === 'stage' && !entry.orphan && Stubs.eligible(entry.layer, entry.stat)) {
      closeSync(openSync(tmp, 'wx', 0o600));
      this.stubs.create(entry.real, entry.stat, tmp, entry.layer, entry.vpath, this.work.tempPath());
      applyMetadata(entry.real, entry.stat, tmp);
      return;
    }
    copyObject(entry.real, entry.stat, tmp, dataBytes);
  }

  /**
   * For a multiply linked object in the upper or a frozen snapshot (staged mode): its names the
   * union still shows (the stage may hide some). Null when that is not known: single links,
   * directories, lower layers, links the upper had before persist recorded them.
   */
  visibleLinks(entry: Entry): string[] | null {
    if (entry.stat.nlink < 2n || entry.dirLayers.length > 0 || entry.layer.writable || entry.orphan) return null;
    const { kind } = entry.layer;
    if (kind !== 'upper' && kind !== 'frozen') return null;
    const names = kind === 'upper' ? this.inodes.namesOf(entry.layer, entry.stat) : namesInTree(entry.layer.root, entry.stat.ino);
    if (names.length === 0) return null;
    return names.filter((name) => {
      try {
        const other = this.resolver.tryLookup(name);
        return other !== null && other.layer === entry.layer && other.stat.ino === entry.stat.ino;
      } catch {
        return false; // a parent is no longer a directory
      }
    });
  }

  /** An unlinked lower object that is changed through its handle is copied into the work dir. */
  private ensureOrphan(entry: Entry, dataBytes: number): Entry {
    const tmp = this.work.tempPath();
    this.build(entry, tmp, dataBytes);
    this.orphans.set(entry.vpath, { real: tmp, layer: this.layers.top });
    const upper = this.resolver.lookup(entry.vpath);
    this.inodes.remember(upper.layer, upper.stat, this.inodes.of(entry.layer, entry.stat));
    this.hooks.afterCopyUp(entry.vpath, upper);
    return upper;
  }

  /** Make sure directory `vpath` exists in the upper (copying it and its parents up). */
  ensureDir(vpath: string): Entry {
    if (vpath === '/') return this.resolver.root();
    const entry = this.resolver.lookupDir(vpath);
    return entry.layer.writable ? entry : this.ensure(vpath);
  }
}

/** Build a copy of `src` (whose lstat is `st`) at `dst`, which must not exist. */
export function copyObject(src: string, st: BigIntStats, dst: string, dataBytes = Infinity): void {
  const mode = Number(st.mode);
  switch (mode & S_IFMT) {
    case fsc.S_IFREG:
      copyFileData(src, dst, st.size, dataBytes);
      break;
    case fsc.S_IFDIR:
      mkdirSync(dst, 0o700);
      break;
    case fsc.S_IFLNK:
      symlinkSync(readlinkSync(src, { encoding: 'buffer' }), dst);
      break;
    default: // fifo, socket, character or block device
      native.mknod(dst, mode, Number(st.rdev));
  }
  applyMetadata(src, st, dst);
}

/** Only the data extents travel (holes stay holes); ftruncate sets the size. */
function copyFileData(src: string, dst: string, size: bigint, dataBytes: number): void {
  const length = Math.min(Number(size), dataBytes);
  const out = openSync(dst, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    if (length > 0) {
      const input = openSync(src, fsc.O_RDONLY);
      try {
        copySparse(input, out, length);
      } finally {
        closeSync(input);
      }
    }
  } finally {
    closeSync(out);
  }
}
