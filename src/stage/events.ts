/**
 * What the stage tells whoever listens (the control socket's subscribers): flushes starting,
 * progressing, finishing or failing, and paths changing. Changed paths are collected and sent at
 * most every CHANGED_EVERY_MS, and only while someone listens: a write costs a Set insertion at
 * most, never a message.
 */
export type StageEvent =
  | { event: 'flush-started'; seq: number; time: number }
  | { event: 'flush-progress'; seq: number; bytes: number; time: number }
  | { event: 'flush-finished'; seq: number; bytes: number; durationSeconds: number; time: number }
  | { event: 'flush-failed'; seq: number; error: string; time: number }
  | { event: 'changed'; paths: string[]; more: number; time: number };

const CHANGED_EVERY_MS = 500;
const CHANGED_NAMED = 100;
const PROGRESS_EVERY_MS = 250;

export class StageEvents {
  private readonly listeners = new Set<(event: StageEvent) => void>();
  private readonly changedPaths = new Set<string>();
  private changedMore = 0;
  private changedTimer: NodeJS.Timeout | null = null;
  private lastProgress = 0;

  listen(listener: (event: StageEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: StageEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // a listener's trouble is its own (the socket drops a subscriber that cannot keep up)
      }
    }
  }

  flushProgress(seq: number, bytes: number): void {
    if (this.listeners.size === 0) return;
    const now = Date.now();
    if (now - this.lastProgress < PROGRESS_EVERY_MS) return;
    this.lastProgress = now;
    this.emit({ event: 'flush-progress', seq, bytes, time: now / 1000 });
  }

  changed(vpath: string): void {
    if (this.listeners.size === 0) return;
    if (this.changedPaths.size < CHANGED_NAMED || this.changedPaths.has(vpath)) this.changedPaths.add(vpath);
    else this.changedMore++;
    this.changedTimer ??= setTimeout(() => this.sendChanged(), CHANGED_EVERY_MS).unref();
  }

  private sendChanged(): void {
    this.changedTimer = null;
    const paths = [...this.changedPaths].sort();
    const more = this.changedMore;
    this.changedPaths.clear();
    this.changedMore = 0;
    if (paths.length) this.emit({ event: 'changed', paths, more, time: Date.now() / 1000 });
  }
}
