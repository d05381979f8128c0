// Turns the measurements into the markdown table and the target verdicts.

import type { FlashUsage } from './flash.js';
import type { NetChange } from './net.js';
import { formatBytes, formatCount, formatRatio } from './units.js';

export type Scenario = 'iot' | 'random';

export interface CaseResult {
  scenario: Scenario;
  system: string;
  description: string;
  ok: boolean;
  error?: string;
  flash?: FlashUsage;
  net?: Omit<NetChange, 'files'> & { files: NetChange['files'] };
  workload?: Record<string, unknown>;
  stagePeakBytes?: number;
  stageEndBytes?: number;
  /** One sample per second: cumulative flash writes since the baseline, and stage usage. */
  timeline?: { t: number; bytes: number; requests: number; stageBytes?: number }[];
  stop?: Record<string, unknown>;
  durationMs: number;
  cleanupFailures: string[];
}

export interface RunInfo {
  date: string;
  kernel: string;
  cpus: number;
  node: string;
  pinned: string | undefined;
  seconds: number;
  interval: string;
  randomWrites: number;
  bigFileMiB: number;
  /** Where the big file was before the writes: already in the upper (on the flash) or in the lower. */
  bigFileIn: 'upper' | 'lower';
  flashMiB: number;
  flashOptions: string;
  floor?: FlashUsage;
  command: string;
  totalMs: number;
}

