/**
 * One persistd: checks the layout, recovers the journal, prepares the stage, builds the union,
 * mounts it and starts the flusher. The CLI and (later) the boot code call this; nothing here
 * parses arguments or handles signals.
 */
import { join } from 'node:path';
import { native } from '../native/index.js';
import { Flusher, underAny, type FlushPolicy } from '../flush/flusher.js';
import { flashPaths, recoverJournal } from '../flush/journal.js';
import type { FlushStats } from '../flush/metrics.js';
import { sleep } from '../flush/sleep.js';
import { prepareStage } from '../flush/stage.js';
import { nextEpoch } from '../flush/state.js';
import { mountUnion, type MountedUnion } from '../fuse/mount.js';
import { Overlay } from '../overlay/index.js';
import { INODE_LOG } from '../overlay/work-dir.js';
import { mappingFilesIn } from '../overlay/inodes.js';
import { validateLayout, type Layout, type LayoutRequest } from '../overlay/validate.js';

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
}

export interface Serving {
  layout: Layout;
  mounted: MountedUnion;
  /** Flush everything written so far (staged mode); resolves at once in the other modes. */
  flush(): Promise<void>;
  status(): FlushStats | null;
  /** Flush, unmount, flush what came in meanwhile, stop. */
  stop(): Promise<void>;
}

export async function serve(request: ServeRequest): Promise<Serving> {
  const layout = validateLayout(request.layout);
  const { log } = request;
  const paths = layout.mode === 'staged' ? flashPaths(layout.flashDir!, layout.upper!) : null;
  let overlay: Overlay;
  let flusher: Flusher | null = null;
  if (layout.mode === 'direct') {
    const inodeLog = join(layout.work, INODE_LOG);
    overlay = new Overlay({
      layers: { upper: layout.upper!, work: layout.work, lowers: layout.lowers },
      inodes: { readFrom: [inodeLog], appendTo: inodeLog, epoch: 0 },
    });
  } else {
    let lastSeq = 0;
    let epoch = 0;
    if (paths) {
      const recovery = await recoverJournal(paths);
      for (const seq of recovery.rolledBack) log(`persistd: recovery: rolled back uncommitted batch ${seq}`);
      for (const seq of recovery.completed) log(`persistd: recovery: completed committed batch ${seq}`);
      lastSeq = recovery.lastSeq;
      epoch = await nextEpoch(layout.flashDir!);
    }
    const stage = prepareStage(layout.stage!, layout.upper ?? layout.lowers[0]!, log);
    overlay = new Overlay({
      layers: { upper: layout.upper ?? undefined, stage: stage.top, work: stage.work, lowers: layout.lowers },
      inodes: { readFrom: paths ? mappingFilesIn(paths.inodes) : [], appendTo: null, epoch },
    });
    if (paths) {
      flusher = new Flusher(overlay, {
        stageDir: layout.stage!, paths, policy: request.policy, lastSeq, metricsFile: request.metricsFile, volatile: request.volatile, log,
      });
    }
  }

  const honors = (path: string) => underAny(path, request.fsyncHonor);
  const mounted = await mountUnion(request.mountpoint, overlay, {
    admitWrite: layout.stage && flusher ? backpressure(layout.stage, flusher) : undefined,
    fsync: (path) => (layout.mode === 'direct' ? 'sync' : flusher && honors(path) ? honoredFsync(flusher, path, log) : 'skip'),
  });
  flusher?.start();

  return {
    layout,
    mounted,
    flush: () => flusher?.flush() ?? Promise.resolve(),
    status: () => flusher?.status() ?? null,
    stop: async () => {
      await flushForShutdown(flusher, log);
      await mounted.unmount();
      await flushForShutdown(flusher, log);
      flusher?.stop();
      overlay.files.closeAll();
    },
  };
}

/**
 * An fsync that must mean "on flash": it waits for a flush carrying the file. When the flash
 * cannot take it (full, failing), fsync fails with EIO, as a disk's would; the data stays in RAM
 * and later flushes keep trying.
 */
async function honoredFsync(flusher: Flusher, path: string, log: (line: string) => void): Promise<void> {
  try {
    await flusher.flush();
  } catch (err) {
    log(`persistd: fsync of ${path} failed with EIO: the flush did not reach the flash (${(err as Error).message})`);
    throw Object.assign(new Error(`fsync ${path}: the flash did not take the flush`), { code: 'EIO' });
  }
}

async function flushForShutdown(flusher: Flusher | null, log: (line: string) => void): Promise<void> {
  if (!flusher) return;
  for (let attempt = 1; ; attempt++) {
    try {
      await flusher.flush();
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

const LOW_ROOM_FRACTION = 0.1;
const LOW_ROOM_MIN_BYTES = 1024 * 1024;
const MAX_WAIT_MS = 10_000;

/**
 * Slow writers down before the stage fills: when its free space drops under 10% (at least
 * 1 MiB), flush at once and hold each write until the flush has made room (or 10 s passed, or
 * the flash is failing: then the write goes on and may get ENOSPC).
 */
function backpressure(stageDir: string, flusher: Flusher): (bytes: number) => Promise<void> | null {
  let checkedAt = 0;
  let bytesSinceCheck = 0;
  let low = false;
  const stageIsLow = () => {
    const [, frsize = 0, blocks = 0, , bavail = 0] = native.statvfs(stageDir);
    return bavail * frsize < Math.max(blocks * frsize * LOW_ROOM_FRACTION, LOW_ROOM_MIN_BYTES);
  };
  return (bytes) => {
    // statvfs is cheap but not free: ask again every 20 ms or 256 KiB written.
    const now = Date.now();
    bytesSinceCheck += bytes;
    if (now - checkedAt >= 20 || bytesSinceCheck >= 256 * 1024) {
      checkedAt = now;
      bytesSinceCheck = 0;
      low = stageIsLow();
    }
    if (!low) return null;
    return (async () => {
      const deadline = Date.now() + MAX_WAIT_MS;
      while (Date.now() < deadline && stageIsLow()) {
        flusher.relieve();
        if (flusher.status().lastFlush?.success === false) break; // the flash is failing: no room is coming
        await sleep(25);
      }
      low = stageIsLow();
    })();
  };
}
