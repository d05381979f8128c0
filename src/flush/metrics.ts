/**
 * Wear accounting: what applications wrote, what reached the flash, what was avoided, what is
 * pending, how the last flush went, and the flash device's own write counters. Read by the
 * status call and written as a Prometheus textfile (atomically: temp file, then rename).
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';

export interface FlushStats {
  appBytesWritten: number;
  flashBytesWritten: number;
  flushes: number;
  flushFailures: number;
  pendingBytes: number;
  oldestPendingSeconds: number;
  lastFlush: {
    success: boolean;
    timestamp: number;
    durationSeconds: number;
    bytes: number;
    error?: string;
  } | null;
  /** The upper's block device counters, when it has one. */
  device: { name: string; writeIos: number; sectorsWritten: number } | null;
  /** What the daemon keeps in memory about the stage: it must shrink again after flushes. */
  bookkeeping: Bookkeeping;
}

export interface Bookkeeping {
  /** Large files whose changed ranges are tracked in RAM. */
  stubs: number;
  /** Inode numbers kept for objects in the stage, and for objects in the upper. */
  stageInodeMappings: number;
  upperInodeMappings: number;
  /** Paths with a change not yet on the flash. */
  pendingPaths: number;
}

/** Bytes applications wrote that never had to reach the flash. */
export function bytesAvoided(stats: FlushStats): number {
  return Math.max(0, stats.appBytesWritten - stats.flashBytesWritten - stats.pendingBytes);
}

/** /sys/dev/block/M:m/stat of the device that holds `path`, or null (tmpfs, or not Linux). */
export function deviceStatPath(path: string): string | null {
  const dev = BigInt(statSync(path, { bigint: true }).dev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  const statPath = `/sys/dev/block/${major}:${minor}/stat`;
  try {
    readFileSync(statPath);
    return statPath;
  } catch {
    return null;
  }
}

/** Writes completed and sectors written (512 bytes each), per Documentation/block/stat.rst. */
export function readDeviceCounters(statPath: string): { writeIos: number; sectorsWritten: number } {
  const fields = readFileSync(statPath, 'utf8').trim().split(/\s+/).map(Number);
  return { writeIos: fields[4] ?? 0, sectorsWritten: fields[6] ?? 0 };
}

export function prometheusText(stats: FlushStats): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  metric('persist_app_bytes_written_total', 'counter', 'Bytes applications wrote through the union.', stats.appBytesWritten);
  metric('persist_flash_bytes_written_total', 'counter', 'Bytes persist wrote to the flash (file data).', stats.flashBytesWritten);
  metric('persist_flushes_total', 'counter', 'Completed flushes.', stats.flushes);
  metric('persist_flush_failures_total', 'counter', 'Failed flush attempts (the data stayed in RAM).', stats.flushFailures);
  metric('persist_bytes_avoided_total', 'counter', 'Bytes written by applications that never had to reach the flash.', bytesAvoided(stats));
  metric('persist_pending_bytes', 'gauge', 'Bytes written and not yet on the flash.', stats.pendingBytes);
  metric('persist_oldest_pending_seconds', 'gauge', 'Age of the oldest change not yet on the flash.', stats.oldestPendingSeconds);
  const last = stats.lastFlush;
  metric('persist_last_flush_success', 'gauge', '1 if the last flush attempt succeeded.', last?.success ? 1 : 0);
  metric('persist_last_flush_timestamp_seconds', 'gauge', 'When the last flush attempt ended.', last ? last.timestamp : 0);
  metric('persist_last_flush_duration_seconds', 'gauge', 'How long the last flush attempt took.', last ? last.durationSeconds : 0);
  const book = stats.bookkeeping;
  metric('persist_stubs', 'gauge', 'Large files whose changed ranges are kept in RAM.', book.stubs);
  metric('persist_stage_inode_mappings', 'gauge', 'Inode numbers remembered for objects in the stage.', book.stageInodeMappings);
  metric('persist_upper_inode_mappings', 'gauge', 'Inode numbers remembered for objects in the upper.', book.upperInodeMappings);
  metric('persist_pending_paths', 'gauge', 'Paths with a change not yet on the flash.', book.pendingPaths);
  if (stats.device) {
    metric('persist_flash_device_write_ios', 'counter', `Write requests completed by ${stats.device.name}.`, stats.device.writeIos);
    metric('persist_flash_device_sectors_written', 'counter', `512-byte sectors written to ${stats.device.name}.`, stats.device.sectorsWritten);
  }
  return lines.join('\n') + '\n';
}

/** Replace `path` atomically, so a collector never reads half a file. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
