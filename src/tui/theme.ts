/**
 * Colours and glyphs. Colour is only ever a second channel: every state a colour marks also has
 * a glyph or a letter, so that NO_COLOR (https://no-color.org: present and non-empty) loses
 * nothing but the colour.
 */
import { createContext, useContext } from 'react';
import type { ChangeKind, ChangeState } from '../control/protocol.js';

export type Role =
  | 'added'
  | 'modified'
  | 'deleted'
  | 'metadata'
  | 'pending'
  | 'persisted'
  | 'error'
  | 'ok'
  | 'warn'
  | 'accent'
  | 'dir'
  | 'plus'
  | 'minus'
  | 'hunk'
  | 'mark';

const COLOURS: Record<Role, string> = {
  added: 'green',
  modified: 'yellow',
  deleted: 'red',
  metadata: 'cyan',
  pending: 'yellow',
  persisted: 'green',
  error: 'red',
  ok: 'green',
  warn: 'yellow',
  accent: 'cyan',
  dir: 'blue',
  plus: 'green',
  minus: 'red',
  hunk: 'cyan',
  mark: 'magenta',
};

export interface Theme {
  readonly color: boolean;
  /** The colour of a role, or undefined without colours. */
  colorOf(role: Role | undefined): string | undefined;
}

export function makeTheme(color: boolean): Theme {
  return { color, colorOf: (role) => (color && role ? COLOURS[role] : undefined) };
}

/** NO_COLOR present and non-empty: no colours. */
export function colorFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env['NO_COLOR'];
  return value === undefined || value === '';
}

export const ThemeContext = createContext<Theme>(makeTheme(true));
export const useTheme = (): Theme => useContext(ThemeContext);

export const GLYPH = {
  pending: '●',
  persisted: '✓',
  cursor: '›',
  mark: '*',
  dir: '▸',
  ok: '✓',
  error: '✗',
  warn: '⚠',
  question: '?',
} as const;

export const STATE_GLYPH: Record<ChangeState, string> = { pending: GLYPH.pending, persisted: GLYPH.persisted };

/** A: added, M: modified, D: deleted, m: metadata only. */
export const KIND_LETTER: Record<ChangeKind, string> = { added: 'A', modified: 'M', deleted: 'D', metadata: 'm' };

export const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
