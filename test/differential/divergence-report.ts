// What a failed differential run tells a developer: which seed and operation, what each union
// answered, the recent history, and one command line that reproduces it.

import type { OpResult, Step } from './ops.js';
import type { TargetKind } from './union-target.js';

export interface ExecutedStep {
  index: number;
  step: Step;
  /** The oracle's answer (the target's was identical, or this is the diverging step). */
  result: OpResult;
}

export interface Divergence {
  seed: number;
  target: TargetKind;
  /** What disagreed: one operation's results, the trees, the kernel remount, the upper, shutdown. */
  phase: 'op' | 'tree' | 'remount' | 'upper-audit' | 'shutdown';
  /** Steps performed before it was found (the reproducer runs exactly this many). */
  opsRun: number;
  step?: Step;
  oracleResult?: OpResult;
  targetResult?: OpResult;
  details: string[];
  recent: ExecutedStep[];
}

export const RECENT_STEPS = 20;

// Modes print in octal: {"mode":"0o4755"} reads better than {"mode":2541}.
const octalModes = (key: string, value: unknown): unknown =>
  key === 'mode' && typeof value === 'number' ? `0o${value.toString(8)}` : value;

const compact = (value: unknown, limit = 400): string => {
  const text = JSON.stringify(value, octalModes) ?? 'undefined';
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
};

/** The command that reruns exactly the operations of a seed up to and including the divergence. */
export function seedReproducer(divergence: Divergence, testFile: string): string {
  const targetVariable = divergence.target === 'persistd' ? '' : `PERSIST_DIFF_TARGET=${divergence.target} `;
  return `${targetVariable}PERSIST_DIFF_SEEDS=${divergence.seed} PERSIST_DIFF_OPS=${divergence.opsRun} node --test ${testFile}`;
}

export function formatDivergence(divergence: Divergence, reproducer: string): string {
  const lines: string[] = [];
  const where = divergence.step ? `op #${divergence.opsRun - 1}` : `after ${divergence.opsRun} ops`;
  const targetName = divergence.target === 'kernel' ? 'kernel#2' : 'persistd';
  lines.push(`${targetName} differs from kernel overlayfs (${divergence.phase}): seed ${divergence.seed}, ${where}`);
  if (divergence.step) {
    lines.push(`  op (uid ${divergence.step.uid}): ${compact(divergence.step.op)}`);
    lines.push(`  kernel:   ${compact(divergence.oracleResult, 2000)}`);
    lines.push(`  ${targetName}: ${compact(divergence.targetResult, 2000)}`);
  }
  for (const detail of divergence.details) lines.push(`  ${detail.replace(/\n/g, '\n  ')}`);
  lines.push(`reproduce: ${reproducer}`);
  if (divergence.recent.length > 0) {
    lines.push(`last ${divergence.recent.length} ops before it (uid, op → kernel's result):`);
    for (const { index, step, result } of divergence.recent) {
      lines.push(`  #${index} uid ${step.uid} ${compact(step.op, 200)} → ${compact(result, 160)}`);
    }
  }
  return lines.join('\n');
}
