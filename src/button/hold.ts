/**
 * The reset button's state machine, for one key: a press starts a hold; once the key has been
 * down for `holdMs` a timer fires 'threshold' while it is still held (so the LED and console
 * confirm before the finger leaves the button); a release before that is a 'short' press.
 * Autorepeat (value 2) is not a press; a second down without an up between is ignored; a release
 * after the threshold fires nothing more. `cancel()` forgets a hold in progress (the kernel dropped
 * events, so the release may have been lost): the next press starts afresh.
 */

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export type HoldEvent =
  /** The key went down: a hold started. */
  | { kind: 'down' }
  /** Held for holdMs, still down. */
  | { kind: 'threshold'; heldMs: number }
  /** Released before holdMs. */
  | { kind: 'short'; heldMs: number }
  /** Released after the threshold fired. */
  | { kind: 'released'; heldMs: number }
  /** A hold in progress was forgotten (cancel). */
  | { kind: 'cancelled' };

type State = { kind: 'idle' } | { kind: 'held'; since: number; timer: unknown } | { kind: 'fired'; since: number };

export class HoldMachine {
  private state: State = { kind: 'idle' };

  constructor(
    readonly holdMs: number,
    private readonly emit: (event: HoldEvent) => void,
    private readonly timers: Timers = realTimers,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Feed the key's value: 1 down, 0 up, 2 autorepeat (ignored). */
  key(value: number): void {
    if (value === 1) this.down();
    else if (value === 0) this.up();
  }

  get held(): boolean {
    return this.state.kind !== 'idle';
  }

  cancel(): void {
    if (this.state.kind === 'held') this.timers.clearTimeout(this.state.timer);
    const was = this.state.kind;
    this.state = { kind: 'idle' };
    if (was !== 'idle') this.emit({ kind: 'cancelled' });
  }

  private down(): void {
    if (this.state.kind !== 'idle') return;
    const since = this.now();
    const timer = this.timers.setTimeout(() => this.fire(), this.holdMs);
    this.state = { kind: 'held', since, timer };
    this.emit({ kind: 'down' });
  }

  private fire(): void {
    if (this.state.kind !== 'held') return;
    const { since } = this.state;
    this.state = { kind: 'fired', since };
    this.emit({ kind: 'threshold', heldMs: this.now() - since });
  }

  private up(): void {
    const state = this.state;
    if (state.kind === 'idle') return;
    this.state = { kind: 'idle' };
    const heldMs = this.now() - state.since;
    if (state.kind === 'held') {
      this.timers.clearTimeout(state.timer);
      // Held long enough, but the release was read before the timer ran (a busy loop): it counts.
      if (heldMs >= this.holdMs) this.emit({ kind: 'threshold', heldMs });
      else {
        this.emit({ kind: 'short', heldMs });
        return;
      }
    }
    this.emit({ kind: 'released', heldMs });
  }
}
