/**
 * One terminal line from coloured segments, cut to `width` columns (never wraps). Segments after
 * the cut are dropped; the one that crosses it ends in "…".
 */
import { Text } from 'ink';
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

export function Line({ segments, width }: { segments: readonly Segment[]; width: number }) {
  const theme = useTheme();
  const fitted = fitSegments(segments, width);
  return (
    <Text wrap="truncate-end">
      {fitted.length === 0 ? ' ' : null}
      {fitted.map((s, i) => (
        <Text key={i} color={theme.colorOf(s.role)} bold={s.bold ?? false} dimColor={s.dim ?? false} inverse={s.inverse ?? false}>
          {s.text}
        </Text>
      ))}
    </Text>
  );
}
