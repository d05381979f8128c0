// The read-only layers both unions are built on. The base layer resembles a small root filesystem
// and covers what copy-up must preserve: modes incl. setuid/setgid/sticky, owners root and 1000,
// nested and lower-only dirs, symlinks (relative, dangling, to a dir, absolute), a FIFO, a device,
// a hard-linked pair, user.* xattrs, security.capability and a 1 MiB file. It becomes a squashfs.
// The optional top layer (a plain directory) holds overlayfs' own markers: a whiteout hiding a base
// file and an opaque directory hiding a base directory's contents, plus a shadowing file.
//
// No symlink target contains "..": operations that follow links can never leave the union.

import { chmodSync, chownSync, lchownSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, run } from '../support/command.js';
import { makeCharDevice, makeFifo, makeWhiteout } from '../support/special-files.js';
import { setXattr } from '../support/xattr-cli.js';
import { contentBytes } from './prng.js';

interface Owned {
  path: string;
  uid?: number;
  gid?: number;
}

type NodeSpec =
  | (Owned & { type: 'dir'; mode: number; xattrs?: Record<string, string> })
  | (Owned & { type: 'file'; mode: number; content: string | Buffer; xattrs?: Record<string, string>; capability?: boolean })
  | (Owned & { type: 'symlink'; target: string })
  | (Owned & { type: 'fifo'; mode: number })
  | (Owned & { type: 'char'; mode: number; major: number; minor: number })
  | { path: string; type: 'hardlink'; existing: string }
  | { path: string; type: 'whiteout' }
  | { path: string; type: 'opaque-dir'; mode: number };

const MiB = 1024 * 1024;

const BASE_LAYER: NodeSpec[] = [
  { path: '', type: 'dir', mode: 0o755 },
  { path: 'bin', type: 'dir', mode: 0o755 },
  { path: 'bin/tool', type: 'file', mode: 0o755, content: '#!/bin/sh\necho base tool\n' },
  { path: 'bin/suid-tool', type: 'file', mode: 0o4755, content: 'setuid root\n' },
  { path: 'bin/sgid-tool', type: 'file', mode: 0o2755, gid: 1000, content: 'setgid 1000\n' },
  { path: 'bin/cap-tool', type: 'file', mode: 0o755, content: 'needs cap_net_raw\n', capability: true },
  { path: 'etc', type: 'dir', mode: 0o755 },
  { path: 'etc/config', type: 'file', mode: 0o644, content: 'key=value\n', xattrs: { 'user.origin': 'lower', 'user.empty': '' } },
  { path: 'etc/secret', type: 'file', mode: 0o600, content: 'root only\n' },
  { path: 'etc/readonly', type: 'file', mode: 0o444, content: 'read only\n' },
  { path: 'etc/hidden', type: 'file', mode: 0o644, content: 'whited out by the top layer\n' },
  { path: 'home', type: 'dir', mode: 0o755 },
  { path: 'home/user', type: 'dir', mode: 0o755, uid: 1000, gid: 1000, xattrs: { 'user.dir': 'home' } },
  { path: 'home/user/notes', type: 'file', mode: 0o644, uid: 1000, gid: 1000, content: 'notes\n', xattrs: { 'user.tag': 'x' } },
  { path: 'home/user/private', type: 'file', mode: 0o600, uid: 1000, gid: 1000, content: 'private\n' },
  { path: 'home/user/closed', type: 'dir', mode: 0o700, uid: 1000, gid: 1000 },
  { path: 'home/user/closed/inner', type: 'file', mode: 0o644, uid: 1000, gid: 1000, content: 'inner\n' },
  { path: 'tmp', type: 'dir', mode: 0o1777 },
  { path: 'tmp/root-file', type: 'file', mode: 0o644, content: 'root in sticky dir\n' },
  { path: 'tmp/user-file', type: 'file', mode: 0o666, uid: 1000, gid: 1000, content: 'user in sticky dir\n' },
  { path: 'sgid', type: 'dir', mode: 0o2775, gid: 1000 },
  { path: 'sgid/shared', type: 'file', mode: 0o664, gid: 1000, content: 'group shared\n' },
  { path: 'deep', type: 'dir', mode: 0o755, xattrs: { 'user.level': '0' } },
  { path: 'deep/a', type: 'dir', mode: 0o755 },
  { path: 'deep/a/file', type: 'file', mode: 0o644, content: 'deep a\n' },
  { path: 'deep/a/b', type: 'dir', mode: 0o755 },
  { path: 'deep/a/b/c', type: 'dir', mode: 0o755 },
  { path: 'deep/a/b/c/leaf', type: 'file', mode: 0o644, content: 'leaf\n' },
  { path: 'lonly', type: 'dir', mode: 0o755 },
  { path: 'lonly/x', type: 'file', mode: 0o644, content: 'x\n' },
  { path: 'lonly/y', type: 'file', mode: 0o640, uid: 1000, gid: 1000, content: 'y\n' },
  { path: 'lonly/sub', type: 'dir', mode: 0o755 },
  { path: 'lonly/sub/z', type: 'file', mode: 0o644, content: 'z\n' },
  { path: 'opq', type: 'dir', mode: 0o755 },
  { path: 'opq/old1', type: 'file', mode: 0o644, content: 'hidden by opaque top dir\n' },
  { path: 'opq/old2', type: 'dir', mode: 0o755 },
  { path: 'merged', type: 'dir', mode: 0o755 },
  { path: 'merged/from-base', type: 'file', mode: 0o644, content: 'base\n' },
  { path: 'link-rel', type: 'symlink', target: 'etc/config' },
  { path: 'link-dangling', type: 'symlink', target: 'missing' },
  { path: 'link-dir', type: 'symlink', target: 'deep/a' },
  { path: 'link-abs', type: 'symlink', target: '/nonexistent-persist-test/target' },
  { path: 'home/user/link-own', type: 'symlink', target: 'notes', uid: 1000, gid: 1000 },
  { path: 'fifo', type: 'fifo', mode: 0o644 },
  { path: 'null-device', type: 'char', mode: 0o666, major: 1, minor: 3 },
  { path: 'hard1', type: 'file', mode: 0o644, content: 'hard-linked pair\n' },
  { path: 'hard2', type: 'hardlink', existing: 'hard1' },
  { path: 'big.bin', type: 'file', mode: 0o644, content: contentBytes(MiB, 0xb16) },
  { path: 'empty', type: 'file', mode: 0o644, content: '' },
];

