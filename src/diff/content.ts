/**
 * Which file contents `diff PATH` shows as text. Anything else is compared by size and sha256.
 */
import { isUtf8 } from 'node:buffer';

/** Files larger than this on either side are compared by size and hash, not by a text diff. */
export const MAX_TEXT_DIFF_BYTES = 1024 * 1024;

/** How far looksBinary looks for a NUL byte (as GNU diff and git do, a leading block). */
export const BINARY_SNIFF_BYTES = 8 * 1024;

/**
 * Whether `buf` is not to be diffed as text. Both heuristics apply:
 * - a NUL byte in the first 8 KiB (BINARY_SNIFF_BYTES): the usual test of GNU diff and git, and
 *   it catches UTF-16 text too, which a line diff of its bytes would garble;
 * - invalid UTF-8 anywhere (the whole buffer is checked; the caller only asks about buffers of at
 *   most MAX_TEXT_DIFF_BYTES): decoding it would replace the bad bytes with U+FFFD, and the diff
 *   would show content the file does not have. Overlong forms, surrogates and truncated
 *   sequences count as invalid. An empty buffer is text.
 */
export function looksBinary(buf: Buffer): boolean {
  const head = buf.subarray(0, BINARY_SNIFF_BYTES);
  if (head.includes(0)) return true;
  return !isUtf8(buf);
}
