/** A diff as coloured lines: persistctl's own text (formatDiff), +/- lines coloured, binary sums spelled out. */
import { formatDiff } from '../../cli/ctl/format.js';
import type { Diff } from '../../control/protocol.js';
import type { Segment } from '../line.js';

export function diffLines(diff: Diff): Segment[][] {
  const [header = '', ...body] = formatDiff(diff).split('\n');
  const lines: Segment[][] = [[{ text: header, bold: true }]];
  if (diff.format === 'text') {
    for (const line of body) lines.push([lineSegment(line)]);
    return lines;
  }
  for (const line of body) lines.push([{ text: line }]);
  if (diff.format === 'binary') {
    lines.push([{ text: `- ${diff.base}: ${describe(diff.old)}`, role: 'minus' }]);
    lines.push([{ text: `+ now: ${describe(diff.new)}`, role: 'plus' }]);
  }
  return lines;
}

function describe(version: Diff['old']): string {
  if (!version) return 'absent';
  return `${version.size} bytes${version.sha256 ? `, sha256 ${version.sha256}` : ''}`;
}

function lineSegment(line: string): Segment {
  if (line.startsWith('+++') || line.startsWith('---')) return { text: line, bold: true };
  if (line.startsWith('+')) return { text: line, role: 'plus' };
  if (line.startsWith('-')) return { text: line, role: 'minus' };
  if (line.startsWith('@@')) return { text: line, role: 'hunk' };
  return { text: line };
}
