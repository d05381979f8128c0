/**
 * What c, C, d, r and R do: which paths (the marked ones, else the selected one), the questions
 * asked first, the request, then a message and a refresh. A failed request is a message too.
 */
import { useRef, useState } from 'react';
import { formatCommit, formatDiscard, formatReset, formatRevert } from '../cli/ctl/format.js';
import type { Control } from '../control/protocol.js';
import type { ChangesState } from './changes/use-changes-state.js';
import type { ConfirmState } from './confirm/use-confirm-state.js';
import { errorMessage, info, type Message } from './messages.js';

export type Busy = 'commit' | 'discard' | 'revert' | 'reset' | null;

export interface Actions {
  busy: Busy;
  commit(): void;
  commitAll(): void;
  discard(): void;
  revert(): void;
  reset(): void;
}

export interface ActionDeps {
  control: Control;
  changes: ChangesState;
  confirm: ConfirmState;
  mountpoint: string | null;
  say(message: Message | null): void;
  /** Right before a request goes out (after any questions). */
  onStart?(what: Exclude<Busy, null>): void;
  refresh(): void;
}

/** The marked paths, else the selected one. */
export function targets(changes: Pick<ChangesState, 'marks' | 'selected'>): string[] {
  if (changes.marks.size > 0) return [...changes.marks].sort();
  return changes.selected ? [changes.selected.path] : [];
}

/** The footer has one line: the CLI's summary line, with its list of paths folded into it. */
function oneLine<T>(format: (result: T) => string, paths: (result: T) => string[]): (result: T) => string {
  return (result) => {
    const [head = ''] = format(result).split('\n');
    const list = paths(result);
    return list.length === 0 ? head : `${head.replace(/:$/, '')} ${describePaths(list)}`;
  };
}

export function describePaths(paths: readonly string[]): string {
  if (paths.length === 1) return paths[0]!;
  return `${paths.length.toLocaleString('en-US')} paths (${paths.slice(0, 2).join(', ')}${paths.length > 2 ? ', …' : ''})`;
}

export function useActions(deps: ActionDeps): Actions {
  const [busy, setBusy] = useState<Busy>(null);
  const busyRef = useRef<Busy>(null);
  const d = useRef(deps);
  d.current = deps;

  const run = async <T>(what: Exclude<Busy, null>, questions: string[], request: () => Promise<T>, done: (result: T) => string, unmark: string[] = []) => {
    const { confirm, say } = d.current;
    if (busyRef.current) {
      say({ kind: 'error', text: `wait: a ${busyRef.current} is still running` });
      return;
    }
    say(null);
    if (questions.length && !(await confirm.ask(questions))) {
      say(info(`${what} cancelled; nothing was changed`));
      return;
    }
    busyRef.current = what;
    setBusy(what);
    d.current.onStart?.(what);
    try {
      const result = await request();
      d.current.changes.unmark(unmark);
      d.current.say(info(done(result)));
    } catch (err) {
      d.current.say(errorMessage(err));
    } finally {
      busyRef.current = null;
      setBusy(null);
      d.current.refresh();
    }
  };

  const needPaths = (verb: string): string[] | null => {
    const paths = targets(d.current.changes);
    if (paths.length === 0) {
      d.current.say({ kind: 'error', text: `nothing to ${verb}: select or mark a change first` });
      return null;
    }
    return paths;
  };

  const commitAll = () => void run('commit', ['Commit everything pending to the flash?'], () => d.current.control.commit([]), formatCommit);

  return {
    busy,
    commit: () => {
      const paths = targets(d.current.changes);
      if (paths.length === 0) commitAll();
      else void run('commit', [], () => d.current.control.commit(paths), formatCommit, paths);
    },
    commitAll,
    discard: () => {
      const paths = needPaths('discard');
      if (paths) void run('discard', [`Discard the pending changes of ${describePaths(paths)}? They go back to the flash version.`], () => d.current.control.discard(paths), oneLine(formatDiscard, (r) => r.discarded), paths);
    },
    revert: () => {
      const paths = needPaths('revert');
      if (paths) void run('revert', [`Revert ${describePaths(paths)} to the factory version? Their changes on the flash are lost too.`], () => d.current.control.revert(paths), oneLine(formatRevert, (r) => r.reverted), paths);
    },
    reset: () =>
      void run(
        'reset',
        [`Schedule a factory reset of ${d.current.mountpoint ?? 'the mount'}? The next boot wipes every change on the flash.`, 'Really? Everything written since the factory image will be lost.'],
        () => d.current.control.reset(),
        (result) => formatReset(result).split('\n').join('; '),
      ),
  };
}
