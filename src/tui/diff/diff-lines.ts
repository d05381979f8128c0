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
    lines.push(...describe('-', diff.base, diff.old));
    lines.push(...describe('+', 'now', diff.new));
  }
  return lines;
}

/** "- factory: 4096 bytes" and, on a line of its own (it is 64 wide), "  sha256 …". */
function describe(sign: '-' | '+', side: string, version: Diff['old']): Segment[][] {
  const role = sign === '-' ? 'minus' : 'plus';
  if (!version) return [[{ text: `${sign} ${side}: absent`, role }]];
  const lines: Segment[][] = [[{ text: `${sign} ${side}: ${version.type}, ${version.size.toLocaleString('en-US')} bytes`, role }]];
  if (version.sha256) lines.push([{ text: `  sha256 ${version.sha256}`, role }]);
  return lines;
}

function lineSegment(line: string): Segment {
  if (line.startsWith('+++') || line.startsWith('---')) return { text: line, bold: true };
  if (line.startsWith('+')) return { text: line, role: 'plus' };
  if (line.startsWith('-')) return { text: line, role: 'minus' };
  if (line.startsWith('@@')) return { text: line, role: 'hunk' };
  return { text: line };
}
