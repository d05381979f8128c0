/**
 * persistctl's human output: short label/value blocks and tables, sizes as people read them
 * (1.2 MiB), ages as "12s ago". Scripts use --json instead; nothing here is meant to be parsed.
 */
import type { ChangesPage, CommitResult, Diff, DiscardResult, FileVersion, ResetResult, RevertResult, Status, Top } from '../../control/protocol.js';

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  if (Math.abs(bytes) < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = -1;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Math.abs(value) < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** Label/value rows, labels padded to one column; a multi-line value is indented under its row. */
export function block(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value.split('\n').join(`\n${' '.repeat(width + 2)}`)}`).join('\n');
}

/** A table with a header; columns listed in `right` are right-aligned (numbers). */
export function table(header: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 && !right.includes(i) ? cell : right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatStatus(status: Status, nowSeconds = Date.now() / 1000): string {
  const { flash, layers } = status;
  const rows: [string, string][] = [
    ['mode', status.mode],
    ['mountpoint', status.mountpoint],
    ['daemon', `pid ${status.pid}, up ${formatDuration(status.uptimeSeconds)}`],
    ['lowers', layers.lowers.join('\n') || '(none)'],
    ['upper', layers.upper ?? '(none)'],
    ['stage', layers.stage ?? '(none)'],
  ];
  if (flash) {
    const oldest = flash.pendingPaths > 0 ? `, the oldest changed ${formatDuration(flash.oldestPendingSeconds)} ago` : '';
    rows.push(['pending', `${formatBytes(flash.pendingBytes)} in ${count(flash.pendingPaths)} paths${oldest}`]);
    const last = flash.lastFlush;
    const lastText = !last
      ? 'none yet'
      : `${last.success ? 'ok' : `FAILED (${last.error ?? 'unknown error'})`} ${formatDuration(Math.max(0, nowSeconds - last.timestamp))} ago` +
        (last.success ? `: ${formatBytes(last.bytes)} in ${formatDuration(last.durationSeconds)}` : '');
    rows.push(['last flush', lastText]);
    rows.push(['flushes', `${count(flash.flushes)} (${count(flash.flushFailures)} failed)${flash.failing ? '; FAILING: the changes stay in RAM and are retried' : ''}`]);
    const saved = flash.appBytesWritten > 0 ? ` (${Math.round((flash.bytesAvoided / flash.appBytesWritten) * 100)}%)` : '';
    rows.push(['written', `by apps ${formatBytes(flash.appBytesWritten)}, to flash ${formatBytes(flash.flashBytesWritten)}, avoided ${formatBytes(flash.bytesAvoided)}${saved}`]);
    rows.push(['device', flash.device ? `${flash.device.name}: ${count(flash.device.writeRequests)} write requests, ${formatBytes(flash.device.sectorsWritten * 512)} written` : '(no counters)']);
    const p = flash.policy;
    rows.push(['policy', `flush after ${formatDuration(p.intervalMs / 1000)} or ${formatBytes(p.maxDirtyBytes)} pending, at most every ${formatDuration(p.minIntervalMs / 1000)}, at ${formatBytes(p.rateBytesPerSec)}/s`]);
  } else {
    rows.push(['pending', status.mode === 'direct' ? 'nothing: direct mode writes straight to the upper' : 'nothing reaches a flash in volatile mode']);
  }
  rows.push(['reset', status.resetPending ? 'PENDING: the next boot wipes the upper' : 'not scheduled']);
  rows.push(['warnings', status.warnings.length ? status.warnings.map((w) => `- ${w}`).join('\n') : 'none']);
  return block(rows);
}

export function formatChanges(page: ChangesPage): string {
  if (page.total === 0) return 'no changes';
  const rows = page.entries.map((e) => [
    e.state,
    e.kind + (e.onFlash ? ` (flash: ${e.onFlash})` : ''),
    e.bytes === undefined ? '' : formatBytes(e.bytes),
    e.path,
  ]);
  const lines = rows.length ? [table(['STATE', 'KIND', 'BYTES', 'PATH'], rows, [2])] : [];
  const end = page.offset + page.entries.length;
  if (page.offset > 0 || end < page.total) {
    lines.push(`${rows.length ? `${page.offset + 1}-${end}` : 'none'} of ${count(page.total)}${end < page.total ? ` (more: --offset ${end}, or --all)` : ''}`);
  } else {
    lines.push(`${count(page.total)} ${page.total === 1 ? 'change' : 'changes'}`);
  }
  return lines.join('\n');
}

function describeVersion(v: FileVersion | null): string {
  if (!v) return 'absent';
  const parts = [v.type, formatBytes(v.size)];
  if (v.sha256) parts.push(`sha256 ${v.sha256.slice(0, 12)}`);
  if (v.target !== undefined) parts.push(`-> ${v.target}`);
  return parts.join(', ');
}

export function formatDiff(diff: Diff): string {
  const header = `${diff.path}: ${diff.base} version (${describeVersion(diff.old)}) vs now (${describeVersion(diff.new)})`;
  if (diff.format === 'text') {
    const text = diff.unified ?? '';
    return text === '' ? `${header}\nno difference` : `${header}\n${text.replace(/\n$/, '')}`;
  }
  if (diff.format === 'binary') {
    const same = diff.old?.sha256 !== undefined && diff.old.sha256 === diff.new?.sha256;
    return `${header}\n${same ? 'the same content' : 'binary or too large for a text diff: the contents differ'}`;
  }
  return `${header}\n${diff.old?.type ?? 'absent'} -> ${diff.new?.type ?? 'absent'}`;
}

export function formatCommit(result: CommitResult): string {
  const what = result.paths.length ? result.paths.join(', ') : 'everything pending';
  if (result.batches === 0) return `committed ${what}: nothing needed flushing`;
  return `committed ${what}: ${count(result.batches)} ${result.batches === 1 ? 'batch' : 'batches'}, ${formatBytes(result.bytes)} written to the flash`;
}

export function formatDiscard(result: DiscardResult): string {
  if (result.discarded.length === 0) return 'nothing to discard';
  return [`discarded the pending changes of ${count(result.discarded.length)} ${result.discarded.length === 1 ? 'path' : 'paths'}:`, ...result.discarded.map((p) => `  ${p}`)].join('\n');
}

export function formatRevert(result: RevertResult): string {
  if (result.reverted.length === 0) return 'nothing to revert';
  return [`back at the factory version (${count(result.reverted.length)}):`, ...result.reverted.map((p) => `  ${p}`)].join('\n');
}

export function formatReset(result: ResetResult): string {
  return `factory reset scheduled (${result.marker})\nnext: ${result.next}`;
}

export function formatTop(top: Top): string {
  const totals = `total: written ${formatBytes(top.totals.written)}, flushed ${formatBytes(top.totals.flushed)}, avoided ${formatBytes(top.totals.avoided)}`;
  if (top.entries.length === 0) return `nothing written yet\n${totals}`;
  const rows = top.entries.map((e) => [formatBytes(e.written), formatBytes(e.flushed), formatBytes(e.avoided), e.path]);
  return `${table(['WRITTEN', 'FLUSHED', 'AVOIDED', top.depth > 0 ? `PATH (depth ${top.depth})` : 'PATH'], rows, [0, 1, 2])}\n${totals}`;
}
