// Turns a seed into a sequence of steps. Paths come from a small pool (the lower layers' paths plus a
// few generic names in the same directories) so operations collide often: creating over lower
// files, renaming onto existing names, deleting what another step just made. The generator keeps
// no model of the tree; whatever a step does, both unions must answer the same.
//
// The sequence for a seed is prefix-stable: the first n steps do not depend on how many follow,
// so "seed S, first n ops" reproduces a failure at step n-1.

import type { AccessMode, Content, CreateMode, Op, Step } from './ops.js';
import { Random } from './prng.js';

const PARENTS = [
  '', 'etc', 'bin', 'tmp', 'home/user', 'home/user/closed', 'sgid', 'deep', 'deep/a', 'deep/a/b',
  'lonly', 'lonly/sub', 'opq', 'merged', 'n1', 'n1/n2', 'link-dir',
];
const GENERIC_NAMES = ['a', 'b'];
const NEW_DIRS = ['n1', 'n1/n2', 'n3'];

const FILE_MODES = [0o644, 0o600, 0o755, 0o666, 0o444, 0o000, 0o4755, 0o2755, 0o6711, 0o1644];
const DIR_MODES = [0o755, 0o700, 0o777, 0o1777, 0o2775, 0o555, 0o311];
const CONTENT_LENGTHS = [0, 1, 17, 100, 4096, 4097, 5000, 70_000];
const WRITE_OFFSETS = [0, 1, 100, 4095, 65_536, 1_048_570, 1_048_576, 2_000_000];
const TRUNCATE_SIZES = [0, 1, 5, 4096, 100_000, 1_048_576, 1_200_000];
const IDS = [0, 1000, 1001, -1];
const XATTR_NAMES = ['user.a', 'user.b', 'user.origin', 'user.tag', 'security.capability', 'trusted.overlay.opaque'];
/**
 * security.capability values: cap_net_raw+ep (v2) and malformed ones (EINVAL). Never empty: the
 * kernel stores an empty value but then fails every later read of it (and copy-up, rmdir of a
 * merged dir) with EINVAL, a kernel quirk no application depends on.
 */
const CAPABILITY_VALUES: Content[] = [
  { hex: '0100000200200000000000000000000000000000' },
  { length: 1, seed: 1 },
  { length: 8, seed: 8 },
];
/** Never "..": a link can point anywhere inside the union but never out of it. */
const SYMLINK_TARGETS = ['a', 'b', 'config', 'missing', 'sub/z', 'deep/a', 'etc/config', 'hard1', '.', '/nonexistent-persist-test/deeper/x'];

/** Names operations may set, so an upper audit can tell them from stray attributes. */
export const GENERATED_XATTR_NAMES = XATTR_NAMES;

const SINGLE_OP_WEIGHTS = {
  create: 12, writeAt: 6, read: 8, stat: 6, lstat: 4, readdir: 5, mkdir: 5, rmdir: 3, unlink: 4,
  rename: 7, link: 3, symlink: 3, readlink: 2, chmod: 4, chown: 3, truncate: 3, utimes: 2,
  setxattr: 3, getxattr: 2, listxattr: 2, removexattr: 2, mkfifo: 1, mknod: 1, access: 3, rmrf: 1,
  openUnlinkRead: 2, openForWrite: 2, readAcrossCopyUp: 2,
} as const;

const SCENARIO_WEIGHTS = {
  hardLinkLowerThenWrite: 1, chmodThenWrite: 1, removeTreeThenRecreate: 1, renameCopiedUp: 1, renamePureUpperDir: 1,
  handleAcrossDirRename: 1,
} as const;

const UID_WEIGHTS = { '0': 6, '1000': 3, '1001': 1 } as const;

export class OpGenerator {
  private readonly random: Random;
  private readonly pool: string[];
  private readonly lowerPool: string[];

  constructor(seed: number, lowerPaths: readonly string[]) {
    this.random = new Random(seed);
    this.lowerPool = [...lowerPaths];
    const generic = PARENTS.flatMap((parent) => GENERIC_NAMES.map((name) => (parent === '' ? name : `${parent}/${name}`)));
    // "" is the union's root: removing or renaming it must fail the same way on both.
    this.pool = [...new Set(['', ...lowerPaths, ...generic, ...NEW_DIRS])];
  }

