/**
 * The footer, FOOTER_HEIGHT lines: a status line (the open question, the filter input, the flush
 * progress, the last message, or the selected path) and the key hints of the current view.
 */
import { Box, Text } from 'ink';
import { useEffect, useState } from 'react';
import { formatBytes } from '../cli/ctl/format.js';
import { ConfirmView } from './confirm/confirm-view.js';
import { FilterInput } from './filter/filter-input.js';
import type { FlushProgress } from './events/use-events.js';
import { Line, type Segment } from './line.js';
import type { Message } from './messages.js';
import { truncateLeft } from './text.js';
import { GLYPH, SPINNER } from './theme.js';
import type { Busy } from './use-actions.js';

export const FOOTER_HEIGHT = 2;

export type View = 'list' | 'diff' | 'top' | 'help' | 'filter';

const HINTS: Record<View, string> = {
  list: '?:help q:quit ⏎:diff ␣:mark c:commit d:discard r:revert R:reset /:filter t:top',
  diff: '?:help q:quit ↑↓:scroll Tab:list Esc:close c:commit d:discard r:revert',
  top: '?:help q:quit +/-:depth t,Esc:back',
  help: 'any key: back',
  filter: 'Enter: show changes under this prefix  Esc: cancel  (empty: everything)',
};

export function useSpinner(active: boolean, intervalMs = 100): string {
  const [frame, setFrame] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setFrame((f) => (f + 1) % SPINNER.length), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
  return SPINNER[frame]!;
}

/** What runs: our request (with the flush progress of a commit), else a flush of the daemon's own. */
export function progressText(busy: Busy, progress: FlushProgress): { text: string; ours: boolean } | null {
  const bytes = formatBytes(progress.doneBytes + progress.currentBytes);
  const batches = progress.batches > 0 ? ` (${progress.batches} ${progress.batches === 1 ? 'batch' : 'batches'} done)` : '';
  if (busy === 'commit') return { text: `committing… ${bytes} written${batches}`, ours: true };
  if (busy) return { text: `${busy}…`, ours: true };
  if (progress.running) return { text: `flushing… ${formatBytes(progress.currentBytes)} written`, ours: false };
  return null;
}

export function messageSegments(message: Message): Segment[] {
  if (message.kind === 'info') return [{ text: `${GLYPH.ok} ${message.text}`, role: 'ok' }];
  return [{ text: `${GLYPH.error} ${message.text}`, role: 'error', bold: true }, ...(message.hint ? [{ text: ` — ${message.hint}`, role: 'error' as const }] : [])];
}

export interface FooterProps {
  width: number;
  view: View;
  question: string | null;
  filter: { prefix: string; onSubmit(value: string): void } | null;
  busy: Busy;
  progress: FlushProgress;
  message: Message | null;
  selectedPath: string | undefined;
}

export function Footer(props: FooterProps) {
  const { width } = props;
  const progress = progressText(props.busy, props.progress);
  const spinner = useSpinner(progress !== null);
  let status;
  if (props.question !== null) status = <ConfirmView question={props.question} width={width} />;
  else if (props.filter) {
    status = (
      <Box width={width} height={1} overflow="hidden">
        <Text wrap="truncate-end" bold>
          {'/ under: '}
        </Text>
        <FilterInput initial={props.filter.prefix === '/' ? '' : props.filter.prefix} placeholder="/etc" onSubmit={props.filter.onSubmit} />
      </Box>
    );
  } else if (progress?.ours || (progress && !props.message)) status = <Line width={width} segments={[{ text: `${spinner} ${progress.text}`, role: 'accent', bold: true }]} />;
  else if (props.message) status = <Line width={width} segments={messageSegments(props.message)} />;
  else status = <Line width={width} segments={[{ text: props.selectedPath ? `${GLYPH.cursor} ${truncateLeft(props.selectedPath, width - 2)}` : '', dim: true }]} />;
  return (
    <Box flexDirection="column" width={width} height={FOOTER_HEIGHT} overflow="hidden">
      {status}
      <Line width={width} segments={[{ text: HINTS[props.view], dim: true }]} />
    </Box>
  );
}
