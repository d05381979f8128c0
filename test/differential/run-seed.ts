// One seed of the differential test: fresh uppers on a fresh tmpfs, the kernel oracle and the union
// under test over the same lowers, the seed's steps on both, tree comparisons along the way,
// then shutdown, an audit of the persisted upper, and a kernel remount of that upper that must show
// the oracle's tree. Returns the first divergence instead of throwing, so the caller decides how
// to report it; harness failures (oracle problems, teardown leftovers) do throw.

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Cleanup } from '../support/cleanup.js';
import { mountKernelOverlay, type OverlayLayers } from '../support/overlayfs.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { diffSnapshots, type TreeEntry } from '../support/tree-snapshot.js';
import { auditUpper } from '../support/upper-audit.js';
import { findDocumentedDivergence } from './documented-divergences.js';
import { RECENT_STEPS, type Divergence, type ExecutedStep } from './divergence-report.js';
import { ExecutorPool } from './executor-pool.js';
import { dropDentryAndInodeCaches, mayRetryWithColdCaches, shouldDropCachesAfter } from './kernel-caches.js';
import { lowersForSeed, type LowerLayers } from './layers.js';
import { LOWER_XATTR_NAMES } from './lower-tree.js';
import { GENERATED_XATTR_NAMES } from './op-generator.js';
import type { OpResult, Step } from './ops.js';
import { mountUnionUnderTest, type TargetKind, type UnionUnderTest } from './union-target.js';

export interface SeedRun {
  /** Names the run and picks its lowers (see lowersForSeed). */
  seed: number;
  /** Usually new OpGenerator(seed, ...).generate(n); dedicated checks pass their own. */
  steps: Step[];
  target: TargetKind;
  /** Kernel target only: overlay features other than KERNEL_OVERLAY_FEATURES (harness self-test). */
  targetKernelFeatures?: string;
  layers: LowerLayers;
  /** A directory for this seed's tmpfs and mountpoints. */
  workspace: string;
  /** Compare whole trees after every this many operations (and at the end). */
  checkTreesEvery?: number;
  /** Test hook: changes the target's upper before it is mounted (proves the harness can fail). */
  tamperWithTargetUpper?: (upper: string) => void;
  /** If set, every step and both results are appended here as JSON lines (for debugging). */
  traceFile?: string;
}

export interface SeedOutcome {
  opsRun: number;
  /** Steps where the kernel changed its answer once its caches were cold (see kernel-caches.ts). */
  coldCacheRetries: number;
  divergence?: Divergence;
}

export async function runSeed(run: SeedRun): Promise<SeedOutcome> {
  const cleanup = new Cleanup();
  let outcome: SeedOutcome | undefined;
  let failure: unknown;
  try {
    outcome = await runSeedWithMounts(run, cleanup);
  } catch (error) {
    failure = error;
  }
  const teardownFailures = await cleanup.runAll();
  if (failure !== undefined) throw failure;
  if (teardownFailures.length > 0) throw new Error(`seed ${run.seed}: teardown left things behind:\n${teardownFailures.join('\n')}`);
  return outcome!;
}

interface SeedLayout {
  oracle: OverlayLayers;
  target: OverlayLayers;
  oracleMount: string;
  targetMount: string;
  remountMount: string;
  remountWork: string;
}

function layoutFor(root: string, lowers: string[]): SeedLayout {
  const layout: SeedLayout = {
    oracle: { lowers, upper: join(root, 'oracle/upper'), work: join(root, 'oracle/work') },
    target: { lowers, upper: join(root, 'target/upper'), work: join(root, 'target/work') },
    oracleMount: join(root, 'mnt/oracle'),
    targetMount: join(root, 'mnt/target'),
    remountMount: join(root, 'mnt/remount'),
    remountWork: join(root, 'remount/work'),
  };
  for (const directory of [layout.oracle.upper, layout.oracle.work, layout.target.upper, layout.target.work, layout.oracleMount, layout.targetMount]) {
    mkdirSync(directory, { recursive: true });
  }
  return layout;
}

