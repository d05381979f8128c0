// The markdown table: one row per workload, one column per system, each cell the median and the
// min–max spread over the repetitions; then the daemons' peak RSS and CPU time per repetition.

import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { summarize, type Summary } from './stats.js';
import type { Workload } from './workloads.js';

export interface Results {
  systems: { name: string; describe: string }[];
  workloads: Workload[];
  /** values[system][workload] = one number per successful repetition. */
  values: Record<string, Record<string, number[]>>;
  errors: Record<string, Record<string, string[]>>;
  rss: Record<string, number[]>;
  cpu: Record<string, number[]>;
  reps: number;
  pinned: boolean;
  command: string;
  lower: { files: number; imageBytes: number };
  startedAt: Date;
  durationS: number;
  note?: string;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  if (n >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

function cell(summary: Summary | undefined, errors: string[] | undefined): string {
  if (!summary) return errors?.length ? 'error' : '–';
  const spread = summary.n > 1 ? ` (${fmt(summary.min)}–${fmt(summary.max)})` : '';
  const failed = errors?.length ? ` +${errors.length} err` : '';
  return `${fmt(summary.median)}${spread}${failed}`;
}

const FUSE_PEERS = ['fuse-overlayfs', 'unionfs-fuse'];

/** persist-direct against the better of the FUSE peers present: "2.8× slower" / "1.3× faster". */
function versus(results: Results, workload: Workload): string {
  const ours = summarize(results.values['persist-direct']?.[workload.name] ?? [])?.median;
  const peers = FUSE_PEERS.map((p) => summarize(results.values[p]?.[workload.name] ?? [])?.median).filter((v): v is number => v !== undefined);
  if (ours === undefined || peers.length === 0) return '';
  const better = workload.unit === 's' ? Math.min(...peers) : Math.max(...peers);
  const slowdown = workload.unit === 's' ? ours / better : better / ours;
  return slowdown >= 1 ? `${fmt(slowdown)}× slower` : `${fmt(1 / slowdown)}× faster`;
}

export function machine(): string[] {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  let os = '';
  try {
    os = /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    // no os-release
  }
  return [
    `- CPU: ${cpus().length} × ${cpu} (nproc ${cpus().length})`,
    `- RAM: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- kernel ${kernel}${os ? `, ${os}` : ''}`,
    `- node ${process.version}`,
  ];
}

export function renderTable(results: Results): string {
  const names = results.systems.map((s) => s.name);
  const withVersus = names.includes('persist-direct') && names.some((n) => FUSE_PEERS.includes(n));
  const header = ['workload', ...names, ...(withVersus ? ['persist-direct vs the better FUSE peer'] : [])];
  const lines = [`| ${header.join(' | ')} |`, `| --- | ${header.slice(1).map(() => '---:').join(' | ')} |`];
  for (const w of results.workloads) {
    const cells = names.map((n) => cell(summarize(results.values[n]?.[w.name] ?? []), results.errors[n]?.[w.name]));
    lines.push(`| ${w.label} (${w.unit}) | ${cells.join(' | ')}${withVersus ? ` | ${versus(results, w)}` : ''} |`);
  }
  const usage = (label: string, table: Record<string, number[]>): string =>
    `| ${label} | ${names.map((n) => (table[n]?.length ? cell(summarize(table[n]!), undefined) : '–')).join(' | ')}${withVersus ? ' | ' : ''} |`;
  lines.push(usage('daemon peak RSS (MiB)', results.rss));
  lines.push(usage('daemon CPU time per rep (s)', results.cpu));
  return lines.join('\n');
}

export function renderMarkdown(results: Results, notes: string[]): string {
  const date = results.startedAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return [
    '# Benchmarks',
    '',
    '## bench/fs: persist against kernel overlayfs, fuse-overlayfs and unionfs-fuse (issue 9)',
    '',
    ...(results.note ? [`**${results.note}**`, ''] : []),
    `Run ${date}, ${(results.durationS / 60).toFixed(1)} min; ${results.reps} repetition(s) per cell, each on a fresh mount with a fresh upper; ` +
      `${results.pinned ? 'daemon and workload **pinned** to CPU 0 (taskset)' : '**unpinned** (daemon and workload free to use every CPU)'}. ` +
      'Cells: median (min–max over the repetitions). Seconds: lower is better; MB/s (10^6 bytes/s): higher is better.',
    '',
    'Reproduce (as root, from the repository root):',
    '',
    '```sh',
    `npx tsc -p . && ${results.command}`,
    '```',
    '',
    'Machine:',
    '',
    ...machine(),
    '',
    `Lower: one zstd squashfs, ${results.lower.files} files (a copy of the host's /usr/include and /usr/share/doc, ` +
      `topped up with synthesized files, plus one 256 MiB file of incompressible data), ${(results.lower.imageBytes / 1e6).toFixed(0)} MB image, ` +
      'loop-mounted read-only once and shared by every system.',
    '',
    renderTable(results),
    '',
    'Systems:',
    '',
    ...results.systems.map((s) => `- **${s.name}**: ${s.describe}`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
