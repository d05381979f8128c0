/**
 * What changed in the writable layer since it was last frozen: the flush policy's input. Bytes
 * count what applications wrote; metadata changes count as changes with no bytes.
 */
export class Changes {
  /** Bytes applications wrote through the union, ever. */
  appBytes = 0;
  /** Bytes written since the stage was last frozen. */
  pendingBytes = 0;
  /** When the oldest change not yet frozen happened (ms since the epoch), or null. */
  pendingSince: number | null = null;

  note(bytes: number): void {
    this.appBytes += bytes;
    this.pendingBytes += bytes;
    this.pendingSince ??= Date.now();
  }

  get pending(): boolean {
    return this.pendingSince !== null;
  }

  /** The stage was frozen: what was pending is now the flusher's. */
  taken(): { bytes: number; since: number | null } {
    const taken = { bytes: this.pendingBytes, since: this.pendingSince };
    this.pendingBytes = 0;
    this.pendingSince = null;
    return taken;
  }
}
