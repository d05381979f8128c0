/**
 * Stubs: how a small write into a large file costs RAM and flash in proportion to the bytes
 * changed (staged mode). Copying an upper file into the stage creates a sparse stage file of the
 * same size and a Stub that records which byte ranges the stage holds (present) and which changed
 * (dirty); every other byte is read from the upper file. A flush then writes only the dirty ranges
 * into the upper file in place, through the journal (see flush/journal.ts, the 'patch' operation).
 *
 * Stubs live in memory, keyed by the stage file's inode (stable across renames and freezes).
 * A stub copied out of a frozen snapshot keeps the snapshot's changes as present bytes, dirty
 * only until that snapshot reaches the flash ("inherited").
 *
 * A stub lives as long as its stage file: it belongs to the live stage, then to the snapshot that
 * froze it, and goes when that snapshot has been flushed. When a snapshot a stub inherited from
 * reaches the flash, the upper file holds those bytes again: the stub stops keeping them (they are
 * punched out of the stage file at its next write), so a file written across many freezes costs
 * RAM for its latest changes only.
 *
 * Holes stay holes: growing a stub (truncate, or a write past its end) makes the new tail present
 * (the stage file holds it as a hole) but not dirty: there are no bytes to write. What was cut
 * off by a shrink must not come back from the origin, so a stub records its floor, the smallest
 * size since it began; the patch cuts the upper file to the floor first, then writes the dirty
 * ranges and sets the size (journal.ts). Every byte at or past the floor is present.
 */
import { closeSync, fstatSync, ftruncateSync, linkSync, lstatSync, openSync, readSync, rmSync, type BigIntStats } from 'node:fs';
import { native } from '../native/index.js';
import { Extents } from './extents.js';
import type { Layer } from './layers.js';
import { copyData, copyRange, dataExtents } from './sparse.js';

export interface Stub {
  /** The file whose bytes this one shows where it holds none: in the upper, or (until that
   * snapshot is flushed) in a frozen snapshot. */
  origin: string;
  originIno: bigint;
  /** Set while the origin is a frozen snapshot's file (then `origin` is a hard link to it in the
   * work dir, which survives the snapshot being reshaped): at the snapshot's flush the origin
   * moves to the upper file at `vpath`, which then holds the same bytes. */
  originSnapshot: { layer: Layer; vpath: string } | null;
  size: number;
  /** The smallest size since this stub began: the origin's bytes at or past it are gone. */
  floor: number;
  present: Extents;
  dirty: Extents;
  /** What an unflushed snapshot's stub changed (its pending ranges and floor). */
  inherited: { from: Layer; ranges: Extents; floor: number } | null;
  /** Where the stage file is: the live stage (null), or the frozen snapshot that holds it. */
  home: Layer | null;
  /** Ranges the stage file need not hold any more (the origin has them): punched at next write. */
  released: Extents | null;
}

/** Files smaller than this are copied whole: simpler, and a few pages cost nothing. */
const STUB_MIN_SIZE = 16 * 1024;

export class Stubs {
  private readonly byIno = new Map<bigint, Stub>();

  /** How many stubs are held (bookkeeping that must not outlive the files). */
  get size(): number {
    return this.byIno.size;
  }

  get(ino: bigint): Stub | undefined {
    return this.byIno.get(ino);
  }

  /**
   * A single-link regular file of the upper or of a frozen snapshot (a file written across a
   * freeze: logs, databases), big enough to be worth it.
   */
  static eligible(layer: Layer, st: BigIntStats): boolean {
    return (layer.kind === 'upper' || layer.kind === 'frozen') && st.isFile() && st.nlink === 1n && st.size >= BigInt(STUB_MIN_SIZE);
  }

  /**
   * Make `target` (a new, empty file) a stub of `origin`, found at `vpath` in `layer`. A frozen
   * origin is first hard-linked to `keepAt` (a scratch path on the same tmpfs).
   */
  create(origin: string, originStat: BigIntStats, target: string, layer: Layer, vpath: string, keepAt: string): void {
    const size = Number(originStat.size);
    let originSnapshot: Stub['originSnapshot'] = null;
    if (layer.kind === 'frozen') {
      linkSync(origin, keepAt);
      origin = keepAt;
      originSnapshot = { layer, vpath };
    }
    this.register(target, {
      origin, originIno: originStat.ino, originSnapshot, size, floor: size, present: new Extents(), dirty: new Extents(), inherited: null, home: null, released: null,
    }, size);
  }

