/**
 * The changes list's state: the query (prefix), the selected entry, the marks, and the window of
 * rows on screen. Only the pages under (and next to) the window are fetched; a refresh refetches
 * them while the old ones stay on screen, and keeps the selection on the same path if it is still
 * in a page that came back.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ChangeEntry, Control } from '../../control/protocol.js';
import { clamp } from '../text.js';
import { entryCount, layoutRows, PAGE_SIZE, PageCache, pageOf, pagesFor, scrollToCursor, type Row } from './window.js';

export interface ChangesState {
  prefix: string;
  /** Null until the first page arrived. */
  total: number | null;
  cursor: number;
  selected: ChangeEntry | undefined;
  rows: Row[];
  marks: ReadonlySet<string>;
  move(delta: number): void;
  pageDown(): void;
  pageUp(): void;
  home(): void;
  end(): void;
  toggleMark(): void;
  unmark(paths: readonly string[]): void;
  clearMarks(): void;
  setPrefix(prefix: string): void;
  refresh(): void;
}

export interface ChangesOptions {
  control: Control;
  /** Rows the list may use. */
  height: number;
  onError(err: unknown): void;
  pageSize?: number;
}

export function useChangesState({ control, height, onError, pageSize = PAGE_SIZE }: ChangesOptions): ChangesState {
  const cache = useRef(new PageCache(pageSize)).current;
  const [prefix, setPrefixState] = useState('/');
  const [generation, setGeneration] = useState(0);
  const [, setArrivals] = useState(0);
  const [total, setTotal] = useState<number | null>(null);
  const [cursor, setCursor] = useState(0);
  const [marks, setMarks] = useState<ReadonlySet<string>>(new Set());
  const topRef = useRef(0);
  const inFlight = useRef(new Set<string>());
  const generationRef = useRef(0);
  /** The path to select again once a refresh brought its page back. */
  const reselect = useRef<string | null>(null);
  const onErrorRef = useRef(onError);
  onErrorRef.current = onError;
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );

  const count = total ?? 0;
  const current = clamp(cursor, 0, Math.max(0, count - 1));
  const get = (i: number) => cache.get(i);
  const top = scrollToCursor(topRef.current, current, height, count, get);
  topRef.current = top;
  const rows = layoutRows(top, height, count, get);
  const selected = count > 0 ? cache.get(current) : undefined;

  // Fetch what the window needs: its pages, the one before (a header's "continued") and the cursor's.
  const cursorPage = pageOf(current, pageSize);
  useEffect(() => {
    const wanted = total === null ? [0] : [...new Set([...pagesFor(top - 1, Math.min(count - 1, top + height), pageSize), cursorPage])];
    for (const page of wanted) {
      const key = `${generation}:${page}`;
      if (cache.isFresh(page, generation) || inFlight.current.has(key)) continue;
      inFlight.current.add(key);
      control.changes({ prefix, offset: page * pageSize, limit: pageSize }).then(
        (result) => {
          inFlight.current.delete(key);
          if (!mounted.current || generation !== generationRef.current) return;
          cache.set(page, generation, result.entries);
          cache.truncate(result.total);
          cache.evict(cursorPage);
          if (reselect.current !== null) {
            const found = cache.indexOf(reselect.current, generation);
            if (found !== -1) {
              setCursor(found);
              reselect.current = null;
            } else if (cache.isFresh(cursorPage, generation)) reselect.current = null;
          }
          setTotal(result.total);
          setArrivals((n) => n + 1);
        },
        (err: unknown) => {
          inFlight.current.delete(key);
          if (mounted.current && generation === generationRef.current) onErrorRef.current(err);
        },
      );
    }
  }, [control, prefix, generation, top, height, count, total === null, cursorPage, pageSize]);

  const countRef = useRef(count);
  countRef.current = count;
  // The operator moved: a refresh still in flight must not take the selection back.
  const moveTo = useCallback((to: (c: number) => number) => {
    reselect.current = null;
    setCursor((c) => clamp(to(clamp(c, 0, Math.max(0, countRef.current - 1))), 0, Math.max(0, countRef.current - 1)));
  }, []);
  const move = useCallback((delta: number) => moveTo((c) => c + delta), [moveTo]);
  const pageRows = Math.max(1, entryCount(rows) - 1);
  const selectedPath = selected?.path;

  return {
    prefix,
    total,
    cursor: current,
    selected,
    rows,
    marks,
    move,
    pageDown: () => move(pageRows),
    pageUp: () => move(-pageRows),
    home: () => moveTo(() => 0),
    end: () => moveTo(() => Infinity),
    toggleMark: () => {
      if (!selectedPath) return;
      setMarks((old) => {
        const next = new Set(old);
        if (!next.delete(selectedPath)) next.add(selectedPath);
        return next;
      });
    },
    unmark: (paths) =>
      setMarks((old) => {
        const next = new Set(old);
        paths.forEach((p) => next.delete(p));
        return next;
      }),
    clearMarks: () => setMarks(new Set()),
    setPrefix: (next) => {
      cache.clear();
      generationRef.current++;
      setGeneration(generationRef.current);
      reselect.current = null;
      topRef.current = 0;
      setPrefixState(next);
      setTotal(null);
      setCursor(0);
    },
    refresh: () => {
      if (selectedPath !== undefined) reselect.current = selectedPath;
      generationRef.current++;
      setGeneration(generationRef.current);
    },
  };
}
