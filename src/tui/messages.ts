/** The footer's one-line message: what an action did, or why it failed (message and hint). */
import { DaemonUnreachable } from '../control/client.js';
import { ControlError } from '../control/protocol.js';
import { firstLine } from './text.js';

export interface Message {
  kind: 'info' | 'error';
  text: string;
  hint?: string;
}

export function errorMessage(err: unknown): Message {
  if (err instanceof ControlError || err instanceof DaemonUnreachable) {
    return { kind: 'error', text: firstLine(err.message), ...(err.hint ? { hint: err.hint } : {}) };
  }
  return { kind: 'error', text: firstLine(err instanceof Error ? err.message : String(err)) };
}

export function info(text: string): Message {
  return { kind: 'info', text: firstLine(text) };
}