  /**
   * Copy stub `from` (file `fromReal` in frozen snapshot `layer`) to `target`: its present bytes
   * are copied (their data; holes stay holes); what the snapshot changed stays dirty here until
   * the snapshot is flushed.
   */
  derive(from: Stub, fromReal: string, layer: Layer, target: string): void {
    const pending = this.pending(from);
    const stub: Stub = {
      origin: from.origin,
      originIno: from.originIno,
      originSnapshot: from.originSnapshot,
      size: from.size,
      floor: from.size,
      present: from.present.clone(),
      dirty: new Extents(),
      inherited: { from: layer, ranges: pending, floor: this.floor(from) },
      home: null,
      released: null,
    };
    this.register(target, stub, from.size);
    const input = openSync(fromReal, 'r');
    const output = openSync(target, 'r+');
    try {
      for (const [start, end] of from.present.list) copyData(input, output, start, end);
    } finally {
      closeSync(input);
      closeSync(output);
    }
  }

  private register(target: string, stub: Stub, size: number): void {
    const fd = openSync(target, 'r+');
    try {
      ftruncateSync(fd, size);
      this.byIno.set(fstatSync(fd, { bigint: true }).ino, stub);
    } finally {
      closeSync(fd);
    }
  }

  /** What a flush must write: changes of this stub and those inherited from an unflushed snapshot. */
  pending(stub: Stub): Extents {
    const ranges = stub.dirty.clone();
    if (stub.inherited) ranges.addAll(stub.inherited.ranges);
    return ranges;
  }

  /** Where a flush must cut the origin before writing the pending ranges (see the top). */
  floor(stub: Stub): number {
    return Math.min(stub.floor, stub.inherited?.floor ?? Infinity);
  }

  written(stub: Stub, position: number, length: number): void {
    if (position > stub.size) this.truncated(stub, position); // the gap is a hole: zeros, not dirty
    stub.present.add(position, position + length);
    stub.dirty.add(position, position + length);
    stub.size = Math.max(stub.size, position + length);
  }

  /**
   * After the stage file was truncated to `size`: a grown tail is a hole the stage holds (present,
   * not dirty: nothing to write, the floor makes it zeros in the upper); a shrink lowers the floor.
   */
  truncated(stub: Stub, size: number): void {
    if (size > stub.size) {
      stub.present.add(stub.size, size);
    } else {
      stub.present.cut(size);
      stub.dirty.cut(size);
      stub.inherited?.ranges.cut(size);
      stub.floor = Math.min(stub.floor, size);
    }
    stub.size = size;
  }

  /** Read the file's bytes: present ranges from the stage file, the rest from the origin. */
  read(stub: Stub, localFd: number, buf: Buffer, offset: number, length: number, position: number): number {
    const end = Math.min(position + length, stub.size);
    if (end <= position) return 0;
    let originFd = -1;
    try {
      for (const piece of stub.present.split(position, end)) {
        const fd = piece.inside ? localFd : originFd >= 0 ? originFd : (originFd = openSync(stub.origin, 'r'));
        const at = offset + piece.start - position;
        const want = piece.end - piece.start;
        let got = 0;
        while (got < want) {
          const n = readSync(fd, buf, at + got, want - got, piece.start + got);
          if (n === 0) break;
          got += n;
        }
        buf.fill(0, at + got, at + want); // beyond the origin's end: zeros
      }
    } finally {
      if (originFd >= 0) closeSync(originFd);
    }
    return end - position;
  }

  /**
   * Where the whole file's data is, in order: [start, end) of `fd`, the stage file (`localFd`) for
   * present ranges and the origin for the rest. Holes in either are left out (they read as zeros).
   */
  *data(stub: Stub, localFd: number): Generator<{ fd: number; start: number; end: number }> {
    let originFd = -1;
    try {
      for (const piece of stub.present.split(0, stub.size)) {
        const fd = piece.inside ? localFd : originFd >= 0 ? originFd : (originFd = openSync(stub.origin, 'r'));
        for (const [start, end] of dataExtents(fd, piece.start, piece.end)) yield { fd, start, end };
      }
    } finally {
      if (originFd >= 0) closeSync(originFd);
    }
  }

