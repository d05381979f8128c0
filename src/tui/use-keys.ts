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
 * each key waits for the render the one before it caused (the layout effects of a component with
 * key handlers, which also register the handlers of what it showed; at most RENDER_WAIT_MS when
 * a key changed nothing), so a key that opens the filter or a question sends the next ones
 * there, and acts on what the one before selected, as if they had been typed one by one.
 */
import { useInput, type Key } from 'ink';
import { createContext, createElement, useContext, useLayoutEffect, useRef, type ReactNode } from 'react';

export type KeyHandler = (input: string, key: Key) => void;

interface Registered {
  handler: KeyHandler;
  isActive: boolean;
}

/** How long a key that changed nothing (no render) holds up the next one. */
const RENDER_WAIT_MS = 50;

class KeyQueue {
  readonly handlers = new Set<{ current: Registered }>();
  private readonly queue: Array<[string, Key]> = [];
  private draining = false;
  private onCommit: (() => void) | null = null;

  push(input: string, key: Key): void {
    this.queue.push(...splitKeys(input, key));
    if (!this.draining) {
      this.draining = true;
      void this.drain();
    }
  }

  /** A component with key handlers committed a render (its layout effects ran). */
  committed(): void {
    this.onCommit?.();
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      // Who gets this key is decided once, before any handler runs: a handler's state change
      // may re-render at once and activate another handler, which must wait for the next key.
      const active = [...this.handlers].filter((entry) => entry.current.isActive).map((entry) => entry.current.handler);
      const rendered = new Promise<void>((done) => {
        this.onCommit = done;
        setTimeout(done, RENDER_WAIT_MS);
      });
      for (const handler of active) handler(...next);
      if (this.queue.length > 0) await rendered;
      this.onCommit = null;
    }
    this.draining = false;
  }
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
  // After every render of this component: the key that caused it has taken effect.
  useLayoutEffect(() => queue.committed());
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
