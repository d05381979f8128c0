/** The open question, one line: "? Discard … [y/N]". */
import { Line } from '../line.js';
import { truncateRight } from '../text.js';
import { GLYPH } from '../theme.js';

export function ConfirmView({ question, width }: { question: string; width: number }) {
  const suffix = ' [y/N]';
  return <Line width={width} segments={[{ text: `${GLYPH.question} `, role: 'warn', bold: true }, { text: truncateRight(question, width - 2 - suffix.length), bold: true }, { text: suffix, role: 'warn' }]} />;
}