  /** Write the whole file to new file `target`: its data, then its size (holes stay holes). */
  materialize(stub: Stub, localFd: number, target: string): void {
    const output = openSync(target, 'wx', 0o600);
    try {
      for (const { fd, start, end } of this.data(stub, localFd)) copyRange(fd, output, start, end);
      ftruncateSync(output, stub.size);
    } finally {
      closeSync(output);
    }
  }

  /**
   * Snapshot `layer` reached the flash (whose upper is at `upperRoot`): what stubs inherited from
   * it is now the origin's, and origins in it move to the upper files that now hold their bytes.
   */
  flushed(layer: Layer, upperRoot: string): void {
    for (const [ino, stub] of this.byIno) {
      if (stub.home === layer) {
        // Its file goes with the snapshot.
        this.byIno.delete(ino);
        if (stub.originSnapshot) rmSync(stub.origin, { force: true });
        continue;
      }
      if (stub.inherited?.from === layer) {
        stub.inherited = null;
        this.release(stub);
      }
      if (stub.originSnapshot?.layer === layer) {
        // The upper file at that path now holds the origin's bytes: use it and let the RAM copy
        // go. If it is not there (never expected), keep the RAM copy: correct, only costlier.
        const upperFile = upperRoot + stub.originSnapshot.vpath;
        const ino = inoOrNull(upperFile);
        stub.originSnapshot = null;
        if (ino === null) continue;
        rmSync(stub.origin, { force: true });
        stub.origin = upperFile;
        stub.originIno = ino;
      }
    }
  }

  /** The live stage was frozen as `layer`: its stubs' files are that snapshot's now. */
  frozen(layer: Layer): void {
    for (const stub of this.byIno.values()) if (stub.home === null) stub.home = layer;
  }

  /** These stage files went back from a snapshot into the live stage (a partial freeze). */
  backInStage(inos: ReadonlySet<bigint>): void {
    for (const [ino, stub] of this.byIno) if (inos.has(ino)) stub.home = null;
  }

  /** These stage files were thrown away (discard): their stubs go with them. */
  discarded(inos: ReadonlySet<bigint>): void {
    for (const ino of inos) {
      const stub = this.byIno.get(ino);
      if (!stub) continue;
      this.byIno.delete(ino);
      if (stub.originSnapshot) rmSync(stub.origin, { force: true });
    }
  }

  /** Stubs (but those of the stage files `except`) whose unchanged bytes are read from `realRoot` or under it. */
  readingFrom(realRoot: string, except: ReadonlySet<bigint>): number {
    let count = 0;
    for (const [ino, stub] of this.byIno) {
      if (except.has(ino)) continue;
      if (stub.origin === realRoot || stub.origin.startsWith(`${realRoot}/`)) count++;
    }
    return count;
  }

  /** Give back the stage file's pages of ranges the origin holds again (`fd` open for writing). */
  punchReleased(stub: Stub, fd: number): void {
    const released = stub.released;
    if (!released) return;
    stub.released = null;
    try {
      for (const [start, end] of released.list) native.punchHole(fd, start, end - start);
    } catch {
      // Only RAM is at stake: those bytes are no longer read from the stage file either way.
    }
  }

  /** Snapshot `from` was folded into `into` (its files moved there, same paths). */
  merged(from: Layer, into: Layer): void {
    for (const stub of this.byIno.values()) {
      if (stub.home === from) stub.home = into;
      if (stub.inherited?.from === from) stub.inherited.from = into;
      if (stub.originSnapshot?.layer === from) stub.originSnapshot.layer = into;
    }
  }

  /**
   * The origin now holds every byte this stub has not changed itself (below its floor): those
   * need not stay in RAM. Reads of them go to the origin from now on.
   */
  private release(stub: Stub): void {
    if (stub.originSnapshot) return; // the origin is itself in RAM: nothing to gain
    const keep = stub.dirty.clone();
    keep.add(stub.floor, stub.size); // at or past the floor the origin's bytes are gone
    const released = new Extents();
    for (const [start, end] of stub.present.list) {
      for (const piece of keep.split(start, end)) if (!piece.inside) released.add(piece.start, piece.end);
    }
    if (released.list.length === 0) return;
    stub.present = keep;
    stub.released = released;
    stub.originIno = inoOrNull(stub.origin) ?? stub.originIno; // a flush may have replaced the file
  }
}

function inoOrNull(path: string): bigint | null {
  try {
    return lstatSync(path, { bigint: true }).ino;
  } catch {
    return null;
  }
}