  /** The first `count` steps for this seed. */
  generate(count: number): Step[] {
    const steps: Step[] = [];
    while (steps.length < count) steps.push(...this.next());
    return steps.slice(0, count);
  }

  /** One step, or a short scenario of steps that exercises a known-tricky pattern. */
  private next(): Step[] {
    if (this.random.chance(0.06)) return this.scenario();
    return [{ uid: this.uid(), op: this.singleOp() }];
  }

  private uid(): number {
    return Number(this.random.weighted(UID_WEIGHTS));
  }

  /** Lower paths are favoured: they are where copy-up, whiteouts and merging happen. */
  private path(): string {
    return this.random.chance(0.45) ? this.random.pick(this.lowerPool) : this.random.pick(this.pool);
  }

  private content(lengths: readonly number[] = CONTENT_LENGTHS): Content {
    return { length: this.random.pick(lengths), seed: this.random.int(1, 0x7fffffff) };
  }

  private time(): number {
    // Whole seconds or milliseconds: both must survive a round trip through the union.
    const seconds = this.random.int(1_000_000_000, 1_700_000_000);
    return this.random.chance(0.5) ? seconds : seconds + this.random.int(1, 999) / 1000;
  }

  private singleOp(): Op {
    const r = this.random;
    const kind = r.weighted(SINGLE_OP_WEIGHTS);
    switch (kind) {
      case 'create':
        return { kind, path: this.path(), how: r.pick<CreateMode>(['plain', 'trunc', 'append', 'excl']), mode: r.pick(FILE_MODES), content: this.content() };
      case 'writeAt':
        return { kind, path: this.path(), offset: r.pick(WRITE_OFFSETS), content: this.content([1, 10, 4096, 5000]) };
      case 'read':
      case 'stat':
      case 'lstat':
      case 'readdir':
      case 'rmdir':
      case 'unlink':
      case 'readlink':
      case 'rmrf':
      case 'openUnlinkRead':
      case 'openForWrite':
        return { kind, path: this.path() };
      case 'mkdir':
        return { kind, path: this.path(), mode: r.pick(DIR_MODES) };
      case 'rename':
      case 'link':
        return { kind, from: this.path(), to: this.path() };
      case 'symlink':
        return { kind, target: r.pick(SYMLINK_TARGETS), path: this.path() };
      case 'chmod':
        return { kind, path: this.path(), mode: r.pick([...FILE_MODES, ...DIR_MODES]) };
      case 'chown': {
        // Never both -1: FUSE 2 drops that no-op before persist sees it, while the kernel copies the
        // file up (visible only in link counts); README.md lists it among the differences.
        const uid = r.pick(IDS);
        const gid = uid === -1 ? r.pick(IDS.filter((id) => id !== -1)) : r.pick(IDS);
        return { kind, path: this.path(), uid, gid, noDereference: r.chance(0.3) };
      }
      case 'truncate':
        return { kind, path: this.path(), size: r.pick(TRUNCATE_SIZES) };
      case 'utimes':
        return { kind, path: this.path(), atime: this.time(), mtime: this.time() };
      case 'setxattr': {
        const name = r.pick(XATTR_NAMES);
        const content = name === 'security.capability' ? r.pick(CAPABILITY_VALUES) : this.content([0, 1, 8, 40]);
        return { kind, path: this.path(), name, content, noDereference: r.chance(0.3) };
      }
      case 'getxattr':
      case 'removexattr':
        return { kind, path: this.path(), name: r.pick(XATTR_NAMES), noDereference: r.chance(0.3) };
      case 'listxattr':
        return { kind, path: this.path(), noDereference: r.chance(0.3) };
      case 'mkfifo':
        return { kind, path: this.path(), mode: r.pick([0o644, 0o600, 0o666]) };
      case 'mknod':
        // Only 1:3 (/dev/null): reads end at once and writes are discarded, whatever opens it.
        return { kind, path: this.path(), mode: r.pick([0o666, 0o600]), major: 1, minor: 3 };
      case 'access':
        return { kind, path: this.path(), mode: r.pick<AccessMode>(['F', 'R', 'W', 'X']) };
      case 'readAcrossCopyUp':
        return { kind, path: this.path(), content: this.content([1, 8, 64]) };
    }
  }

