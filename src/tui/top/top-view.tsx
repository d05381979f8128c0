/** The top writers: bytes written, flushed and avoided per path (or per directory at a depth). */
import { formatBytes } from '../../cli/ctl/format.js';
import { Lines, type Segment } from '../line.js';
import { truncateLeft } from '../text.js';
import type { TopState } from './use-top-state.js';

const NUM = 10;

export function topLines(state: Pick<TopState, 'depth' | 'top'>, width: number, height: number): Segment[][] {
  const grouping = state.depth === 0 ? 'per path' : `per directory, depth ${state.depth}`;
  const lines: Segment[][] = [[{ text: 'Top writers ', bold: true, role: 'accent' }, { text: `(${grouping}; +/- depth, t or Esc back)`, dim: true }]];
  const top = state.top;
  if (!top) {
    lines.push([{ text: 'loading…', dim: true }]);
    return lines;
  }
  const pathWidth = Math.max(4, width - 3 * (NUM + 1) - 1);
  lines.push([{ text: `${'WRITTEN'.padStart(NUM)} ${'FLUSHED'.padStart(NUM)} ${'AVOIDED'.padStart(NUM)}  PATH`, bold: true }]);
  if (top.entries.length === 0) lines.push([{ text: 'nothing written yet', dim: true }]);
  for (const e of top.entries.slice(0, Math.max(0, height - 4))) {
    lines.push([
      { text: `${formatBytes(e.written).padStart(NUM)} ${formatBytes(e.flushed).padStart(NUM)} ` },
      { text: formatBytes(e.avoided).padStart(NUM), role: 'ok' },
      { text: `  ${truncateLeft(e.path, pathWidth)}` },
    ]);
  }
  const t = top.totals;
  lines.push([{ text: `total: written ${formatBytes(t.written)}, flushed ${formatBytes(t.flushed)}, avoided ${formatBytes(t.avoided)}`, dim: true }]);
  return lines;
}

export function TopView({ state, width, height }: { state: TopState; width: number; height: number }) {
  return <Lines lines={topLines(state, width, height)} width={width} height={height} />;
}
