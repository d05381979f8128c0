/**
 * useInput with the newest handler. Ink's useInput re-subscribes in an effect after each render,
 * so a key that arrives between a frame and its effects reaches the previous render's handler:
 * a quick "↓ d" could act on the entry selected before. Here the handler and isActive are read
 * from a ref set during render, and the subscription stays the same.
 */
import { useInput, type Key } from 'ink';
import { useCallback, useRef } from 'react';

export type KeyHandler = (input: string, key: Key) => void;

export function useKeys(handler: KeyHandler, { isActive = true }: { isActive?: boolean } = {}): void {
  const latest = useRef({ handler, isActive });
  latest.current = { handler, isActive };
  const stable = useCallback<KeyHandler>((input, key) => {
    if (latest.current.isActive) latest.current.handler(input, key);
  }, []);
  useInput(stable);
}
