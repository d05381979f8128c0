/**
 * Reading a Linux evdev device (/dev/input/eventN) with plain fs reads: a stream of
 * `struct input_event` records, decoded into key events.
 *
 *   struct input_event { struct timeval time; __u16 type; __u16 code; __s32 value; };
 *
 * The timeval is two longs of the reader's ABI: 24 bytes a record on 64-bit userspace (x64,
 * arm64, ...), 16 on 32-bit (ia32, arm), in the CPU's byte order. A read can end in the middle of a
 * record (a FIFO, a short read): the tail waits for the next chunk.
 *
 * Open with openDevice (non-blocking reads, polled: see there), decode with readKeyEvents.
 */
import { closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { arch, endianness } from 'node:os';

export const EV_SYN = 0;
export const EV_KEY = 1;
/** The kernel's buffer overflowed: events were lost until the next SYN_REPORT. */
export const SYN_REPORT = 0;
export const SYN_DROPPED = 3;

export const KEY_UP = 0;
export const KEY_DOWN = 1;
export const KEY_REPEAT = 2;

export interface InputEvent {
  /** Seconds and microseconds since the epoch (or CLOCK_MONOTONIC, per EVIOCSCLOCKID). */
  sec: number;
  usec: number;
  type: number;
  code: number;
  value: number;
}

export interface RecordLayout {
  /** Bytes of one record: 24 or 16. */
  size: number;
  /** Bytes of each of tv_sec and tv_usec: 8 or 4. */
  longBytes: 8 | 4;
  littleEndian: boolean;
}

const SIXTY_FOUR_BIT = new Set(['x64', 'arm64', 'ppc64', 'riscv64', 's390x', 'mips64el', 'loong64']);

/** The layout for this process's ABI (what the kernel writes to it). */
export function nativeLayout(cpu: string = arch(), order: 'LE' | 'BE' = endianness()): RecordLayout {
  const longBytes = SIXTY_FOUR_BIT.has(cpu) ? 8 : 4;
  return { size: 2 * longBytes + 8, longBytes, littleEndian: order === 'LE' };
}

/** Decodes one record at `offset`. */
export function decodeEvent(buf: Uint8Array, offset: number, layout: RecordLayout): InputEvent {
  const view = new DataView(buf.buffer, buf.byteOffset + offset, layout.size);
  const le = layout.littleEndian;
  const long = (at: number) => (layout.longBytes === 8 ? Number(view.getBigInt64(at, le)) : view.getInt32(at, le));
  const t = 2 * layout.longBytes;
  return { sec: long(0), usec: long(layout.longBytes), type: view.getUint16(t, le), code: view.getUint16(t + 2, le), value: view.getInt32(t + 4, le) };
}

/** Encodes one record (tests write these into a FIFO; a tool could inject them into uinput). */
export function encodeEvent(event: Omit<InputEvent, 'sec' | 'usec'> & Partial<InputEvent>, layout: RecordLayout = nativeLayout()): Buffer {
  const buf = Buffer.alloc(layout.size);
  const view = new DataView(buf.buffer, buf.byteOffset, layout.size);
  const le = layout.littleEndian;
  const now = Date.now();
  const sec = event.sec ?? Math.floor(now / 1000);
  const usec = event.usec ?? (now % 1000) * 1000;
  if (layout.longBytes === 8) {
    view.setBigInt64(0, BigInt(sec), le);
    view.setBigInt64(8, BigInt(usec), le);
  } else {
    view.setInt32(0, sec, le);
    view.setInt32(4, usec, le);
  }
  const t = 2 * layout.longBytes;
  view.setUint16(t, event.type, le);
  view.setUint16(t + 2, event.code, le);
  view.setInt32(t + 4, event.value, le);
  return buf;
}

/** Every record in the stream, in order; a trailing partial record at the end is dropped. */
export async function* readEvents(chunks: AsyncIterable<Uint8Array>, layout: RecordLayout = nativeLayout()): AsyncGenerator<InputEvent> {
  let tail: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    let data = chunk;
    if (tail.length) {
      data = new Uint8Array(tail.length + chunk.length);
      data.set(tail, 0);
      data.set(chunk, tail.length);
    }
    const whole = data.length - (data.length % layout.size);
    for (let offset = 0; offset < whole; offset += layout.size) yield decodeEvent(data, offset, layout);
    // A copy (Buffer#slice would be a view): the stream may reuse its buffer for the next chunk.
    tail = new Uint8Array(data.subarray(whole));
  }
}

/** What a key reader sees: a key changing state, or the kernel saying it lost events. */
export type KeyEvent = { kind: 'key'; code: number; value: number; sec: number; usec: number } | { kind: 'dropped' };

/**
 * EV_KEY events (down 1, up 0, autorepeat 2) and SYN_DROPPED. After SYN_DROPPED the kernel's
 * events up to the next SYN_REPORT are incomplete, so they are skipped (the evdev protocol): a
 * reader that cannot ask for the key state (EVIOCGKEY is an ioctl) must assume nothing about it.
 */
export async function* readKeyEvents(chunks: AsyncIterable<Uint8Array>, layout: RecordLayout = nativeLayout()): AsyncGenerator<KeyEvent> {
  let dropping = false;
  for await (const event of readEvents(chunks, layout)) {
    if (event.type === EV_SYN) {
      if (event.code === SYN_DROPPED) {
        dropping = true;
        yield { kind: 'dropped' };
      } else if (event.code === SYN_REPORT) dropping = false;
      continue;
    }
    if (dropping || event.type !== EV_KEY) continue;
    yield { kind: 'key', code: event.code, value: event.value, sec: event.sec, usec: event.usec };
  }
}

export interface DeviceReader {
  chunks: AsyncIterable<Buffer>;
  close(): void;
}

/**
 * Opens an evdev device (or a FIFO carrying the same records) for non-blocking reads, polled
 * every `pollMs`. A blocking read would park a libuv thread in the kernel until the next key, and
 * Node's exit waits for that thread: a button that should exit (SIGTERM, a dry run's end) would
 * hang until someone pressed a key. Polling costs a failed read() (EAGAIN) 20 times a second.
 *
 * A FIFO read without a writer is end-of-file, so a FIFO is first opened blocking, which waits
 * for its writer. Open errors (EACCES, ENOENT) are thrown as they are.
 */
export async function openDevice(path: string, pollMs = 50, chunkBytes = 24 * 64): Promise<DeviceReader> {
  let fd: number;
  if (statSync(path).isFIFO()) {
    const waiting = await open(path, 'r');
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } finally {
      await waiting.close();
    }
  } else fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    closeSync(fd);
  };
  async function* chunks(): AsyncGenerator<Buffer> {
    const buf = Buffer.alloc(chunkBytes);
    try {
      while (!closed) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          await new Promise((done) => setTimeout(done, pollMs));
          continue;
        }
        if (n === 0) return;
        yield Buffer.from(buf.subarray(0, n));
      }
    } finally {
      close();
    }
  }
  return { chunks: chunks(), close };
}