const TOP_LAYER: NodeSpec[] = [
  { path: '', type: 'dir', mode: 0o755 },
  { path: 'etc', type: 'dir', mode: 0o755 },
  { path: 'etc/hidden', type: 'whiteout' },
  { path: 'etc/from-top', type: 'file', mode: 0o644, content: 'top layer\n' },
  { path: 'opq', type: 'opaque-dir', mode: 0o755 },
  { path: 'opq/new', type: 'file', mode: 0o644, content: 'only entry of the opaque dir\n' },
  { path: 'merged', type: 'dir', mode: 0o755 },
  { path: 'merged/from-top', type: 'file', mode: 0o644, content: 'top\n' },
  { path: 'bin', type: 'dir', mode: 0o755 },
  { path: 'bin/tool', type: 'file', mode: 0o755, content: '#!/bin/sh\necho top tool shadows base tool\n' },
];

/** xattr names the lower layers carry, so an audit of an upper can tell them from strays. */
export const LOWER_XATTR_NAMES = ['user.origin', 'user.empty', 'user.dir', 'user.tag', 'user.level', 'security.capability'];

/** Every path the layers define (visible or not): the generator's starting pool. */
export function lowerPaths(): string[] {
  return [...new Set([...BASE_LAYER, ...TOP_LAYER].map((spec) => spec.path).filter((path) => path !== ''))];
}

export function buildBaseLayer(directory: string): void {
  buildLayer(directory, BASE_LAYER);
}

export function buildTopLayer(directory: string): void {
  buildLayer(directory, TOP_LAYER);
}

function buildLayer(root: string, specs: readonly NodeSpec[]): void {
  for (const spec of specs) createNode(root, spec);
}

function createNode(root: string, spec: NodeSpec): void {
  const path = join(root, spec.path);
  switch (spec.type) {
    case 'dir':
      mkdirSync(path, { recursive: true });
      break;
    case 'opaque-dir':
      mkdirSync(path, { recursive: true });
      chmodSync(path, spec.mode);
      setXattr({ path }, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    case 'file':
      writeFileSync(path, spec.content);
      break;
    case 'symlink':
      symlinkSync(spec.target, path);
      break;
    case 'fifo':
      makeFifo(path, spec.mode);
      break;
    case 'char':
      makeCharDevice(path, spec.major, spec.minor, spec.mode);
      break;
    case 'hardlink':
      linkSync(join(root, spec.existing), path);
      return;
    case 'whiteout':
      makeWhiteout(path);
      return;
  }
  // chown clears setuid/setgid and security.capability, so owner first, then mode, then xattrs.
  const uid = spec.uid ?? 0;
  const gid = spec.gid ?? 0;
  if (spec.type === 'symlink') {
    lchownSync(path, uid, gid);
    return;
  }
  chownSync(path, uid, gid);
  chmodSync(path, spec.mode);
  if (spec.type === 'fifo' || spec.type === 'char') return;
  for (const [name, value] of Object.entries(spec.xattrs ?? {})) setXattr({ path }, name, Buffer.from(value));
  if (spec.type === 'file' && spec.capability) setCapability(path);
}

/** security.capability = cap_net_raw+ep, via setcap when installed, else the raw v2 value. */
function setCapability(path: string): void {
  if (haveCommand('setcap')) {
    run('setcap', ['cap_net_raw+ep', path]);
    return;
  }
  // struct vfs_cap_data, revision 2: magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
  // then (permitted, inheritable) for capability words 0 and 1. CAP_NET_RAW is bit 13.
  const value = Buffer.alloc(20);
  value.writeUInt32LE(0x02000000 | 0x000001, 0);
  value.writeUInt32LE(1 << 13, 4);
  setXattr({ path }, 'security.capability', value);
}