  private scenario(): Step[] {
    const r = this.random;
    const uid = this.uid();
    const lowerFile = r.pick(['hard1', 'hard2', 'etc/config', 'big.bin', 'bin/suid-tool', 'bin/cap-tool', 'home/user/notes', 'tmp/user-file', 'merged/from-base']);
    const lowerDir = r.pick(['lonly', 'deep', 'deep/a', 'merged', 'opq', 'etc', 'home/user', 'tmp', 'sgid']);
    const newName = r.pick(this.pool.filter((path) => path !== '' && !this.lowerPool.includes(path)));
    switch (r.weighted(SCENARIO_WEIGHTS)) {
      case 'hardLinkLowerThenWrite':
        // A hard link to a lower file, a write through the new name, a read through the old one.
        return [
          { uid, op: { kind: 'link', from: lowerFile, to: newName } },
          { uid, op: { kind: 'writeAt', path: newName, offset: r.pick([0, 3]), content: this.content([5, 100]) } },
          { uid, op: { kind: 'read', path: lowerFile } },
          { uid, op: { kind: 'stat', path: lowerFile } },
        ];
      case 'chmodThenWrite':
        return [
          { uid: this.uid(), op: { kind: 'chmod', path: lowerFile, mode: r.pick(FILE_MODES) } },
          { uid, op: { kind: 'create', path: lowerFile, how: 'append', mode: 0o644, content: this.content([1, 100]) } },
          { uid, op: { kind: 'stat', path: lowerFile } },
        ];
      case 'removeTreeThenRecreate':
        return [
          { uid, op: { kind: 'rmrf', path: lowerDir } },
          { uid, op: { kind: 'mkdir', path: lowerDir, mode: r.pick(DIR_MODES) } },
          { uid, op: { kind: 'create', path: `${lowerDir}/a`, how: 'excl', mode: 0o644, content: this.content([10]) } },
          { uid: 0, op: { kind: 'readdir', path: lowerDir } },
          { uid: 0, op: { kind: 'lstat', path: lowerDir } },
        ];
      case 'renameCopiedUp':
        return [
          { uid, op: { kind: 'writeAt', path: lowerFile, offset: 0, content: this.content([4]) } },
          { uid, op: { kind: 'rename', from: lowerFile, to: newName } },
          { uid, op: { kind: 'read', path: newName } },
          { uid: 0, op: { kind: 'lstat', path: lowerFile } },
        ];
      case 'renamePureUpperDir':
        return [
          { uid, op: { kind: 'mkdir', path: 'n3', mode: 0o755 } },
          { uid, op: { kind: 'create', path: 'n3/a', how: 'plain', mode: 0o644, content: this.content([10]) } },
          { uid, op: { kind: 'rename', from: 'n3', to: r.pick(['n1', 'n1/n2', 'deep/a/b', 'lonly/sub']) } },
          { uid, op: { kind: 'rename', from: lowerDir, to: 'n3' } },
          { uid: 0, op: { kind: 'readdir', path: '' } },
        ];
      case 'handleAcrossDirRename': {
        // A handle must follow renames of any ancestor, across freezes and flushes.
        const dir = r.pick(['n3', 'n1', 'n1/n2', lowerDir]);
        const path = r.pick([`${dir}/h`, `${dir}/a`]);
        const ancestor = dir.split('/')[0]!;
        return [
          { uid, op: { kind: 'mkdir', path: 'n1', mode: 0o755 } },
          { uid, op: { kind: 'mkdir', path: dir, mode: 0o755 } },
          { uid, op: { kind: 'writeAcrossRename', path, dir: r.pick([dir, ancestor]), to: r.pick(['n4', 'deep/a/b/n5', 'lonly/sub', newName]), content: this.content([7, 5000]) } },
        ];
      }
    }
  }
}
