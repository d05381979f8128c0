// Run-time knobs, from the environment so that a failure's reproducer is one command line:
//   PERSIST_DIFF_SEEDS=3,17   seeds to run (default: DEFAULT_SEEDS)
//   PERSIST_DIFF_OPS=500      operations per seed (default: DEFAULT_OPS)
//   PERSIST_DIFF_TARGET=kernel   compare kernel overlayfs with itself (proves the harness)
//   PERSIST_DIFF_TRACE=FILE   append every step and both results to FILE as JSON lines

import type { TargetKind } from './union-target.js';

export const DEFAULT_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
export const DEFAULT_OPS = 1000;

export interface DifferentialConfig {
  seeds: number[];
  opsPerSeed: number;
  target: TargetKind;
  traceFile: string | undefined;
}

function parseSeeds(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return DEFAULT_SEEDS;
  return text.split(',').map((part) => {
    const seed = Number(part.trim());
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`PERSIST_DIFF_SEEDS: "${part}" is not a non-negative integer`);
    return seed;
  });
}

function parseOps(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return DEFAULT_OPS;
  const ops = Number(text);
  if (!Number.isInteger(ops) || ops < 0) throw new Error(`PERSIST_DIFF_OPS: "${text}" is not a non-negative integer`);
  return ops;
}

function parseTarget(text: string | undefined): TargetKind {
  if (text === undefined || text === '' || text === 'persistd') return 'persistd';
  if (text === 'kernel' || text === 'persistd-staged') return text;
  throw new Error(`PERSIST_DIFF_TARGET: "${text}" is not "persistd", "persistd-staged" or "kernel"`);
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): DifferentialConfig {
  return {
    seeds: parseSeeds(env.PERSIST_DIFF_SEEDS),
    opsPerSeed: parseOps(env.PERSIST_DIFF_OPS),
    target: parseTarget(env.PERSIST_DIFF_TARGET),
    traceFile: env.PERSIST_DIFF_TRACE || undefined,
  };
}
