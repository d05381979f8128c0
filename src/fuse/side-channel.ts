/**
 * The shared slots between native/persist_native.c and JS (see the enum there): facts about the
 * current request that fuse-native does not pass, and the exact stat reply it cannot express.
 */
import type { Attributes, Caller, Timespec } from '../overlay/index.js';
import { native } from '../native/index.js';

const enum Slot {
  Uid, Gid, Pid, Umask, Flags, Fh,
  AtimeSec, AtimeNsec, MtimeSec, MtimeNsec,
  ReplyValid, ReplyIno, ReplyAtimeSec, ReplyAtimeNsec, ReplyMtimeSec, ReplyMtimeNsec,
  ReplyCtimeSec, ReplyCtimeNsec, ReplySize, ReplyBlocks,
  ReplyCacheable, ReplyNoXattrs, ReplyStable,
}

const NS_PER_SEC = 1_000_000_000n;

export class SideChannel {
  private readonly slots: Float64Array;

  constructor() {
    this.slots = new Float64Array(native.interpose());
  }

  caller(): Caller {
    return { uid: this.slots[Slot.Uid]!, gid: this.slots[Slot.Gid]! };
  }

  /** open(2)/creat(2) flags of the current create request. */
  openFlags(): number {
    return this.slots[Slot.Flags]!;
  }

  /** utimens' two timestamps, with UTIME_NOW/UTIME_OMIT intact. */
  times(): [Timespec, Timespec] {
    const s = this.slots;
    return [
      { sec: s[Slot.AtimeSec]!, nsec: s[Slot.AtimeNsec]! },
      { sec: s[Slot.MtimeSec]!, nsec: s[Slot.MtimeNsec]! },
    ];
  }

  /** This getattr's answer, a stat or ENOENT, may be kept by the attribute cache. */
  cacheable(): void {
    this.slots[Slot.ReplyCacheable] = 1;
  }

  /** The kernel may keep this getattr's answer (Attributes.stable; native/kernel_cache.c). */
  stable(): void {
    this.slots[Slot.ReplyStable] = 1;
  }

  /** The path of this getxattr or listxattr holds no extended attributes at all. */
  noXattrs(): void {
    this.slots[Slot.ReplyNoXattrs] = 1;
  }

  /** The parts of a getattr reply fuse-native would truncate: 64-bit inode, ns times, size. */
  replyStat(a: Attributes): void {
    const s = this.slots;
    s[Slot.ReplyIno] = a.ino;
    [s[Slot.ReplyAtimeSec], s[Slot.ReplyAtimeNsec]] = splitNs(a.atimeNs);
    [s[Slot.ReplyMtimeSec], s[Slot.ReplyMtimeNsec]] = splitNs(a.mtimeNs);
    [s[Slot.ReplyCtimeSec], s[Slot.ReplyCtimeNsec]] = splitNs(a.ctimeNs);
    s[Slot.ReplySize] = a.size;
    s[Slot.ReplyBlocks] = a.blocks;
    s[Slot.ReplyValid] = 1;
  }
}

/** [seconds, nanoseconds] with 0 <= nanoseconds < 1e9, also before 1970. */
function splitNs(ns: bigint): [number, number] {
  let sec = ns / NS_PER_SEC;
  if (ns < 0n && sec * NS_PER_SEC !== ns) sec -= 1n;
  return [Number(sec), Number(ns - sec * NS_PER_SEC)];
}

/** fuse-native's stat layout (times in ms, 32-bit fields); the side channel fixes what it loses. */
export function statArray(a: Attributes): Uint32Array {
  const ints = new Uint32Array(18);
  ints[0] = a.mode;
  ints[1] = a.uid;
  ints[2] = a.gid;
  setDouble(ints, 3, a.size);
  ints[6] = a.nlink;
  ints[7] = a.ino;
  ints[8] = a.rdev;
  ints[9] = a.blksize;
  setDouble(ints, 10, a.blocks);
  setDouble(ints, 12, Number(a.atimeNs / 1_000_000n));
  setDouble(ints, 14, Number(a.mtimeNs / 1_000_000n));
  setDouble(ints, 16, Number(a.ctimeNs / 1_000_000n));
  return ints;
}

function setDouble(ints: Uint32Array, at: number, value: number): void {
  const low = value % 4294967296;
  ints[at] = low;
  ints[at + 1] = (value - low) / 4294967296;
}
