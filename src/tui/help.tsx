/** The help overlay: every key, in the body's place. */
import { Lines, type Segment } from './line.js';
import { GLYPH, KIND_LETTER, STATE_GLYPH } from './theme.js';

const KEYS: [string, string][] = [
  ['↑ ↓  j k', 'move the selection'],
  ['PgUp PgDn', 'a page up or down'],
  ['g G  Home End', 'first / last change'],
  ['Enter', 'show the diff of the selected change'],
  ['Tab  Esc', 'focus the diff pane (scroll it) / close it'],
  ['space  Esc', 'mark or unmark the selected change / clear the marks'],
  ['c', 'commit the marked changes (or the selected one) to the flash'],
  ['C', 'commit everything pending (asks)'],
  ['d', 'discard pending changes: back to the flash version (asks)'],
  ['r', 'revert to the factory version (asks)'],
  ['R', 'schedule a factory reset at the next boot (asks twice)'],
  ['/', 'show only the changes under a path prefix (Enter applies, Esc cancels)'],
  ['t', 'top writers: bytes written, flushed and avoided per path'],
  ['?', 'this help (any key closes it)'],
  ['q  Ctrl-C', 'quit'],
];

export function helpLines(): Segment[][] {
  const legend = `${STATE_GLYPH.pending} pending (RAM only)  ${STATE_GLYPH.persisted} persisted (on flash)  ${GLYPH.mark} marked  ` +
    `${KIND_LETTER.added} added ${KIND_LETTER.modified} modified ${KIND_LETTER.deleted} deleted ${KIND_LETTER.metadata} metadata`;
  return [
    [{ text: 'Keys', bold: true, role: 'accent' }],
    ...KEYS.map(([key, what]): Segment[] => [{ text: key.padEnd(15), bold: true }, { text: what }]),
    [{ text: legend, dim: true }],
  ];
}

export function Help({ width, height }: { width: number; height: number }) {
  return <Lines lines={helpLines()} width={width} height={height} />;
}
