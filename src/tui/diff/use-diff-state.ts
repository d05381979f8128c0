/** The diff pane's state: which path, its diff once it came, and how far it is scrolled. */
import { useCallback, useRef, useState } from 'react';
import type { Control, Diff } from '../../control/protocol.js';
import type { Segment } from '../line.js';
import { clamp } from '../text.js';
import { diffLines } from './diff-lines.js';

export interface DiffState {
  /** Null: the pane is closed. */
  path: string | null;
  diff: Diff | null;
  lines: Segment[][];
  scroll: number;
  open(path: string): void;
  close(): void;
  scrollBy(delta: number, viewHeight: number): void;
}

export function useDiffState(control: Control, onError: (err: unknown) => void): DiffState {
  const [path, setPath] = useState<string | null>(null);
  const [diff, setDiff] = useState<Diff | null>(null);
  const [lines, setLines] = useState<Segment[][]>([]);
  const [scroll, setScroll] = useState(0);
  const request = useRef(0);

  const open = useCallback(
    (next: string) => {
      const id = ++request.current;
      setPath(next);
      setDiff(null);
      setLines([[{ text: `loading the diff of ${next}…`, dim: true }]]);
      setScroll(0);
      control.diff(next).then(
        (result) => {
          if (id !== request.current) return;
          setDiff(result);
          setLines(diffLines(result));
        },
        (err: unknown) => {
          if (id !== request.current) return;
          setLines([[{ text: `no diff for ${next}`, dim: true }]]);
          onError(err);
        },
      );
    },
    [control, onError],
  );

  return {
    path,
    diff,
    lines,
    scroll,
    open,
    close: () => {
      request.current++;
      setPath(null);
      setDiff(null);
      setLines([]);
    },
    scrollBy: (delta, viewHeight) => setScroll((s) => clamp(s + delta, 0, Math.max(0, lines.length - viewHeight))),
  };
}
