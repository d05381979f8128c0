/**
 * One persistd: checks the layout, recovers the journal, builds the union (in staged and volatile
 * modes through the stage's owner, src/stage, which also runs the flusher) and mounts it. The CLI
 * and (later) the boot code call this; nothing here parses arguments or handles signals.
 */
import { join } from 'node:path';
import type { FlushPolicy } from '../flush/flusher.js';
import { compactDirectLog, compactInodeMaps } from '../flush/inode-maps.js';
import { flashPaths, recoverJournal } from '../flush/journal/index.js';
import type { FlushStats } from '../flush/metrics.js';
import { sleep } from '../flush/sleep.js';
import { nextEpoch } from '../flush/state.js';
import { mountUnion, type MountedUnion } from '../fuse/mount.js';
import { Overlay } from '../overlay/index.js';
import { INODE_LOG } from '../overlay/work-dir.js';
import { mappingFilesIn } from '../overlay/inodes.js';
import { validateLayout, type Layout, type LayoutRequest } from '../overlay/validate.js';
import { Stage } from '../stage/index.js';
import type { ControlTarget } from '../control/protocol.js';
import { createControlTarget, DirectChanges } from './control-target.js';

export interface ServeRequest {
  layout: LayoutRequest;
  mountpoint: string;
  policy: FlushPolicy;
  /** Path prefixes where fsync waits for a flush; elsewhere it returns once data is in RAM. */
  fsyncHonor: string[];
  /** Path prefixes kept in RAM only (staged mode): never flushed, gone at restart. */
  volatile: string[];
  metricsFile?: string;
  log: (line: string) => void;
  /** What the operator calls the mount (boot: "/", while persistd sees its own chroot's path). */
  servedAs?: string;
  /**
   * Where the mount stays reachable by path after the boot moved it out of persistd's view
   * (boot: /proc/1/root, init's root), for telling the kernel about changes (MountedUnion.invalidate).
   */
  reachableAt?: string;
  /** The boot's fallback (why it does not persist as its profile asks), shown by persistctl status. */
  bootFallback?: string | null;
}

export interface Serving {
  layout: Layout;
  mounted: MountedUnion;
  /** The stage's owner (staged and volatile modes); null in direct mode. */
  stage: Stage | null;
  /** What the control socket serves (src/control/server.ts). */
  control: ControlTarget;
  /** Flush everything written so far (staged mode); resolves at once in the other modes. */
  flush(): Promise<void>;
  status(): FlushStats | null;
  /** Flush, unmount, flush what came in meanwhile, stop. */
  stop(): Promise<void>;
}

export async function serve(request: ServeRequest): Promise<Serving> {
  const layout = validateLayout(request.layout);
  const { log } = request;
  let union: Overlay;
  let stage: Stage | null = null;
  let directChanges: DirectChanges | null = null;
  if (layout.mode === 'direct') {
    const inodeLog = join(layout.work, INODE_LOG);
    compactDirectLog(layout.upper!, inodeLog);
    directChanges = new DirectChanges();
    union = new Overlay({
      layers: { upper: layout.upper!, work: layout.work, lowers: layout.lowers },
      inodes: { readFrom: [inodeLog], appendTo: inodeLog, epoch: 0 },
      changes: directChanges,
    });
  } else {
    const paths = layout.mode === 'staged' ? flashPaths(layout.flashDir!, layout.upper!) : null;
    let lastSeq = 0;
    let epoch = 0;
    if (paths) {
      const recovery = await recoverJournal(paths);
      for (const seq of recovery.rolledBack) log(`persistd: recovery: rolled back uncommitted batch ${seq}`);
      for (const seq of recovery.completed) log(`persistd: recovery: completed committed batch ${seq}`);
      lastSeq = recovery.lastSeq;
      const maps = compactInodeMaps(paths.inodes);
      epoch = await nextEpoch(layout.flashDir!, maps.highestEpoch);
    }
    stage = new Stage({
      dir: layout.stage!,
      upper: layout.upper ?? undefined,
      lowers: layout.lowers,
      inodes: { readFrom: paths ? mappingFilesIn(paths.inodes) : [], appendTo: null, epoch },
      flash: paths ? { paths, policy: request.policy, lastSeq, metricsFile: request.metricsFile } : undefined,
      volatile: request.volatile,
      fsyncHonor: request.fsyncHonor,
      log,
    });
    union = stage.union;
  }

  const mounted = await mountUnion(
    request.mountpoint,
    union,
    { admitWrite: stage?.admitWrite, fsync: (path) => (stage ? stage.fsync(path) : 'sync') },
    request.reachableAt,
  );
  stage?.start();

  return {
    layout,
    mounted,
    stage,
    control: createControlTarget({
      layout,
      mountpoint: request.servedAs ?? mounted.mountpoint,
      union,
      stage,
      directChanges,
      policy: request.policy,
      log,
      invalidate: mounted.invalidate,
      bootFallback: request.bootFallback ?? null,
    }),
    flush: () => stage?.commit() ?? Promise.resolve(),
    status: () => stage?.status() ?? null,
    stop: async () => {
      await flushForShutdown(stage, log);
      await mounted.unmount();
      await flushForShutdown(stage, log);
      if (stage) stage.stop();
      else union.files.closeAll();
    },
  };
}

async function flushForShutdown(stage: Stage | null, log: (line: string) => void): Promise<void> {
  if (!stage?.status()) return; // direct and volatile modes have nothing to flush
  for (let attempt = 1; ; attempt++) {
    try {
      await stage.commit();
      return;
    } catch (err) {
      if (attempt === 3) {
        log(`persistd: LOST: could not flush the last changes to the flash (${(err as Error).message}); they were only in RAM`);
        return;
      }
      await sleep(1_000);
    }
  }
}
