/**
 * The daemon's events, on the TUI's one connection (the client matches replies to requests by id,
 * so events keep coming while a commit waits for its reply). Flush events drive the progress
 * line; `changed` (the daemon sends at most one per 500 ms) asks for a refresh; an `error` event
 * means the connection is gone.
 */
import { useEffect, useRef, useState } from 'react';
import type { Control, Event } from '../../control/protocol.js';

export interface FlushProgress {
  /** A flush is running (ours or the daemon's own). */
  running: boolean;
  /** Batches finished and their bytes since the progress started. */
  batches: number;
  doneBytes: number;
  /** How far the current batch has got. */
  currentBytes: number;
}

export const IDLE: FlushProgress = { running: false, batches: 0, doneBytes: 0, currentBytes: 0 };

export function nextProgress(progress: FlushProgress, event: Event): FlushProgress {
  switch (event.event) {
    case 'flush-started':
      return { ...progress, running: true, currentBytes: 0 };
    case 'flush-progress':
      return { ...progress, running: true, currentBytes: event.bytes };
    case 'flush-finished':
      return { running: false, batches: progress.batches + 1, doneBytes: progress.doneBytes + event.bytes, currentBytes: 0 };
    case 'flush-failed':
      return { ...progress, running: false, currentBytes: 0 };
    default:
      return progress;
  }
}

export interface EventHandlers {
  onChanged(): void;
  onFlushDone(event: Extract<Event, { event: 'flush-finished' | 'flush-failed' }>): void;
  onLost(message: string): void;
  onError(err: unknown): void;
}

export function useEvents(control: Control, handlers: EventHandlers): { progress: FlushProgress; resetProgress(): void } {
  const [progress, setProgress] = useState<FlushProgress>(IDLE);
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;

  useEffect(() => {
    let live = true;
    control
      .subscribe((event) => {
        if (!live) return;
        setProgress((p) => nextProgress(p, event));
        const h = handlersRef.current;
        if (event.event === 'changed') h.onChanged();
        else if (event.event === 'flush-finished' || event.event === 'flush-failed') h.onFlushDone(event);
        else if (event.event === 'error') h.onLost(event.message);
      })
      .catch((err: unknown) => {
        if (live) handlersRef.current.onError(err);
      });
    return () => {
      live = false;
    };
  }, [control]);

  return { progress, resetProgress: () => setProgress(IDLE) };
}
