/**
 * Open files. A handle holds a real file descriptor in the layer that had the file when it was
 * opened; opening for write copies up first. A read-only handle on a lower copy follows the file
 * to the upper when something else copies it up, so every reader sees the current data.
 * Unlinked files stay readable through their handles: the descriptor keeps the object alive.
 */
import {
  closeSync,
  constants as fsc,
  fstatSync,
  fsyncSync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { statAttributes, type Attributes } from './attributes.js';
import type { Caller, OverlayContext } from './context.js';
import { fail } from './errors.js';
import { createNode } from './namespace.js';
import type { Entry } from './resolve.js';

interface Handle {
  fd: number;
  vpath: string;
  /** The descriptor is on the writable layer's copy (else it must move there before a write). */
  inTop: boolean;
  flags: number;
  /** The union's inode number, fixed at open (fstat of an unlinked file still needs it). */
  ino: number;
  /** The real file's inode, to find its stub (stubs.ts). */
  realIno: bigint;
  /** Reads cannot move the real file's atime (its layer is ro or noatime). */
  atimeFixed: boolean;
}

const O_ACCMODE = 3; // not in fs.constants

/** Flags that matter to the real open; O_CREAT/O_EXCL are handled by the union itself. */
const PASSED_FLAGS = O_ACCMODE | fsc.O_APPEND | fsc.O_SYNC | fsc.O_DSYNC | fsc.O_NONBLOCK;

export class OpenFiles {
  private readonly handles = new Map<number, Handle>();
  private nextId = 1;

  constructor(private readonly ctx: OverlayContext) {}

  open(vpath: string, flags: number): number {
    const writes = (flags & O_ACCMODE) !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0;
    let entry = this.ctx.resolver.lookup(vpath);
    if (entry.dirLayers.length > 0 && writes) fail('EISDIR', vpath);
    if (writes && !entry.layer.writable) {
      entry = this.ctx.copyUp.ensure(vpath, flags & fsc.O_TRUNC ? 0 : Infinity);
    }
    const fd = openSync(entry.real, (flags & PASSED_FLAGS) | (flags & fsc.O_TRUNC));
    return this.add(fd, vpath, entry, flags);
  }

  /** create(2) with O_CREAT: a new file owned by the caller, or the existing one without O_EXCL. */
  create(caller: Caller, vpath: string, mode: number, flags: number): number {
    if (this.ctx.resolver.tryLookup(vpath)) {
      if (flags & fsc.O_EXCL) fail('EEXIST', vpath);
      return this.open(vpath, flags);
    }
    let fd = -1;
    createNode(this.ctx, caller, vpath, fsc.S_IFREG | mode, (real) => {
      fd = openSync(real, fsc.O_CREAT | fsc.O_EXCL | (flags & PASSED_FLAGS), 0o600);
    });
    this.ctx.changes.note(vpath, 'added', 0);
    return this.add(fd, vpath, this.ctx.resolver.lookup(vpath), flags);
  }

  private add(fd: number, vpath: string, entry: Entry, flags: number): number {
    const id = this.nextId++;
    const ino = this.ctx.inodes.of(entry.layer, entry.stat);
    this.handles.set(id, { fd, vpath, inTop: entry.layer.writable, flags, ino, realIno: fstatSync(fd, { bigint: true }).ino, atimeFixed: entry.layer.atimeFixed });
    return id;
  }

  private get(id: number): Handle {
    return this.handles.get(id) ?? fail('EBADF', `no open file ${id}`);
  }

  read(id: number, buf: Buffer, length: number, position: number): number {
    const handle = this.get(id);
    const stub = this.ctx.stubs.get(handle.realIno);
    const got = stub ? this.ctx.stubs.read(stub, handle.fd, buf, 0, length, position) : readSync(handle.fd, buf, 0, length, position);
    if (!handle.atimeFixed) this.ctx.shownChanged({ kind: 'any' }); // the read may have moved the atime
    return got;
  }

  write(id: number, buf: Buffer, length: number, position: number): number {
    const handle = this.writable(id);
    // O_APPEND: the kernel's position may lag; the real file's end decides, as pwrite does.
    const stub = this.ctx.stubs.get(handle.realIno);
    const at = stub && handle.flags & fsc.O_APPEND ? stub.size : position;
    if (stub?.released) this.ctx.stubs.punchReleased(stub, handle.fd); // before: it must not punch this write
    const written = writeSync(handle.fd, buf, 0, length, at);
    if (stub) this.ctx.stubs.written(stub, at, written);
    this.ctx.changes.note(handle.vpath, 'modified', written);
    return written;
  }

  truncate(id: number, size: number): void {
    const handle = this.writable(id);
    ftruncateSync(handle.fd, size);
    const stub = this.ctx.stubs.get(handle.realIno);
    if (stub) this.ctx.stubs.truncated(stub, size);
    this.ctx.changes.note(handle.vpath, 'modified', 0);
  }

  /**
   * The handle, on the writable layer's copy. A file opened for write before the stage was
   * frozen is in the frozen snapshot, which must not change: copy it up first.
   */
  private writable(id: number): Handle {
    const handle = this.get(id);
    if (!handle.inTop) this.ctx.copyUp.ensure(handle.vpath); // followCopyUp moves the handle
    return handle;
  }

  /** The stage was frozen: every descriptor now points into a read-only snapshot. */
  stageFrozen(): void {
    for (const handle of this.handles.values()) handle.inTop = false;
  }

  fsync(id: number, dataOnly: boolean): void {
    const { fd } = this.get(id);
    if (dataOnly) fdatasyncSync(fd);
    else fsyncSync(fd);
  }

  attributes(id: number): Attributes {
    const handle = this.get(id);
    return statAttributes(fstatSync(handle.fd, { bigint: true }), handle.ino);
  }

  release(id: number): void {
    const handle = this.handles.get(id);
    if (!handle) return;
    this.handles.delete(id);
    closeSync(handle.fd);
  }

  /**
   * `vpath` was renamed (or detached) to `newV`: handles opened at it, or anywhere under it when it
   * is a directory, now reach their object through the new name. A later copy-up (after a freeze,
   * say) looks the object up by this name, so it must follow every rename of every ancestor.
   */
  renamed(vpath: string, newV: string): void {
    const under = `${vpath}/`;
    for (const handle of this.handles.values()) {
      if (handle.vpath === vpath) handle.vpath = newV;
      else if (handle.vpath.startsWith(under)) handle.vpath = newV + handle.vpath.slice(vpath.length);
    }
  }

  /** The union paths of open files at one of `roots` or under it. */
  openUnder(roots: readonly string[]): string[] {
    const found = new Set<string>();
    for (const { vpath } of this.handles.values()) {
      if (roots.some((root) => root === '/' || vpath === root || vpath.startsWith(`${root}/`))) found.add(vpath);
    }
    return [...found].sort();
  }

  /** After a copy-up of `vpath`, move read-only handles on the old lower copy to the upper. */
  followCopyUp(vpath: string, upper: Entry): void {
    for (const handle of this.handles.values()) {
      if (handle.inTop || handle.vpath !== vpath) continue;
      const fd = openSync(upper.real, handle.flags & PASSED_FLAGS);
      closeSync(handle.fd);
      handle.fd = fd;
      handle.inTop = true;
      handle.realIno = fstatSync(fd, { bigint: true }).ino;
      handle.atimeFixed = upper.layer.atimeFixed;
    }
  }

  closeAll(): void {
    for (const id of [...this.handles.keys()]) this.release(id);
  }
}
