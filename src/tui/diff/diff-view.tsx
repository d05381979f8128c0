/** The diff pane: a title line, then `height` lines of the diff from its scroll position. */
import { Box } from 'ink';
import { Line, type Segment } from '../line.js';
import { truncateLeft } from '../text.js';
import type { DiffState } from './use-diff-state.js';

export function DiffView({ state, width, height, focused }: { state: DiffState; width: number; height: number; focused: boolean }) {
  const shown = state.lines.slice(state.scroll, state.scroll + height);
  const lines: Segment[][] = [...shown];
  while (lines.length < height) lines.push([]);
  const more = state.lines.length > height ? ` ${state.scroll + 1}-${Math.min(state.lines.length, state.scroll + height)}/${state.lines.length}` : '';
  const hint = focused ? ' (↑↓ scroll, Tab list, Esc close)' : ' (Tab to scroll)';
  const title: Segment[] = [
    { text: 'Diff ', bold: true, ...(focused ? { role: 'accent' as const } : {}) },
    { text: truncateLeft(state.path ?? '', Math.max(10, width - 5 - more.length - hint.length)) },
    { text: more, dim: true },
    { text: hint, dim: true },
  ];
  return (
    <Box flexDirection="column" width={width} height={height + 1} overflow="hidden">
      <Line width={width} segments={title} />
      {lines.map((segments, i) => (
        <Line key={i} width={width} segments={segments} />
      ))}
    </Box>
  );
}
