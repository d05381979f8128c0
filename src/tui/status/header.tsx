/**
 * The header, always HEADER_HEIGHT lines: the mount and its mode, the layers, the flash's health
 * (pending bytes and paths, the oldest pending change, the last flush), then warnings: a failing
 * flash, a scheduled factory reset, whatever else the daemon says.
 */
import { formatBytes, formatDuration } from '../../cli/ctl/format.js';
import type { Status } from '../../control/protocol.js';
import { Lines, type Segment } from '../line.js';
import { GLYPH } from '../theme.js';

export const HEADER_HEIGHT = 4;

const count = (n: number) => n.toLocaleString('en-US');

export function headerLines(status: Status | null, nowSeconds: number): Segment[][] {
  if (!status) return [[{ text: 'persist ', bold: true }, { text: 'connecting…', dim: true }]];
  const { flash, layers } = status;
  const lines: Segment[][] = [
    [
      { text: 'persist ', bold: true },
      { text: status.mode, role: 'accent', bold: true },
      { text: ` ${status.mountpoint}`, bold: true },
      { text: `  pid ${status.pid}, up ${formatDuration(status.uptimeSeconds)}`, dim: true },
    ],
    [{ text: `lower ${layers.lowers.join(', ') || '(none)'} · upper ${layers.upper ?? '(none)'} · stage ${layers.stage ?? '(none)'}`, dim: true }],
  ];
  if (flash) {
    const pending: Segment[] = [
      { text: 'pending ' },
      { text: `${GLYPH.pending} ${formatBytes(flash.pendingBytes)} in ${count(flash.pendingPaths)} paths`, role: flash.pendingPaths > 0 ? 'pending' : 'ok', bold: true },
    ];
    if (flash.pendingPaths > 0) pending.push({ text: `, oldest ${formatDuration(flash.oldestPendingSeconds)}` });
    const last = flash.lastFlush;
    pending.push({ text: ' · last flush ' });
    if (!last) pending.push({ text: 'none yet', dim: true });
    else {
      const ago = `${formatDuration(Math.max(0, nowSeconds - last.timestamp))} ago`;
      if (last.success) pending.push({ text: `${GLYPH.ok} ok ${ago}, ${formatBytes(last.bytes)} in ${formatDuration(last.durationSeconds)}`, role: 'ok' });
      else pending.push({ text: `${GLYPH.error} FAILED ${ago}: ${last.error ?? 'unknown error'}`, role: 'error', bold: true });
    }
    lines.push(pending);
  } else {
    lines.push([{ text: status.mode === 'direct' ? 'nothing pending: direct mode writes straight to the upper' : 'nothing reaches a flash in volatile mode', dim: true }]);
  }
  const warnings: Segment[] = [];
  const sep = () => warnings.length > 0 && warnings.push({ text: ' · ' });
  if (status.resetPending) warnings.push({ text: `${GLYPH.warn} RESET SCHEDULED: the next boot wipes the upper`, role: 'warn', bold: true });
  if (flash?.failing) {
    sep();
    warnings.push({ text: `${GLYPH.error} FLASH FAILING: changes stay in RAM, retried`, role: 'error', bold: true });
  }
  for (const warning of status.warnings) {
    sep();
    warnings.push({ text: `${GLYPH.warn} ${warning}`, role: 'warn' });
  }
  lines.push(warnings.length ? warnings : [{ text: `${GLYPH.ok} no warnings`, role: 'ok' }]);
  return lines;
}

export function Header({ status, at, width }: { status: Status | null; at: number; width: number }) {
  return <Lines lines={headerLines(status, (at || Date.now()) / 1000)} width={width} height={HEADER_HEIGHT} />;
}
