/** The daemon's status for the header: fetched at start, on refresh() and every few seconds (ages move). */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Control, Status } from '../../control/protocol.js';

export const STATUS_INTERVAL_MS = 5000;

export interface StatusState {
  status: Status | null;
  /** When it arrived (ms), to age the last flush. */
  at: number;
  refresh(): void;
}

export function useStatusState(control: Control, onError: (err: unknown) => void, intervalMs = STATUS_INTERVAL_MS): StatusState {
  const [status, setStatus] = useState<{ status: Status | null; at: number }>({ status: null, at: 0 });
  const request = useRef(0);
  const onErrorRef = useRef(onError);
  onErrorRef.current = onError;
  const mounted = useRef(true);

  const refresh = useCallback(() => {
    const id = ++request.current;
    control.status().then(
      (result) => {
        if (mounted.current && id === request.current) setStatus({ status: result, at: Date.now() });
      },
      (err: unknown) => {
        if (mounted.current && id === request.current) onErrorRef.current(err);
      },
    );
  }, [control]);

  useEffect(() => {
    mounted.current = true;
    refresh();
    const timer = setInterval(refresh, intervalMs);
    timer.unref?.();
    return () => {
      mounted.current = false;
      clearInterval(timer);
    };
  }, [refresh, intervalMs]);

  return { status: status.status, at: status.at, refresh };
}
