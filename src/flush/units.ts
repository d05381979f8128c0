/**
 * Durations and sizes written the way people write them: "30s", "500ms", "2m", "1h"; "32MiB",
 * "8MB", "4k", "1048576". Errors say what would be valid.
 */
import { UserError } from '../errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
};

/** Milliseconds. A bare number is seconds. */
export function parseDuration(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase() || 's';
  const factor = DURATION_UNITS[unit];
  if (!match || factor === undefined) {
    throw new UserError(`${what}: '${text}' is not a duration`, 'write e.g. 30s, 500ms, 2m or 1h');
  }
  return Number(match[1]) * factor;
}

/** Bytes. Binary units for k/M/G (as df -h does), decimal for kB/MB/GB. */
export function parseSize(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  if (!match || factor === undefined) {
    throw new UserError(`${what}: '${text}' is not a size`, 'write e.g. 32MiB, 512k, 8MB or 1048576');
  }
  return Math.round(Number(match[1]) * factor);
}

/** Bytes per second: a size, optionally followed by "/s". */
export function parseRate(text: string, what: string): number {
  return parseSize(text.replace(/\/s$/i, ''), what);
}
