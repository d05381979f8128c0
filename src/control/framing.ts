/**
 * JSON lines on a byte stream: one message per '\n'-terminated line. The reader holds at most
 * `maxBytes` of an unfinished line, so a peer cannot make it buffer without bound: a longer line
 * is reported once as `too-large` (as soon as it passes the cap, not when it finally ends), the
 * rest of it is skipped up to the next newline, and the lines after it are read as usual.
 */

export type Frame =
  /** A complete line, decoded as UTF-8, without its '\n' (nor a '\r' before it). */
  | { kind: 'line'; text: string }
  /** A line longer than the cap; `bytes` is how much of it had arrived when it passed the cap. */
  | { kind: 'too-large'; bytes: number };

const NEWLINE = 0x0a;

export class LineReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Inside an oversized line: drop bytes until its newline. */
  private skipping = false;

  constructor(private readonly maxBytes: number) {}

  /** Feeds the next chunk of the stream; returns the frames it completes, in order. */
  feed(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.skipping) {
        if (newline !== -1) this.skipping = false;
      } else if (this.buffered + (end - start) > this.maxBytes) {
        frames.push({ kind: 'too-large', bytes: this.buffered + (end - start) });
        this.clear();
        this.skipping = newline === -1;
      } else if (newline === -1) {
        this.chunks.push(chunk.subarray(start));
        this.buffered += chunk.length - start;
      } else {
        this.chunks.push(chunk.subarray(start, end));
        frames.push({ kind: 'line', text: this.take() });
      }
      if (newline === -1) break;
      start = newline + 1;
    }
    return frames;
  }

  /** The stream ended: a last line without its newline is still a line. */
  end(): Frame[] {
    const frames: Frame[] = [];
    if (!this.skipping && this.buffered > 0) frames.push({ kind: 'line', text: this.take() });
    this.clear();
    this.skipping = false;
    return frames;
  }

  /** Bytes held for the unfinished line. */
  get pendingBytes(): number {
    return this.buffered;
  }

  private take(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    this.clear();
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  private clear(): void {
    this.chunks = [];
    this.buffered = 0;
  }
}

/** One message as a line. */
export function encodeLine(message: unknown): string {
  return `${JSON.stringify(message)}\n`;
}
