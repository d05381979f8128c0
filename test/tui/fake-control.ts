// An in-memory Control for the TUI's tests and bench: N synthetic entries (or given ones), sorted
// by path, paged like the daemon; every call recorded; `behave[op]` replaces an answer (throw,
// wait); emit() sends an event to subscribers; `delayMs` delays every answer.

import {
  type ChangeEntry,
  type ChangesPage,
  type ChangesQuery,
  type CommitResult,
  type Control,
  type Diff,
  type DiscardResult,
  type Event,
  type ResetResult,
  type RevertResult,
  type Status,
  type Top,
  type TopQuery,
} from '../../src/control/protocol.js';
import { DIFF, RESET, STATUS, TOP } from '../control/fixture.js';

export interface FakeCall {
  op: string;
  args: unknown[];
}

const KINDS = ['added', 'modified', 'deleted', 'metadata'] as const;

/** `count` entries, 25 per directory: /srv/d0000/f000000 …, sorted by path. */
export function syntheticEntries(count: number, perDir = 25): ChangeEntry[] {
  const entries: ChangeEntry[] = [];
  for (let i = 0; i < count; i++) {
    const pending = i % 3 !== 2;
    entries.push({
      path: `/srv/d${String(Math.floor(i / perDir)).padStart(4, '0')}/f${String(i).padStart(6, '0')}`,
      kind: KINDS[i % 4]!,
      state: pending ? 'pending' : 'persisted',
      ...(pending ? { bytes: (i % 7) * 1000 } : {}),
    });
  }
  return entries;
}

type Behaviour = (...args: never[]) => unknown;

export class FakeControl implements Control {
  readonly calls: FakeCall[] = [];
  readonly listeners = new Set<(event: Event) => void>();
  behave: Partial<Record<keyof Control, Behaviour>> = {};
  status_: Status = STATUS;
  closed = false;
  delayMs = 0;

  constructor(public entries: ChangeEntry[] = syntheticEntries(100)) {}

  private async answer<T>(op: keyof Control, args: unknown[], canned: () => T): Promise<T> {
    this.calls.push({ op, args });
    if (this.delayMs > 0) await new Promise((done) => setTimeout(done, this.delayMs));
    const behaviour = this.behave[op] as ((...a: unknown[]) => T | Promise<T>) | undefined;
    return behaviour ? behaviour(...args) : canned();
  }

  status(): Promise<Status> {
    return this.answer('status', [], () => this.status_);
  }

  changes(query: ChangesQuery = {}): Promise<ChangesPage> {
    return this.answer('changes', [query], () => {
      const prefix = query.prefix ?? '/';
      const offset = query.offset ?? 0;
      const limit = query.limit ?? 1000;
      const selected = prefix === '/' ? this.entries : this.entries.filter((e) => e.path === prefix || e.path.startsWith(`${prefix}/`));
      return { total: selected.length, offset, entries: selected.slice(offset, offset + limit) };
    });
  }

  diff(path: string, base?: 'factory' | 'flash'): Promise<Diff> {
    return this.answer('diff', [path, base], () => ({ ...DIFF, path, base: base ?? 'factory' }));
  }

  commit(paths: string[] = []): Promise<CommitResult> {
    return this.answer('commit', [paths], () => ({ paths, batches: 2, bytes: 1_572_864 }));
  }

  discard(paths: string[] = []): Promise<DiscardResult> {
    return this.answer('discard', [paths], () => ({ discarded: paths }));
  }

  revert(paths: string[]): Promise<RevertResult> {
    return this.answer('revert', [paths], () => ({ reverted: paths }));
  }

  reset(): Promise<ResetResult> {
    return this.answer('reset', [], () => RESET);
  }

  top(query: TopQuery = {}): Promise<Top> {
    return this.answer('top', [query], () => ({ ...TOP, depth: query.depth ?? 0, entries: TOP.entries.slice(0, query.limit ?? 20) }));
  }

  async subscribe(listener: (event: Event) => void): Promise<void> {
    this.calls.push({ op: 'subscribe', args: [] });
    this.listeners.add(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  emit(event: Event): void {
    for (const listener of this.listeners) listener(event);
  }

  /** The calls of one op. */
  callsOf(op: string): FakeCall[] {
    return this.calls.filter((c) => c.op === op);
  }
}