async function runSeedWithMounts(run: SeedRun, cleanup: Cleanup): Promise<SeedOutcome> {
  const root = mountTmpfs(cleanup, join(run.workspace, `seed-${run.seed}`));
  const layout = layoutFor(root, lowersForSeed(run.layers, run.seed));
  run.tamperWithTargetUpper?.(layout.target.upper);
  const oracleRoot = mountKernelOverlay(cleanup, layout.oracle, layout.oracleMount);
  const target = await mountUnionUnderTest(run.target, cleanup, layout.target, layout.targetMount, run.targetKernelFeatures);
  // Registered after the mounts, so killed before they are torn down.
  const executors = new ExecutorPool(cleanup);

  const steps = run.steps;
  const history: ExecutedStep[] = [];
  let coldCacheRetries = 0;
  const diverged = (phase: Divergence['phase'], opsRun: number, details: string[], extra: Partial<Divergence> = {}): SeedOutcome => ({
    opsRun,
    coldCacheRetries,
    divergence: { seed: run.seed, target: run.target, phase, opsRun, details, recent: history.slice(-RECENT_STEPS), ...extra },
  });
  const checkEvery = run.checkTreesEvery ?? 250;

  let oracleTree = await executors.snapshot(oracleRoot);
  const initialDifferences = await compareTrees(executors, oracleTree, target);
  if (initialDifferences.length > 0) return diverged('tree', 0, ['trees differ before any operation:', ...initialDifferences]);

  for (const [index, step] of steps.entries()) {
    const { oracleResult, targetResult, retriedCold, details } = await runOnBoth(executors, step, oracleRoot, target.root);
    if (retriedCold && isDeepStrictEqual(oracleResult, targetResult)) coldCacheRetries++;
    if (run.traceFile) {
      appendFileSync(run.traceFile, `${JSON.stringify({ seed: run.seed, index, ...step, oracleResult, targetResult })}\n`);
    }
    if (!isDeepStrictEqual(oracleResult, targetResult) && !isDocumented(run.target, step, oracleResult, targetResult)) {
      return diverged('op', index + 1, details, { step, oracleResult, targetResult });
    }
    history.push({ index, step, result: oracleResult });
    if ((index + 1) % checkEvery === 0 || index + 1 === steps.length) {
      oracleTree = await executors.snapshot(oracleRoot);
      const differences = await compareTrees(executors, oracleTree, target);
      if (differences.length > 0) return diverged('tree', index + 1, [`trees differ after op #${index}:`, ...differences]);
    }
  }

  const shutdownProblem = await target.stop();
  if (shutdownProblem) return diverged('shutdown', steps.length, [shutdownProblem]);

  const allowedXattrs = [...LOWER_XATTR_NAMES, ...GENERATED_XATTR_NAMES];
  const oracleUpperProblems = auditUpper(await executors.snapshot(layout.oracle.upper, true), allowedXattrs);
  if (oracleUpperProblems.length > 0) {
    throw new Error(`harness bug: the kernel's own upper fails the upper audit:\n${oracleUpperProblems.join('\n')}`);
  }
  const upperProblems = auditUpper(await executors.snapshot(layout.target.upper, true), allowedXattrs);
  if (upperProblems.length > 0) return diverged('upper-audit', steps.length, ['the persisted upper is not clean:', ...upperProblems]);

  const remountRoot = mountKernelOverlay(cleanup, { ...layout.target, work: layout.remountWork }, layout.remountMount);
  const remountDifferences = diffSnapshots(oracleTree, await executors.snapshot(remountRoot));
  if (remountDifferences.length > 0) {
    return diverged('remount', steps.length, ['kernel overlayfs over the persisted upper shows another tree than the oracle:', ...remountDifferences]);
  }
  return { opsRun: steps.length, coldCacheRetries };
}

function isDocumented(target: TargetKind, step: Step, oracle: OpResult, result: OpResult): boolean {
  return target !== 'kernel' && findDocumentedDivergence(step, oracle, result) !== undefined;
}

interface StepResults {
  oracleResult: OpResult;
  targetResult: OpResult;
  retriedCold: boolean;
  details: string[];
}

/** Runs a step on the oracle, then on the target; re-asks a refusing kernel with cold caches. */
async function runOnBoth(executors: ExecutorPool, step: Step, oracleRoot: string, targetRoot: string): Promise<StepResults> {
  const oracleResult = await executors.run(step.uid, oracleRoot, step.op);
  const targetResult = await runOnTarget(executors, step, targetRoot);
  if (shouldDropCachesAfter(step.op, oracleResult)) dropDentryAndInodeCaches();
  if (isDeepStrictEqual(oracleResult, targetResult) || !mayRetryWithColdCaches(step.op, oracleResult)) {
    return { oracleResult, targetResult, retriedCold: false, details: [] };
  }
  dropDentryAndInodeCaches();
  const retried = await executors.run(step.uid, oracleRoot, step.op);
  if (isDeepStrictEqual(retried, targetResult)) return { oracleResult: retried, targetResult, retriedCold: true, details: [] };
  return { oracleResult, targetResult, retriedCold: true, details: [`with cold caches the kernel answered ${JSON.stringify(retried)}`] };
}

/** A hung or crashed target becomes a result that cannot equal the oracle's, so it is reported. */
async function runOnTarget(executors: ExecutorPool, step: Step, root: string): Promise<OpResult> {
  try {
    return await executors.run(step.uid, root, step.op);
  } catch (error) {
    return { ok: false, code: `HARNESS(${error instanceof Error ? error.message : String(error)})` };
  }
}

async function compareTrees(executors: ExecutorPool, oracleTree: TreeEntry[], target: UnionUnderTest): Promise<string[]> {
  try {
    return diffSnapshots(oracleTree, await executors.snapshot(target.root));
  } catch (error) {
    return [`snapshot of ${target.kind} failed: ${error instanceof Error ? error.message : String(error)}`];
  }
}