export interface TargetVerdict {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/** The data a case had to keep: whole changed files for the IoT run, changed 4 KiB blocks for the big file. */
export function netBytes(result: CaseResult): number | undefined {
  if (!result.net) return undefined;
  return result.scenario === 'iot' ? result.net.changedFileBytes : result.net.changedBlockBytes;
}

function find(results: readonly CaseResult[], scenario: Scenario, system: string): CaseResult | undefined {
  return results.find((r) => r.scenario === scenario && r.system === system && r.ok);
}

export function evaluateTargets(results: readonly CaseResult[], interval: string, bigFileMiB: number): TargetVerdict[] {
  const caveat = interval === '30s' ? '' : ' (the target is stated for 30s)';
  const big = `${bigFileMiB} MiB file${bigFileMiB === 64 ? '' : ' (the target is stated for 64 MiB)'}`;
  const verdicts: TargetVerdict[] = [];
  const persistIot = find(results, 'iot', 'persist');
  const kernelIot = find(results, 'iot', 'kernel');
  const persistRandom = find(results, 'random', 'persist');
  const notMeasured = (why: string): { measured: string; met: undefined } => ({ measured: `not measured (${why})`, met: undefined });

  {
    const target = `IoT, ${interval} interval${caveat}: persist flash bytes ≤ 2× net data changed`;
    const net = persistIot ? netBytes(persistIot) : undefined;
    if (persistIot?.flash && net !== undefined) {
      const ratio = persistIot.flash.bytes / net;
      verdicts.push({ target, measured: `${formatBytes(persistIot.flash.bytes)} / ${formatBytes(net)} = ${formatRatio(persistIot.flash.bytes, net)}`, met: ratio <= 2 });
    } else verdicts.push({ target, ...notMeasured('no persist IoT result') });
  }
  for (const [what, pick] of [
    ['bytes', (f: FlashUsage) => f.bytes],
    ['write requests', (f: FlashUsage) => f.requests],
  ] as const) {
    const target = `IoT, ${interval} interval: persist writes ≥ 50× fewer flash ${what} than kernel overlayfs`;
    if (persistIot?.flash && kernelIot?.flash) {
      const k = pick(kernelIot.flash);
      const p = pick(persistIot.flash);
      const shown = what === 'bytes' ? (n: number) => formatBytes(n) : (n: number) => formatCount(n);
      verdicts.push({ target, measured: `${shown(k)} / ${shown(p)} = ${formatRatio(k, p)}`, met: p === 0 ? true : k / p >= 50 });
    } else verdicts.push({ target, ...notMeasured(persistIot ? 'no kernel overlayfs IoT result' : 'no persist IoT result') });
  }
  {
    const target = `${big}, 4 KiB random writes: persist flash bytes ≤ 3× bytes changed`;
    const net = persistRandom ? netBytes(persistRandom) : undefined;
    if (persistRandom?.flash && net) {
      verdicts.push({ target, measured: `${formatBytes(persistRandom.flash.bytes)} / ${formatBytes(net)} = ${formatRatio(persistRandom.flash.bytes, net)}`, met: persistRandom.flash.bytes <= 3 * net });
    } else verdicts.push({ target, ...notMeasured('no persist 64 MiB result') });
  }
  {
    const target = `${big}, 4 KiB random writes: persist RAM (stage tmpfs peak) ≤ 3× bytes changed`;
    const net = persistRandom ? netBytes(persistRandom) : undefined;
    if (persistRandom?.stagePeakBytes !== undefined && net) {
      verdicts.push({ target, measured: `${formatBytes(persistRandom.stagePeakBytes)} / ${formatBytes(net)} = ${formatRatio(persistRandom.stagePeakBytes, net)}`, met: persistRandom.stagePeakBytes <= 3 * net });
    } else verdicts.push({ target, ...notMeasured('no persist 64 MiB result') });
  }
  return verdicts;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function scenarioTable(results: readonly CaseResult[], scenario: Scenario): string[] {
  const kernel = find(results, scenario, 'kernel');
  const netHeader = scenario === 'iot' ? 'net data changed' : 'bytes changed';
  const ratioHeader = scenario === 'iot' ? 'flash / net' : 'flash / changed';
  const lines = [
    row(['system', 'flash bytes written', 'flash write requests', netHeader, ratioHeader, 'fewer bytes than kernel overlayfs', 'fewer requests than kernel overlayfs', 'RAM stage peak']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
  ];
  for (const result of results.filter((r) => r.scenario === scenario)) {
    if (!result.ok || !result.flash) {
      lines.push(row([result.system, `did not run: ${(result.error ?? 'unknown error').split('\n')[0]!.slice(0, 160)}`, '', '', '', '', '', '']));
      continue;
    }
    const net = netBytes(result);
    lines.push(
      row([
        result.system,
        formatBytes(result.flash.bytes),
        formatCount(result.flash.requests),
        net === undefined ? '–' : formatBytes(net),
        formatRatio(result.flash.bytes, net),
        result.system === 'kernel' ? '1×' : formatRatio(kernel?.flash?.bytes, result.flash.bytes),
        result.system === 'kernel' ? '1×' : formatRatio(kernel?.flash?.requests, result.flash.requests),
        result.stagePeakBytes === undefined ? '–' : formatBytes(result.stagePeakBytes),
      ]),
    );
  }
  return lines;
}

export function renderMarkdown(info: RunInfo, results: readonly CaseResult[], verdicts: readonly TargetVerdict[]): string {
  const out: string[] = [];
  out.push(`### Flash wear — ${info.date}`, '');
  out.push(
    `Linux ${info.kernel}, ${info.cpus} CPUs, Node ${info.node}; ` +
      (info.pinned === undefined
        ? '**not pinned** (no taskset: realistic scheduling).'
        : `**pinned** with taskset to CPU ${info.pinned} (benchmark, daemon, workload; kernel threads are not pinned).`),
  );
  out.push(
    `Flash: a fresh ${info.flashMiB} MiB ext4 image on a loop device per system, mounted \`${info.flashOptions}\`; counters from \`/sys/block/loopN/stat\` ` +
      'between just before the union is mounted and after it is stopped, synced and the flash unmounted.',
  );
  if (info.floor) {
    out.push(`Floor (mount an idle flash, sync, unmount — included in every row): ${formatBytes(info.floor.bytes)} in ${formatCount(info.floor.requests)} write requests.`);
  }
  out.push(`Command: \`${info.command}\` (${Math.round(info.totalMs / 1000)} s in total).`, '');
  if (results.some((r) => r.scenario === 'iot')) {
    out.push(`**IoT workload, ${info.seconds} s, flush/sync interval ${info.interval}** (net = total size of the files that differ from the lower at the end)`, '');
    out.push(...scenarioTable(results, 'iot'), '');
  }
  if (results.some((r) => r.scenario === 'random')) {
    out.push(
      `**${info.bigFileMiB} MiB file in the ${info.bigFileIn}, ${info.randomWrites} random 4 KiB pwrites, fsync, then stop** (bytes changed = differing 4 KiB blocks)`,
      '',
    );
    out.push(...scenarioTable(results, 'random'), '');
  }
  out.push('**Targets (issue 3)**', '', row(['target', 'measured', 'result']), row(['---', '---', '---']));
  for (const verdict of verdicts) {
    out.push(row([verdict.target, verdict.measured, verdict.met === undefined ? 'not measured' : verdict.met ? 'met' : '**not met**']));
  }
  out.push('', 'Systems:', '');
  const seen = new Set<string>();
  for (const result of results) {
    if (seen.has(result.system)) continue;
    seen.add(result.system);
    out.push(`- \`${result.system}\`: ${result.description}`);
  }
  return `${out.join('\n')}\n`;
}
