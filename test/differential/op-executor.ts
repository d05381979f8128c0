// Performs one operation on a union and describes the outcome in a form that two correct
// filesystems agree on: errno names for failures; no inode numbers, no times (except where the
// operation is about times), no directory sizes or link counts.
//
// Every open uses O_NONBLOCK: the random operations hit FIFOs, and a blocking open of a FIFO
// would wait forever for a peer.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { tryRun } from '../support/command.js';
import { ToolError } from '../support/errno-message.js';
import { makeCharDevice, makeFifo } from '../support/special-files.js';
import { describeStats, fileTypeOf, type FileType } from '../support/tree-snapshot.js';
import { getXattr, listXattrs, removeXattr, setXattr } from '../support/xattr-cli.js';
import { constants as osConstants } from 'node:os';
import type { AccessMode, Content, Op, OpResult } from './ops.js';
import { bytesOf } from './prng.js';

const { O_CREAT, O_WRONLY, O_RDONLY, O_RDWR, O_TRUNC, O_APPEND, O_EXCL, O_NONBLOCK } = fs.constants;

/** Reads stop here: device nodes such as /dev/zero never reach end of file. */
const READ_LIMIT = 4 * 1024 * 1024;

export function executeOp(root: string, op: Op): OpResult {
  try {
    return { ok: true, value: perform(root, op) };
  } catch (error) {
    return { ok: false, code: errnoName(error) };
  }
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, number]) => [number, name]));

/** libuv names only the errnos it knows ("Unknown system error -116" for ESTALE): name the rest. */
function errnoName(error: unknown): string {
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === 'string' && !code.startsWith('Unknown system error')) return code;
  if (typeof errno === 'number' && ERRNO_NAMES.has(-errno)) return ERRNO_NAMES.get(-errno)!;
  if (typeof code === 'string') return code;
  return `EXCEPTION(${error instanceof Error ? error.message : String(error)})`;
}

function perform(root: string, op: Op): unknown {
  const at = (path: string): string => (path === '' ? root : join(root, path));
  switch (op.kind) {
    case 'create':
      return writeContent(at(op.path), createFlags(op.how), op.mode, op.content, null);
    case 'writeAt':
      return writeContent(at(op.path), O_WRONLY, 0, op.content, op.offset);
    case 'read':
      return withFd(at(op.path), O_RDONLY, 0, (fd) => readAll(fd));
    case 'stat':
      return describeStats(fs.statSync(at(op.path), { bigint: true }));
    case 'lstat':
      return describeStats(fs.lstatSync(at(op.path), { bigint: true }));
    case 'readdir':
      return fs
        .readdirSync(at(op.path), { withFileTypes: true })
        .map((entry) => [entry.name, direntType(entry)])
        .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
    case 'mkdir':
      fs.mkdirSync(at(op.path), op.mode);
      return stateOf(at(op.path));
    case 'rmdir':
      fs.rmdirSync(at(op.path));
      return null;
    case 'unlink':
      fs.unlinkSync(at(op.path));
      return null;
    case 'rename':
      fs.renameSync(at(op.from), at(op.to));
      return { from: stateOf(at(op.from)), to: stateOf(at(op.to)) };
    case 'link':
      fs.linkSync(at(op.from), at(op.to));
      return { from: stateOf(at(op.from)), to: stateOf(at(op.to)) };
    case 'symlink':
      fs.symlinkSync(op.target, at(op.path));
      return stateOf(at(op.path));
    case 'readlink':
      return fs.readlinkSync(at(op.path));
    case 'chmod':
      fs.chmodSync(at(op.path), op.mode);
      return stateOf(at(op.path), true);
    case 'chown':
      (op.noDereference ? fs.lchownSync : fs.chownSync)(at(op.path), op.uid, op.gid);
      return stateOf(at(op.path), !op.noDereference);
    case 'truncate':
      // truncate(2) needs only write permission; Node's truncateSync opens read-write.
      withFd(at(op.path), O_WRONLY, 0, (fd) => fs.ftruncateSync(fd, op.size));
      return stateOf(at(op.path), true);
    case 'utimes':
      fs.utimesSync(at(op.path), op.atime, op.mtime);
      return { mtimeNs: fs.statSync(at(op.path), { bigint: true }).mtimeNs.toString() };
    case 'setxattr':
      setXattr({ path: at(op.path), noDereference: op.noDereference }, op.name, bytesOf(op.content));
      return null;
    case 'getxattr':
      return getXattr({ path: at(op.path), noDereference: op.noDereference }, op.name).toString('hex');
    case 'listxattr':
      return listXattrs({ path: at(op.path), noDereference: op.noDereference });
    case 'removexattr':
      removeXattr({ path: at(op.path), noDereference: op.noDereference }, op.name);
      return null;
    case 'mkfifo':
      makeFifo(at(op.path), op.mode);
      return stateOf(at(op.path));
    case 'mknod':
      makeCharDevice(at(op.path), op.major, op.minor, op.mode);
      return stateOf(at(op.path));
    case 'access':
      fs.accessSync(at(op.path), accessConstant(op.mode));
      return null;
    case 'rmrf':
      removeRecursively(at(op.path));
      return null;
    case 'openUnlinkRead':
      return openUnlinkRead(at(op.path));
    case 'openForWrite':
      return withFd(at(op.path), O_RDWR, 0, (fd) => describeStats(fs.fstatSync(fd, { bigint: true })));
    case 'readAcrossCopyUp':
      return readAcrossCopyUp(at(op.path), op.content);
    case 'writeAcrossRename':
      return writeAcrossRename(root, op);
    case 'statfsNameMax':
      return statfsNameMax(at(op.path));
  }
}

