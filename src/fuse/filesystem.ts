/**
 * The FUSE adapter: fuse-native's operation hooks mapped onto the Overlay. We override
 * fuse-native's `_op_*` glue rather than pass an ops table, because its glue loses facts
 * (create flags, utimens' mtime, fgetattr's handle, ERANGE for short xattr buffers).
 * Each hook answers through `signal(result, ...payload)`: result is 0, a byte count or -errno.
 */
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import type { Overlay, ShownChange } from '../overlay/index.js';
import { errnoCode, toNegativeErrno } from '../overlay/index.js';
import { native } from '../native/index.js';
import { SideChannel, statArray } from './side-channel.js';

// Loaded after the native helper (imported by side-channel.ts), so fuse_new binds to our wrapper.
const require = createRequire(import.meta.url);
const Fuse = require('fuse-native') as FuseClass;

type Signal = (result: number, ...payload: unknown[]) => void;

export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}

interface FuseClass {
  new (mountpoint: string, ops: Record<string, () => void>, opts: Record<string, unknown>): FuseInstance;
}

const ERANGE = -34;
/** Lists every xattr name (trusted.* included), to tell "none at all" from "none you may see". */
const SUPERUSER = { uid: 0, gid: 0 };
const HIDDEN_PREFIX = '.fuse_hidden';
const DOT = { name: '.', type: 0o040000 };
const DOTDOT = { name: '..', type: 0o040000 };
/** libfuse's "inode unknown" (fuse-native carries only 32 bits; the real one comes with stat). */
const FUSE_UNKNOWN_INO = 0xffffffff;

/** A readdir entry's stat: only the type (d_type) and the unknown-inode marker matter. */
function direntStat(type: number): Uint32Array {
  const ints = new Uint32Array(18);
  ints[0] = type;
  ints[7] = FUSE_UNKNOWN_INO;
  return ints;
}

/** Every operation we serve; fuse-native only calls hooks whose name is in the ops table. */
const OPERATIONS = [
  'init', 'access', 'statfs', 'getattr', 'fgetattr', 'flush', 'fsync', 'fsyncdir', 'readdir',
  'truncate', 'ftruncate', 'utimens', 'readlink', 'chown', 'chmod', 'mknod', 'setxattr',
  'getxattr', 'listxattr', 'removexattr', 'open', 'opendir', 'read', 'write', 'release',
  'releasedir', 'create', 'unlink', 'rename', 'link', 'symlink', 'mkdir', 'rmdir',
] as const;

export interface MountOptions {
  /** Extra `-o` options after ours. */
  extraOptions?: string[];
  /** Called with unexpected (non-errno) errors: bugs, reported instead of swallowed. */
  onBug?: (op: string, err: unknown) => void;
  /** Before each write: a promise to wait for (backpressure), or null to write at once. */
  admitWrite?: (bytes: number) => Promise<void> | null;
  /** What fsync of `path` means: 'sync' the real file, 'skip' (data is safe enough), or wait. */
  fsync?: (path: string) => 'sync' | 'skip' | Promise<void>;
}

/** Options a root filesystem needs; see DESIGN.md "Speed notes" for the measured ones. */
const FUSE_OPTIONS = [
  'allow_other', // every user of the device sees the root
  'default_permissions', // the kernel checks permissions from our attributes, as for any fs
  'suid', // setuid/setgid programs on the root must work
  'dev', // so must device nodes
  'use_ino', // our inode numbers, stable across copy-up
  'big_writes',
  'max_write=1048576',
  'nonempty', // like any mount, it may cover what is underneath
  'fsname=persist',
  'subtype=persistd',
  // Names change only through this mount, or by the daemon, which tells the kernel (discard,
  // revert): cached lookups stay true. The same 60 s as the attribute timeout of what only
  // changes through us (STABLE_ATTR_TIMEOUT in native/persist_native.c).
  'entry_timeout=60',
  'attr_timeout=0', // hard links: a change through one name must show through the others; see native/kernel_cache.c
  'auto_cache', // keep page cache while mtime and size are unchanged
];

