/**
 * One terminal line from coloured segments, cut to `width` columns (never wraps). Segments after
 * the cut are dropped; the one that crosses it ends in "…".
 */
import { Box, Text } from 'ink';
import { memo } from 'react';
import { length, truncateRight } from './text.js';
import { useTheme, type Role } from './theme.js';

export interface Segment {
  text: string;
  role?: Role;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}

export function fitSegments(segments: readonly Segment[], width: number): Segment[] {
  const out: Segment[] = [];
  let left = width;
  for (const raw of segments) {
    if (left <= 0) break;
    // A tab or a control character would move the cursor on its own: nothing may.
    const segment = { ...raw, text: raw.text.replace(/\t/g, '    ').replace(/[\u0000-\u001f\u007f]/g, '?') };
    const len = length(segment.text);
    if (len <= left) {
      out.push(segment);
      left -= len;
    } else {
      out.push({ ...segment, text: truncateRight(segment.text, left) });
      left = 0;
    }
  }
  return out;
}

interface Run {
  text: string;
  color: string | undefined;
  bold: boolean;
  dim: boolean;
  inverse: boolean;
}

/** Adjacent segments that look the same become one Text node (fewer nodes: faster frames). */
export function runs(segments: readonly Segment[], colorOf: (role: Segment['role']) => string | undefined): Run[] {
  const out: Run[] = [];
  for (const s of segments) {
    if (s.text === '') continue;
    const run: Run = { text: s.text, color: colorOf(s.role), bold: s.bold ?? false, dim: s.dim ?? false, inverse: s.inverse ?? false };
    const prev = out[out.length - 1];
    if (prev && prev.color === run.color && prev.bold === run.bold && prev.dim === run.dim && prev.inverse === run.inverse) prev.text += run.text;
    else out.push(run);
  }
  return out;
}

export const Line = memo(
  function Line({ segments, width }: { segments: readonly Segment[]; width: number }) {
    const theme = useTheme();
    const parts = runs(fitSegments(segments, width), theme.colorOf);
    return (
      <Text wrap="truncate-end">
        {parts.length === 0 ? ' ' : null}
        {parts.map((r, i) => (
          <Text key={i} color={r.color} bold={r.bold} dimColor={r.dim} inverse={r.inverse}>
            {r.text}
          </Text>
        ))}
      </Text>
    );
  },
  (a, b) => a.width === b.width && sameSegments(a.segments, b.segments),
);

function sameSegments(a: readonly Segment[], b: readonly Segment[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.text !== y.text || x.role !== y.role || x.bold !== y.bold || x.dim !== y.dim || x.inverse !== y.inverse) return false;
  }
  return true;
}

/** A block of exactly `height` lines: `lines` cut to it, padded with empty ones. */
export function Lines({ lines, width, height }: { lines: readonly Segment[][]; width: number; height: number }) {
  const shown = lines.slice(0, height);
  while (shown.length < height) shown.push([]);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      {shown.map((segments, i) => (
        <Line key={i} width={width} segments={segments} />
      ))}
    </Box>
  );
}