function createFlags(how: 'plain' | 'trunc' | 'append' | 'excl'): number {
  const base = O_CREAT | O_WRONLY;
  return { plain: base, trunc: base | O_TRUNC, append: base | O_APPEND, excl: base | O_EXCL }[how];
}

function withFd<T>(path: string, flags: number, mode: number, use: (fd: number) => T): T {
  const fd = fs.openSync(path, flags | O_NONBLOCK, mode);
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeContent(path: string, flags: number, mode: number, content: Content, offset: number | null) {
  return withFd(path, flags, mode, (fd) => {
    const bytes = bytesOf(content);
    let written = 0;
    while (written < bytes.length) {
      const position = offset === null ? null : offset + written;
      const count = fs.writeSync(fd, bytes, written, bytes.length - written, position);
      if (count === 0) break;
      written += count;
    }
    return { written, stat: describeStats(fs.fstatSync(fd, { bigint: true })) };
  });
}

function readAll(fd: number): { size: number; sha256: string } {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(256 * 1024);
  let size = 0;
  while (size < READ_LIMIT) {
    const count = fs.readSync(fd, buffer, 0, buffer.length, null);
    if (count === 0) break;
    hash.update(buffer.subarray(0, count));
    size += count;
  }
  return { size, sha256: hash.digest('hex') };
}

/** lstat (or stat) of a path after an operation, or the errno name if it cannot be examined. */
function stateOf(path: string, follow = false): unknown {
  try {
    return describeStats((follow ? fs.statSync : fs.lstatSync)(path, { bigint: true }));
  } catch (error) {
    return { error: errnoName(error) };
  }
}

function direntType(entry: fs.Dirent): FileType {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'dir';
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isFIFO()) return 'fifo';
  if (entry.isCharacterDevice()) return 'char';
  if (entry.isBlockDevice()) return 'block';
  return 'socket';
}

function accessConstant(mode: AccessMode): number {
  return { F: fs.constants.F_OK, R: fs.constants.R_OK, W: fs.constants.W_OK, X: fs.constants.X_OK }[mode];
}

/**
 * `rm -rf` with a deterministic order (children sorted by name) that stops at the first error,
 * so a partial failure (e.g. EACCES as a non-root uid) leaves the same state on both unions.
 */
function removeRecursively(path: string): void {
  const stats = fs.lstatSync(path);
  if (fileTypeOf(stats) === 'dir') {
    for (const name of fs.readdirSync(path).sort()) removeRecursively(join(path, name));
    fs.rmdirSync(path);
  } else {
    fs.unlinkSync(path);
  }
}

/** Opens a file, unlinks it, then reads it through the still-open descriptor. */
function openUnlinkRead(path: string): unknown {
  return withFd(path, O_RDONLY, 0, (fd) => {
    let unlink = 'ok';
    try {
      fs.unlinkSync(path);
    } catch (error) {
      unlink = errnoName(error);
    }
    const { nlink } = fs.fstatSync(fd);
    return { unlink, ...readAll(fd), nlinkAfter: nlink };
  });
}

/**
 * Opens a file read-only, writes to it through a second descriptor (the first write to a lower
 * file copies it up), then reads through the first descriptor: it must see the new bytes.
 */
function readAcrossCopyUp(path: string, content: Content): unknown {
  return withFd(path, O_RDONLY, 0, (reader) => {
    let write = 'ok';
    try {
      const bytes = bytesOf(content);
      withFd(path, O_WRONLY, 0, (writer) => fs.writeSync(writer, bytes, 0, bytes.length, 0));
    } catch (error) {
      write = errnoName(error);
    }
    const head = Buffer.alloc(64);
    const count = fs.readSync(reader, head, 0, head.length, 0);
    return { write, head: head.subarray(0, count).toString('hex') };
  });
}

function statfsNameMax(path: string): number {
  const result = tryRun('stat', ['-f', '-c', '%l', '--', path]);
  if (result.status !== 0) throw new ToolError('stat -f', result.stderr);
  return Number(result.stdout.trim());
}

/** Pause long enough for staged mode to freeze the stage at least once (its tick is 200 ms). */
const ACROSS_FREEZE_MS = 450;

function writeAcrossRename(root: string, op: Extract<Op, { kind: 'writeAcrossRename' }>): unknown {
  const bytes = bytesOf(op.content);
  const half = Math.floor(bytes.length / 2);
  const fd = fs.openSync(join(root, op.path), O_CREAT | O_WRONLY | O_NONBLOCK, 0o644);
  let renamed = 'ok';
  let second = 'ok';
  try {
    fs.writeSync(fd, bytes, 0, half, 0);
    try {
      fs.renameSync(join(root, op.dir), join(root, op.to));
    } catch (error) {
      renamed = errnoName(error);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ACROSS_FREEZE_MS);
    try {
      fs.writeSync(fd, bytes, half, bytes.length - half, half);
    } catch (error) {
      second = errnoName(error);
    }
  } finally {
    fs.closeSync(fd);
  }
  const now = renamed === 'ok' ? op.to + op.path.slice(op.dir.length) : op.path;
  const content = createHash('sha256').update(fs.readFileSync(join(root, now))).digest('hex');
  return { renamed, second, content };
}