export function createFilesystem(mountpoint: string, overlay: Overlay, options: MountOptions = {}): FuseInstance {
  // The side channel holds one request's facts. The native helper locks it only around getattr,
  // fgetattr, utimens, create, mknod, mkdir, symlink, getxattr and listxattr (LOCKED in
  // persist_native.c): only their handlers may use `side`, and only synchronously.
  const side = new SideChannel();
  // The caches of answers must hear of every change the daemon makes on its own: the attribute
  // cache on the FUSE thread (attr_cache.c) and the kernel's (kernel_cache.c). Each can be
  // turned off for A/B runs: PERSIST_ATTR_CACHE=0, PERSIST_KERNEL_CACHE=0.
  native.enableAttrCache(process.env['PERSIST_ATTR_CACHE'] !== '0');
  const kernelCaching = process.env['PERSIST_KERNEL_CACHE'] !== '0';
  overlay.onShownChange(forgetCached);
  const ops = Object.fromEntries(OPERATIONS.map((name) => [name, () => {}]));
  const trace = process.env['PERSIST_TRACE'] === '1'; // log every failed operation
  const bug = options.onBug ?? ((op, err) => console.error(`persistd: bug in ${op}:`, err));

  /** Run `body`; a thrown errno becomes -errno, anything else is a bug answered with EIO. */
  function answer(op: string, signal: Signal, body: () => number, payload: () => unknown[] = () => []): void {
    let result: number;
    try {
      result = body();
    } catch (err) {
      result = toNegativeErrno(err);
      if (errnoCode(err) === undefined) bug(op, err);
      else if (trace) console.error(`persistd: ${op}: ${(err as Error).message}`);
    }
    signal(result, ...payload());
  }

  function forgetCached(change: ShownChange): void {
    switch (change.kind) {
      case 'path':
        return native.forgetAttr(change.path);
      case 'any':
        return native.bumpAttrCache();
      case 'object':
        return native.kernelForgetInode(change.ino); // the attribute cache too
      case 'stack':
        return native.kernelForgetDirectories(); // the attribute cache too
    }
  }

  /**
   * getxattr. A path found to hold no xattrs at all is noted for the attribute cache, which then
   * answers ENODATA without a trip here (`ls -l` asks every file for its security label). Not
   * for security.capability: the kernel asks for it before each write, which forgets the answer.
   */
  function getxattrNotingNone(path: string, name: string): Buffer {
    try {
      return overlay.getxattr(path, name);
    } catch (err) {
      if (name !== 'security.capability' && errnoCode(err) === 'ENODATA' && overlay.listxattr(SUPERUSER, path).length === 0) side.noXattrs();
      throw err;
    }
  }

  /** Union path from fuse; an unlinked open file reaches path-based hooks as '' (no such name). */
  function pathOf(path: string): string {
    if (!path) throw Object.assign(new Error('no path'), { code: 'ENOENT' });
    return path;
  }

  class PersistFuse extends (Fuse as unknown as new (...args: unknown[]) => Record<string, unknown>) {
    _fuseOptions(): string {
      return `-o${[...FUSE_OPTIONS, ...(options.extraOptions ?? [])].join(',')}`;
    }

    _op_init(signal: Signal): void {
      const opened = this['_openCallback'] as ((err: null) => void) | null;
      this['_openCallback'] = null;
      if (opened) process.nextTick(opened, null);
      signal(0);
    }

    _op_getattr(signal: Signal, path: string): void {
      let stat: Uint32Array | undefined;
      if (path) side.cacheable(); // a stat or ENOENT of a path is the attribute cache's to keep
      answer('getattr', signal, () => {
        const a = overlay.getattr(pathOf(path));
        side.replyStat(a);
        if (a.stable && kernelCaching) side.stable();
        stat = statArray(a);
        return 0;
      }, () => (stat ? [stat] : []));
    }

    _op_fgetattr(signal: Signal, path: string, fh: number): void {
      let stat: Uint32Array | undefined;
      answer('fgetattr', signal, () => {
        const a = fh ? overlay.files.attributes(fh) : overlay.getattr(pathOf(path));
        side.replyStat(a);
        stat = statArray(a);
        return 0;
      }, () => (stat ? [stat] : []));
    }

    _op_access(signal: Signal, path: string): void {
      answer('access', signal, () => (overlay.getattr(pathOf(path)), 0));
    }

    _op_statfs(signal: Signal): void {
      let ints: Uint32Array | undefined;
      answer('statfs', signal, () => {
        const s = overlay.statfs();
        ints = new Uint32Array([s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, 0, 0, s.namemax]);
        return 0;
      }, () => (ints ? [ints] : []));
    }

    _op_readdir(signal: Signal, path: string): void {
      let names: string[] = [];
      let stats: Uint32Array[] = [];
      answer('readdir', signal, () => {
        const entries = [DOT, DOTDOT, ...overlay.readdir(pathOf(path))];
        names = entries.map((e) => e.name);
        stats = entries.map((e) => direntStat(e.type));
        return 0;
      }, () => [names, stats]);
    }

    _op_opendir(signal: Signal, path: string): void {
      answer('opendir', signal, () => (overlay.opendir(pathOf(path)), 0), () => [0]);
    }

    // releasedir, fsyncdir and flush are answered by the native helper without coming here; the
    // hooks stay so that fuse-native puts them in the operation table the helper wraps.
    _op_releasedir(signal: Signal): void {
      signal(0);
    }

    _op_fsyncdir(signal: Signal): void {
      signal(0);
    }

    _op_open(signal: Signal, path: string, flags: number): void {
      let fh = 0;
      answer('open', signal, () => ((fh = overlay.files.open(pathOf(path), flags)), 0), () => [fh]);
    }

    _op_create(signal: Signal, path: string, mode: number): void {
      let fh = 0;
      answer('create', signal, () => {
        fh = overlay.files.create(side.caller(), pathOf(path), mode, side.openFlags());
        return 0;
      }, () => [fh]);
    }

    _op_read(signal: Signal, _path: string, fh: number, buf: Buffer, len: number, low: number, high: number): void {
      answer('read', signal, () => overlay.files.read(fh, buf, len, low + high * 4294967296), () => [0, buf.buffer]);
    }

    // write and fsync may wait here (backpressure, an honoured fsync); the native helper does
    // not hold its lock for them, so they must not read the side channel.
    _op_write(signal: Signal, _path: string, fh: number, buf: Buffer, len: number, low: number, high: number): void {
      const write = () =>
        answer('write', signal, () => overlay.files.write(fh, buf, len, low + high * 4294967296), () => [0, buf.buffer]);
      let gate: Promise<void> | null | undefined;
      try {
        gate = options.admitWrite?.(len);
      } catch (err) {
        bug('write (admission)', err); // write at once rather than never answer
      }
      if (gate) gate.then(write, write);
      else write();
    }

    _op_flush(signal: Signal): void {
      signal(0); // answered by the native helper (see _op_releasedir)
    }

    _op_fsync(signal: Signal, path: string, datasync: number, fh: number): void {
      let meaning: 'sync' | 'skip' | Promise<void>;
      try {
        meaning = options.fsync?.(path) ?? 'sync';
      } catch (err) {
        return answer('fsync', signal, () => {
          throw err; // the data may not be durable: say so (EIO, and a bug report)
        });
      }
      if (meaning === 'skip') return signal(0);
      if (meaning === 'sync') return answer('fsync', signal, () => (overlay.files.fsync(fh, datasync !== 0), 0));
      meaning.then(
        () => signal(0),
        (err: unknown) => signal(toNegativeErrno(err)),
      );
    }

    _op_release(signal: Signal, _path: string, fh: number): void {
      answer('release', signal, () => (overlay.files.release(fh), 0));
    }

    _op_truncate(signal: Signal, path: string, low: number, high: number): void {
      answer('truncate', signal, () => (overlay.truncate(pathOf(path), low + high * 4294967296), 0));
    }

    _op_ftruncate(signal: Signal, path: string, fh: number, low: number, high: number): void {
      const size = low + high * 4294967296;
      answer('ftruncate', signal, () => {
        if (fh) overlay.files.truncate(fh, size);
        else overlay.truncate(pathOf(path), size);
        return 0;
      });
    }

    _op_utimens(signal: Signal, path: string): void {
      answer('utimens', signal, () => {
        const [atime, mtime] = side.times();
        return overlay.utimens(pathOf(path), atime, mtime), 0;
      });
    }

    _op_readlink(signal: Signal, path: string): void {
      let target = '';
      answer('readlink', signal, () => ((target = overlay.readlink(pathOf(path))), 0), () => [target]);
    }

    _op_chown(signal: Signal, path: string, uid: number, gid: number): void {
      answer('chown', signal, () => (overlay.chown(pathOf(path), uid, gid), 0));
    }

    _op_chmod(signal: Signal, path: string, mode: number): void {
      answer('chmod', signal, () => (overlay.chmod(pathOf(path), mode), 0));
    }

    _op_mknod(signal: Signal, path: string, mode: number, rdev: number): void {
      answer('mknod', signal, () => (overlay.mknod(side.caller(), pathOf(path), mode, rdev), 0));
    }

    _op_mkdir(signal: Signal, path: string, mode: number): void {
      answer('mkdir', signal, () => (overlay.mkdir(side.caller(), pathOf(path), mode), 0));
    }

    _op_symlink(signal: Signal, target: string, path: string): void {
      answer('symlink', signal, () => (overlay.symlink(side.caller(), target, pathOf(path)), 0));
    }

    _op_link(signal: Signal, from: string, to: string): void {
      answer('link', signal, () => (overlay.link(pathOf(from), pathOf(to)), 0));
    }

    _op_unlink(signal: Signal, path: string): void {
      answer('unlink', signal, () => (overlay.unlink(pathOf(path)), 0));
    }

    _op_rmdir(signal: Signal, path: string): void {
      answer('rmdir', signal, () => (overlay.rmdir(pathOf(path)), 0));
    }

    _op_rename(signal: Signal, from: string, to: string): void {
      answer('rename', signal, () => {
        // libfuse hides an open file that is unlinked or renamed over by renaming it to
        // .fuse_hiddenXXXX; the union detaches it instead, so the name is never seen.
        if (basename(to).startsWith(HIDDEN_PREFIX)) overlay.detach(pathOf(from), to);
        else overlay.rename(pathOf(from), pathOf(to));
        return 0;
      });
    }

    _op_setxattr(signal: Signal, path: string, name: string, value: Buffer, _position: number, flags: number): void {
      // The value lives in FUSE's buffer, which fuse-native detaches after the reply: copy it.
      answer('setxattr', signal, () => (overlay.setxattr(pathOf(path), name, Buffer.from(value), flags), 0), () => [value.buffer]);
    }

    _op_getxattr(signal: Signal, path: string, name: string, out: Buffer): void {
      answer('getxattr', signal, () => {
        const value = getxattrNotingNone(pathOf(path), name);
        if (out.length === 0) return value.length; // a size query
        if (value.length > out.length) return ERANGE;
        value.copy(out);
        return value.length;
      }, () => [out.buffer]);
    }

    _op_listxattr(signal: Signal, path: string, out: Buffer): void {
      answer('listxattr', signal, () => {
        const names = overlay.listxattr(side.caller(), pathOf(path));
        if (names.length === 0 && overlay.listxattr(SUPERUSER, pathOf(path)).length === 0) side.noXattrs();
        const list = Buffer.from(names.map((n) => `${n}\0`).join(''));
        if (out.length === 0) return list.length;
        if (list.length > out.length) return ERANGE;
        list.copy(out);
        return list.length;
      }, () => [out.buffer]);
    }

    _op_removexattr(signal: Signal, path: string, name: string): void {
      answer('removexattr', signal, () => (overlay.removexattr(pathOf(path), name), 0));
    }
  }

  return new PersistFuse(mountpoint, ops, { timeout: false }) as unknown as FuseInstance;
}
