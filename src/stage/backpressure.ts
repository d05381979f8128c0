/**
 * Slow writers down before the stage fills: when its free space drops under 10% (at least
 * 1 MiB), flush at once and hold each write until the flush has made room (or 10 s passed, or
 * the flash is failing: then the write goes on and may get ENOSPC).
 */
import { native } from '../native/index.js';
import { sleep } from '../flush/sleep.js';

const LOW_ROOM_FRACTION = 0.1;
const LOW_ROOM_MIN_BYTES = 1024 * 1024;
const MAX_WAIT_MS = 10_000;

export interface Relief {
  /** Start a flush now if none is running. */
  relieve(): void;
  /** The last flush failed: no room is coming from the flash. */
  failing(): boolean;
}

/** A write gate: null to write at once, or a promise to wait for first. */
export type AdmitWrite = (bytes: number) => Promise<void> | null;

export function backpressure(stageDir: string, relief: Relief): AdmitWrite {
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
        relief.relieve();
        if (relief.failing()) break;
        await sleep(25);
      }
      low = stageIsLow();
    })();
  };
}
