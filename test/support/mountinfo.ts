// Reads /proc/self/mountinfo: the one reliable answer to "is this mounted, and as what".

import { readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export interface MountEntry {
  mountId: number;
  /** Device numbers from the "major:minor" field; for FUSE the minor is the connection number. */
  major: number;
  minor: number;
  mountpoint: string;
  fstype: string;
  source: string;
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function readMountinfo(): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    const [major, minor] = fields[2]!.split(':').map(Number);
    entries.push({
      mountId: Number(fields[0]),
      major: major!,
      minor: minor!,
      mountpoint: unescapeOctal(fields[4]!),
      fstype: fields[separator + 1]!,
      source: unescapeOctal(fields[separator + 2]!),
    });
  }
  return entries;
}

/**
 * Absolute path as mountinfo spells it. Only the parent is resolved: resolving the path itself
 * would stat the mount's root, which blocks forever if the FUSE daemon behind it hangs.
 */
export function canonicalPath(path: string): string {
  const absolute = resolve(path);
  try {
    return join(realpathSync(dirname(absolute)), basename(absolute));
  } catch {
    return absolute;
  }
}

/** The topmost mount at exactly this path, or undefined. */
export function findMount(mountpoint: string): MountEntry | undefined {
  const wanted = canonicalPath(mountpoint);
  const matches = readMountinfo().filter((entry) => entry.mountpoint === wanted);
  return matches[matches.length - 1];
}

/** Mounts at or below a directory (used to refuse deleting a tree that still has mounts in it). */
export function mountsUnder(directory: string): MountEntry[] {
  const base = canonicalPath(directory);
  return readMountinfo().filter((entry) => entry.mountpoint === base || entry.mountpoint.startsWith(`${base}/`));
}
