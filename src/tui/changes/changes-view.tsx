/** The changes list: a title line, then exactly `height` rows (directory headers and entries). */
import { Box } from 'ink';
import { formatBytes } from '../../cli/ctl/format.js';
import type { ChangeEntry } from '../../control/protocol.js';
import { Line, type Segment } from '../line.js';
import { length, truncateLeft } from '../text.js';
import { GLYPH, KIND_LETTER, STATE_GLYPH, type Role } from '../theme.js';
import type { ChangesState } from './use-changes-state.js';
import { baseOf, type Row } from './window.js';

const count = (n: number) => n.toLocaleString('en-US');

export function titleSegments(state: Pick<ChangesState, 'total' | 'cursor' | 'prefix' | 'marks'>, focused: boolean): Segment[] {
  const where = state.total === null ? 'loading…' : state.total === 0 ? 'none' : `${count(state.cursor + 1)} of ${count(state.total)}`;
  const segments: Segment[] = [{ text: 'Changes ', bold: true, ...(focused ? { role: 'accent' as const } : {}) }, { text: where }];
  if (state.prefix !== '/') segments.push({ text: ` · under ${state.prefix}`, role: 'accent' });
  if (state.marks.size > 0) segments.push({ text: ` · ${GLYPH.mark}${count(state.marks.size)} marked`, role: 'mark' });
  return segments;
}

export function rowSegments(row: Row, width: number, cursor: number, marks: ReadonlySet<string>): Segment[] {
  if (row.kind === 'dir') {
    const suffix = row.continued ? ' (cont.)' : '';
    const dir = row.dir === '/' ? '/' : `${row.dir}/`;
    return [{ text: `${GLYPH.dir} `, role: 'dir' }, { text: truncateLeft(dir, width - 2 - suffix.length), role: 'dir', bold: true }, { text: suffix, dim: true }];
  }
  const selected = row.index === cursor;
  const pointer = selected ? GLYPH.cursor : ' ';
  if (row.kind === 'loading') return [{ text: `${pointer}   …`, dim: true }];
  return entrySegments(row.entry, width, selected, marks.has(row.entry.path));
}

const KIND_ROLE: Record<ChangeEntry['kind'], Role> = { added: 'added', modified: 'modified', deleted: 'deleted', metadata: 'metadata' };

function entrySegments(entry: ChangeEntry, width: number, selected: boolean, marked: boolean): Segment[] {
  const size = entry.bytes === undefined ? '' : formatBytes(entry.bytes);
  const flash = entry.onFlash ? ` (flash: ${KIND_LETTER[entry.onFlash]})` : '';
  // "› * ● M name…   1.2 MiB"
  const fixed = 8 + flash.length + (size ? size.length + 1 : 0);
  const name = truncateLeft(baseOf(entry.path), Math.max(1, width - fixed));
  const gap = Math.max(1, width - fixed - length(name) + (size ? 1 : 0));
  const inverse = selected ? { inverse: true } : {};
  return [
    { text: selected ? GLYPH.cursor : ' ', bold: true },
    { text: marked ? GLYPH.mark : ' ', role: 'mark', bold: true },
    { text: ' ' },
    { text: STATE_GLYPH[entry.state], role: entry.state },
    { text: ' ' },
    { text: KIND_LETTER[entry.kind], role: KIND_ROLE[entry.kind], bold: true },
    { text: ' ' },
    { text: name, ...inverse },
    { text: flash, dim: true },
    { text: size ? `${' '.repeat(gap)}${size}` : '', dim: true },
  ];
}

export function ChangesView({ state, width, height, focused }: { state: ChangesState; width: number; height: number; focused: boolean }) {
  const lines: Segment[][] = state.rows.map((row) => rowSegments(row, width, state.cursor, state.marks));
  if (state.total === 0) lines.push([{ text: state.prefix === '/' ? '  no changes: the mount is at the factory version' : `  no changes under ${state.prefix}`, dim: true }]);
  while (lines.length < height) lines.push([]);
  return (
    <Box flexDirection="column" width={width} height={height + 1} overflow="hidden">
      <Line width={width} segments={titleSegments(state, focused)} />
      {lines.slice(0, height).map((segments, i) => (
        <Line key={i} width={width} segments={segments} />
      ))}
    </Box>
  );
}
