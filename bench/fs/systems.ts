// The systems under test, each over the same mounted squashfs lower with a fresh tmpfs upper per
// repetition. A running system exposes its mountpoint and, for the FUSE ones, the daemon's pid
// (for pinning, peak RSS and CPU time).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from '../../test/support/cleanup.js';
import { run } from '../../test/support/command.js';
import { findMount } from '../../test/support/mountinfo.js';
import { mountKernelOverlay } from '../../test/support/overlayfs.js';
import { startPersistd } from '../../test/support/persistd.js';
import { mountTmpfs } from '../../test/support/tmpfs.js';
import { unmountForcefully } from '../../test/support/unmount.js';

export interface RunningSystem {
  mountpoint: string;
  /** The FUSE daemon's pid; undefined for kernel overlayfs. */
  pid?: number;
  stop(): Promise<void>;
}

export interface SystemDefinition {
  name: string;
  describe: string;
  /** Checked before the run: what is missing, or undefined. */
  missing(): string | undefined;
  start(cleanup: Cleanup, dir: string, lower: string): Promise<RunningSystem>;
}

const TMPFS_SIZE = '4g';
const STAGED_ARGS = ['--flush-interval', '1h', '--min-interval', '1h', '--max-dirty', '16GiB'];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function persist(name: string, staged: boolean): SystemDefinition {
  return {
    name,
    describe: staged
      ? `persistd staged: stage and upper on tmpfs, \`${STAGED_ARGS.join(' ')}\` (no flush during the workloads; the final flush at stop is not timed)`
      : 'persistd direct: upper on tmpfs',
    missing: () => undefined,
    async start(cleanup, dir, lower) {
      const tmp = mountTmpfs(cleanup, join(dir, 'tmpfs'), { size: TMPFS_SIZE });
      const mountpoint = join(dir, 'mnt');
      mkdirSync(mountpoint, { recursive: true });
      let stage: string | undefined;
      if (staged) {
        stage = join(tmp, 'stage');
        mkdirSync(stage);
      }
      const daemon = await startPersistd(cleanup, {
        lowers: [lower],
        upper: join(tmp, 'upper'),
        stage,
        mountpoint,
        socket: false,
        extraArgs: staged ? STAGED_ARGS : [],
        stopGraceMs: 180_000,
      });
      return {
        mountpoint,
        pid: daemon.pid,
        async stop() {
          const exit = await daemon.stop();
          if (exit.code !== 0 || exit.forced) {
            throw new Error(`persistd did not stop cleanly (code ${exit.code}, signal ${exit.signal}, forced ${exit.forced}):\n${exit.output.slice(-3000)}`);
          }
        },
      };
    },
  };
}

const kernel: SystemDefinition = {
  name: 'kernel-overlayfs',
  describe: 'kernel overlayfs (redirect_dir=off,index=off,metacopy=off,xino=off), upper and work on tmpfs',
  missing: () => undefined,
  async start(cleanup, dir, lower) {
    const tmp = mountTmpfs(cleanup, join(dir, 'tmpfs'), { size: TMPFS_SIZE });
    const mountpoint = mountKernelOverlay(cleanup, { lowers: [lower], upper: join(tmp, 'upper'), work: join(tmp, 'work') }, join(dir, 'mnt'));
    return {
      mountpoint,
      async stop() {
        unmountForcefully(mountpoint);
      },
    };
  },
};

/** A FUSE daemon run in the foreground (-f), so the pid we spawned is the daemon serving the mount. */
async function startFuseDaemon(cleanup: Cleanup, command: string, args: string[], mountpoint: string, fstype: string): Promise<RunningSystem> {
  const child: ChildProcess = spawn(command, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (findMount(mountpoint)) {
      const result = spawn('fusermount3', ['-u', mountpoint], { stdio: 'ignore' });
      await new Promise((resolve) => result.once('exit', resolve));
    }
    const deadline = Date.now() + 10_000;
    while (!gone() && Date.now() < deadline) await sleep(50);
    if (!gone()) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await Promise.race([exited, sleep(5_000)]);
    }
    unmountForcefully(mountpoint, { abortFuse: true });
  };
  cleanup.add(`stop ${command} ${mountpoint}`, stop);
  const deadline = Date.now() + 20_000;
  while (!findMount(mountpoint)?.fstype.startsWith(fstype)) {
    if (gone()) throw new Error(`${command} exited before mounting ${mountpoint}: ${stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`${command} did not mount ${fstype} at ${mountpoint} within 20 s: ${stderr.trim()}`);
    await sleep(25);
  }
  return { mountpoint, pid: child.pid!, stop };
}

const haveCommand = (name: string): boolean => {
  try {
    run('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
};

let lowerDirInodes: Set<number> | undefined;

function dirInodes(dir: string, into: Set<number>): Set<number> {
  into.add(statSync(dir).ino);
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) dirInodes(join(dir, entry.name), into);
  return into;
}

/**
 * fuse-overlayfs 1.10 reports the upper root's own st_ino for the mount's root, on the same st_dev
 * as the lower's directories: if that number is also a lower directory's inode (a fresh tmpfs's
 * first directory is inode 2, and so is the squashfs's `synth`), find and ls -R see a filesystem
 * loop and fail. So its upper is a tmpfs directory whose inode no lower directory has.
 */
function upperAvoidingLowerDirInodes(tmp: string, lower: string): string {
  lowerDirInodes ??= dirInodes(lower, new Set());
  for (let i = 0; ; i++) {
    const upper = join(tmp, `upper${i}`);
    mkdirSync(upper);
    if (!lowerDirInodes.has(statSync(upper).ino)) return upper;
  }
}

const fuseOverlayfs: SystemDefinition = {
  name: 'fuse-overlayfs',
  describe: 'fuse-overlayfs -f -o lowerdir=L,upperdir=U,workdir=W (Debian package), upper and work on tmpfs',
  missing: () => (haveCommand('fuse-overlayfs') ? undefined : 'apt-get install -y --no-install-recommends fuse-overlayfs'),
  async start(cleanup, dir, lower) {
    const tmp = mountTmpfs(cleanup, join(dir, 'tmpfs'), { size: TMPFS_SIZE });
    const [work, mountpoint] = [join(tmp, 'work'), join(dir, 'mnt')];
    for (const d of [work, mountpoint]) mkdirSync(d, { recursive: true });
    const upper = upperAvoidingLowerDirInodes(tmp, lower);
    return startFuseDaemon(cleanup, 'fuse-overlayfs', ['-f', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, mountpoint], mountpoint, 'fuse');
  },
};

const unionfsFuse: SystemDefinition = {
  name: 'unionfs-fuse',
  describe: 'unionfs -f -o cow UPPER=RW:LOWER=RO (Debian package unionfs-fuse), upper on tmpfs',
  missing: () => (haveCommand('unionfs') ? undefined : 'apt-get install -y --no-install-recommends unionfs-fuse'),
  async start(cleanup, dir, lower) {
    const tmp = mountTmpfs(cleanup, join(dir, 'tmpfs'), { size: TMPFS_SIZE });
    const [upper, mountpoint] = [join(tmp, 'upper'), join(dir, 'mnt')];
    for (const d of [upper, mountpoint]) mkdirSync(d, { recursive: true });
    return startFuseDaemon(cleanup, 'unionfs', ['-f', '-o', 'cow', `${upper}=RW:${lower}=RO`, mountpoint], mountpoint, 'fuse');
  },
};

export const SYSTEMS: readonly SystemDefinition[] = [
  persist('persist-direct', false),
  persist('persist-staged', true),
  kernel,
  fuseOverlayfs,
  unionfsFuse,
];
