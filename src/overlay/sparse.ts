/**
 * Holes stay holes: copying a file's bytes touches only its data extents (lseek SEEK_DATA and
 * SEEK_HOLE) and the size is set with ftruncate, so what the application never wrote is never
 * written: not on copy-up, not into the stage (RAM), not to the flash. A filesystem that cannot
 * tell holes from data (lseek fails with EINVAL) is read as all data, which is correct, only
 * costlier. tmpfs, ext4 and (since Linux 6.x) squashfs report holes.
 */
import { ftruncateSync, readSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { native, SEEK_DATA, SEEK_HOLE } from '../native/index.js';
import { isErrno } from './errors.js';
import type { Range } from './extents.js';

const CHUNK = 1 << 20;

/** The data extents of open file `fd` within [start, end), in order; nothing past its end. */
export function* dataExtents(fd: number, start: number, end: number): Generator<Range> {
  for (let at = start; at < end; ) {
    let data: number;
    let hole: number;
    try {
      data = native.lseek(fd, at, SEEK_DATA);
      if (data < 0 || data >= end) return; // only a hole (or the end) follows
      hole = native.lseek(fd, data, SEEK_HOLE);
    } catch (err) {
      if (!isErrno(err, 'EINVAL') && !isErrno(err, 'EOPNOTSUPP') && !isErrno(err, 'ESPIPE')) throw err;
      yield [at, end]; // the filesystem cannot tell: all data
      return;
    }
    const stop = hole < 0 ? end : Math.min(hole, end);
    yield [data, stop];
    at = stop;
  }
}

/** Copy [start, end) of `input` to the same offsets of `output`, every byte (a data range). */
export function copyRange(input: number, output: number, start: number, end: number, buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(end - start, 1)))): number {
  let done = 0;
  for (let pos = start; pos < end; ) {
    const n = readSync(input, buf, 0, Math.min(buf.length, end - pos), pos);
    if (n === 0) break; // the input ends here: the rest reads as zeros
    writeSync(output, buf, 0, n, pos);
    pos += n;
    done += n;
  }
  return done;
}

/**
 * Copy the data of [start, end) of `input` to the same offsets of `output`; holes are skipped,
 * so `output` keeps whatever it had there (a hole, in a file just created or extended by
 * ftruncate). Returns the bytes copied.
 */
export function copyData(input: number, output: number, start: number, end: number): number {
  let done = 0;
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(end - start, 1)));
  for (const [a, b] of dataExtents(input, start, end)) done += copyRange(input, output, a, b, buf);
  return done;
}

/** Fill new, empty `output` with the first `size` bytes of `input`, holes kept; returns data bytes. */
export function copySparse(input: number, output: number, size: number): number {
  const done = copyData(input, output, 0, size);
  ftruncateSync(output, size);
  return done;
}

/** Pacing for data written to the flash: resolves when `bytes` more may be written. */
export type Pace = (bytes: number) => Promise<void>;

/**
 * The asynchronous, paced form of copyRange for the flush (the FUSE server keeps answering
 * meanwhile): [start, end) of `input` to the same offsets of `output`.
 */
export async function copyRangePaced(input: FileHandle, output: FileHandle, start: number, end: number, pace: Pace, buf: Buffer): Promise<number> {
  let done = 0;
  for (let pos = start; pos < end; ) {
    const { bytesRead } = await input.read(buf, 0, Math.min(buf.length, end - pos), pos);
    if (bytesRead === 0) break;
    await pace(bytesRead);
    await output.write(buf, 0, bytesRead, pos);
    pos += bytesRead;
    done += bytesRead;
  }
  return done;
}

/** Paced copyData: only the data extents of [start, end). */
export async function copyDataPaced(input: FileHandle, output: FileHandle, start: number, end: number, pace: Pace, buf: Buffer): Promise<number> {
  let done = 0;
  for (const [a, b] of dataExtents(input.fd, start, end)) done += await copyRangePaced(input, output, a, b, pace, buf);
  return done;
}
