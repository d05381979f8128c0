/** The top-writers view's state: the grouping depth and the daemon's answer for it. */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Control, Top } from '../../control/protocol.js';

export const MAX_DEPTH = 6;

export interface TopState {
  depth: number;
  top: Top | null;
  setDepth(depth: number): void;
  refresh(): void;
}

export function useTopState(control: Control, { isActive, limit, onError }: { isActive: boolean; limit: number; onError: (err: unknown) => void }): TopState {
  const [depth, setDepthState] = useState(0);
  const [top, setTop] = useState<Top | null>(null);
  const [tick, setTick] = useState(0);
  const request = useRef(0);
  const onErrorRef = useRef(onError);
  onErrorRef.current = onError;

  useEffect(() => {
    if (!isActive) return;
    const id = ++request.current;
    control.top({ depth, limit }).then(
      (result) => {
        if (id === request.current) setTop(result);
      },
      (err: unknown) => {
        if (id === request.current) onErrorRef.current(err);
      },
    );
  }, [control, isActive, depth, limit, tick]);

  return {
    depth,
    top,
    setDepth: (next) => setDepthState(Math.max(0, Math.min(MAX_DEPTH, next))),
    refresh: useCallback(() => setTick((t) => t + 1), []),
  };
}
