/**
 * Keys, one at a time, to the newest handlers.
 *
 * Ink's useInput re-subscribes in an effect after each render, so a key that arrives between a
 * frame and its effects reaches the previous render's handler: a quick "↓ d" could act on the
 * entry selected before. Here every handler is read from a ref set during render.
 *
 * Ink also hands over a run of plain characters read at once as one input: "jjj" when j is held
 * on a slow serial console or over ssh, "j d y" from a script driving the terminal, a pasted
 * path. KeysProvider, at the root, reads Ink's input once and queues it one key per character;
 * each key waits for the render the one before it caused (a timer, after React's update and the
 * layout effects that register the handlers of what it showed), so a key that opens the filter
 * or a question sends the next ones there, as if they had been typed one by one.
 */
import { useInput, type Key } from 'ink';
import { createContext, createElement, useContext, useLayoutEffect, useRef, type ReactNode } from 'react';

export type KeyHandler = (input: string, key: Key) => void;

interface Registered {
  handler: KeyHandler;
  isActive: boolean;
}

class KeyQueue {
  readonly handlers = new Set<{ current: Registered }>();
  private readonly queue: Array<[string, Key]> = [];
  private draining = false;

  push(input: string, key: Key): void {
    this.queue.push(...splitKeys(input, key));
    if (!this.draining) {
      this.draining = true;
      this.drain();
    }
  }

  private drain = (): void => {
    const next = this.queue.shift();
    if (!next) {
      this.draining = false;
      return;
    }
    for (const entry of [...this.handlers]) if (entry.current.isActive) entry.current.handler(...next);
    setTimeout(this.drain, 0);
  };
}

const KeysContext = createContext<KeyQueue | null>(null);

export function KeysProvider({ children }: { children: ReactNode }) {
  const queue = useRef(new KeyQueue()).current;
  useInput((input, key) => queue.push(input, key));
  return createElement(KeysContext.Provider, { value: queue }, children);
}

export function useKeys(handler: KeyHandler, { isActive = true }: { isActive?: boolean } = {}): void {
  const queue = useContext(KeysContext);
  if (!queue) throw new Error('useKeys needs a KeysProvider above it');
  const latest = useRef<Registered>({ handler, isActive });
  latest.current = { handler, isActive };
  useLayoutEffect(() => {
    queue.handlers.add(latest);
    return () => {
      queue.handlers.delete(latest);
    };
  }, [queue]);
}

/** The keys in one input: a run of plain characters is one key per character. */
export function splitKeys(input: string, key: Key): Array<[string, Key]> {
  const chars = [...input];
  if (chars.length <= 1 || key.meta || key.escape) return [[input, key]];
  return chars.map((char) => keyOf(char, key));
}

/** What Ink would have reported for `char` read on its own. */
function keyOf(char: string, like: Key): [string, Key] {
  const none = Object.fromEntries(Object.entries(like).map(([name, value]) => [name, typeof value === 'boolean' ? false : value])) as unknown as Key;
  const code = char.codePointAt(0)!;
  if (char === '\r' || char === '\n') return ['', { ...none, return: true }];
  if (char === '\t') return ['', { ...none, tab: true }];
  if (char === '\u007f') return ['', { ...none, delete: true }];
  if (char === '\b') return ['', { ...none, backspace: true }];
  if (code < 32) return [String.fromCharCode(code + 96), { ...none, ctrl: true }]; // Ctrl-C is "c" with ctrl
  return [char, { ...none, shift: char !== char.toLowerCase() }];
}
