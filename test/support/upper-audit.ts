// Checks that an upper directory is in the kernel overlayfs format and carries nothing else: no
// FUSE leftovers (.fuse_hidden*), no bookkeeping xattrs, no whiteout inside an opaque directory.
// Input is a snapshot taken with all xattrs (allXattrs), so trusted.overlay.* is visible.

import type { TreeEntry } from './tree-snapshot.js';

/** The xattrs kernel overlayfs itself may write into an upper (fs/overlayfs/overlayfs.h). */
export const KERNEL_OVERLAY_XATTRS = [
  'opaque', 'redirect', 'origin', 'impure', 'nlink', 'upper', 'metacopy', 'protattr', 'uuid', 'whiteout', 'whiteouts',
].map((name) => `trusted.overlay.${name}`);

/**
 * An application that sets trusted.overlay.X through the union gets it stored escaped as
 * trusted.overlay.overlay.X (kernel 6.7+), so it is not mistaken for overlay metadata.
 */
export function escapedOverlayXattr(name: string): string {
  return name.startsWith('trusted.overlay.') ? `trusted.overlay.overlay.${name.slice('trusted.overlay.'.length)}` : name;
}

export function isWhiteout(entry: TreeEntry): boolean {
  return entry.type === 'char' && entry.rdev === '0:0';
}

function isOpaqueDir(entry: TreeEntry): boolean {
  return entry.type === 'dir' && entry.xattrs['trusted.overlay.opaque'] === Buffer.from('y').toString('hex');
}

/**
 * Problems found (empty when the upper is clean). `allowedXattrs` are the names the test itself
 * put on files (in the lower layers or through operations); kernel overlay names are always allowed.
 */
export function auditUpper(upper: TreeEntry[], allowedXattrs: readonly string[]): string[] {
  const allowed = new Set([...KERNEL_OVERLAY_XATTRS, ...allowedXattrs].flatMap((name) => [name, escapedOverlayXattr(name)]));
  const opaqueDirs = new Set(upper.filter(isOpaqueDir).map((entry) => entry.path));
  const problems: string[] = [];
  for (const entry of upper) {
    const name = entry.path.split('/').pop() ?? '';
    if (name.startsWith('.fuse_hidden')) problems.push(`FUSE leftover /${entry.path}`);
    for (const xattr of Object.keys(entry.xattrs)) {
      if (!allowed.has(xattr)) problems.push(`unexpected xattr ${xattr} on /${entry.path}`);
    }
    if (isWhiteout(entry)) {
      const parts = entry.path.split('/');
      for (let depth = 1; depth < parts.length; depth++) {
        const ancestor = parts.slice(0, depth).join('/');
        if (opaqueDirs.has(ancestor)) problems.push(`whiteout /${entry.path} inside opaque dir /${ancestor}`);
      }
    }
  }
  return problems;
}
