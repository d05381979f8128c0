/**
 * useInput with the newest handler, one key at a time.
 *
 * Ink's useInput re-subscribes in an effect after each render, so a key that arrives between a
 * frame and its effects reaches the previous render's handler: a quick "↓ d" could act on the
 * entry selected before. Here the handler and isActive are read from a ref set during render,
 * and the subscription stays the same.
 *
 * Ink also hands over a run of plain characters read at once as one input ("jjj" when j is held
 * on a slow serial console or over ssh). A run of movement keys is passed on one key at a time.
 * Any other run stays whole, and so matches no key: were "/etc" split, the "/" would open the
 * filter but "c" would still reach this handler (no render in between) and commit.
 * Text fields (the filter) use their own input handling and get the run whole.
 */
import { useInput, type Key } from 'ink';
import { useCallback, useRef } from 'react';

export type KeyHandler = (input: string, key: Key) => void;

export function useKeys(handler: KeyHandler, { isActive = true }: { isActive?: boolean } = {}): void {
  const latest = useRef({ handler, isActive });
  latest.current = { handler, isActive };
  const stable = useCallback<KeyHandler>((input, key) => {
    for (const one of splitKeys(input, key)) {
      if (!latest.current.isActive) return;
      latest.current.handler(one, key);
    }
  }, []);
  useInput(stable);
}

/** Keys that only move the selection or the view, safe to repeat within one read. */
const MOVEMENT = /^[jkgG]+$/;

/** The keys in one input: a run of movement keys is one key per character. */
export function splitKeys(input: string, key: Key): string[] {
  if (input.length <= 1 || key.ctrl || key.meta || !MOVEMENT.test(input)) return [input];
  return [...input];
}
