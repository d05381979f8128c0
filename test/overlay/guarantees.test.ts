// Promises of `persistd mount` beyond operation-by-operation equality with the kernel: stable
// inode numbers, nanosecond times, NAME_MAX, open-unlinked files, setuid programs and device
// nodes, ownership and permissions for non-root callers, no per-operation timeout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { buildSquashfs, mountSquashfs } from '../support/squashfs.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';

const NS_TIME = '2020-02-03 04:05:06.123456789 UTC';
const TWO_GIB = 2 * 1024 ** 3;
const ISLAND_BYTES = 1024 * 1024;
const BIG_ISLANDS = [0, 256 * 1024 ** 2, 1024 ** 3 + 12345, TWO_GIB - ISLAND_BYTES];

/** Runs a Node.js snippet in a child (never in this process: it is not the daemon, but keep the habit). */
function node(code: string, options: { uid?: number; gid?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000, ...options });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The errno code a snippet's fs call fails with, or 'ok'. */
function errnoOf(statement: string, options: { uid?: number; gid?: number } = {}): string {
  const out = node(`import * as fs from 'node:fs'; try { ${statement}; console.log('ok') } catch (e) { console.log(e.code) }`, options);
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim();
}

describe('persistd mount guarantees', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lower: string;
  let plain: string;
  let rw: string;
  let mnt: string;
  let daemon: Persistd;

  const start = async () => {
    daemon = await startPersistd(cleanup, { lowers: [lower, plain], upper: join(rw, 'upper'), work: join(rw, 'work'), mountpoint: mnt });
  };

  before(async () => {
    dir = makeTempDir(cleanup);
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'shared'), { recursive: true });
    chmodSync(join(tree, 'shared'), 0o1777);
    mkdirSync(join(tree, 'team'));
    chownSync(join(tree, 'team'), 0, 1000);
    chmodSync(join(tree, 'team'), 0o2775);
    writeFileSync(join(tree, 'file'), 'lower data\n');
    writeFileSync(join(tree, 'root-only'), 'secret\n');
    chmodSync(join(tree, 'root-only'), 0o644);
    writeFileSync(join(tree, 'big'), '');
    truncateSync(join(tree, 'big'), TWO_GIB); // sparse: tiny in the squashfs, 2 GiB to copy up
    // Data islands across the file, the last one just under 2 GiB: they must come through the
    // copy-up intact, and the holes between them must stay holes.
    const islands = openSync(join(tree, 'big'), 'r+');
    for (const at of BIG_ISLANDS) writeSync(islands, randomBytes(ISLAND_BYTES), 0, ISLAND_BYTES, at);
    closeSync(islands);
    buildSquashfs(tree, join(dir, 'lower.sqfs'));
    lower = mountSquashfs(cleanup, join(dir, 'lower.sqfs'), join(dir, 'lower')).mountpoint;
    rw = mountTmpfs(cleanup, join(dir, 'rw'), { size: '3g' });
    // squashfs keeps whole seconds only; a second, plain lower layer carries nanoseconds.
    plain = join(rw, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'ns-file'), 'lower data\n');
    run('touch', ['-h', '-d', NS_TIME, join(plain, 'ns-file')]);
    mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    await start();
  });
  after(() => cleanup.runAll());

  it('keeps nanosecond timestamps, through copy-up and utimensat', () => {
    const ns = (path: string) => lstatSync(path, { bigint: true }).mtimeNs % 1_000_000_000n;
    const file = join(mnt, 'ns-file');
    assert.equal(ns(file), 123456789n);
    chmodSync(file, 0o640); // copy-up
    assert.ok(existsSync(join(rw, 'upper', 'ns-file')), 'copied up');
    assert.equal(ns(file), 123456789n);
    const atimeBefore = lstatSync(file, { bigint: true }).atimeNs;
    run('touch', ['-m', '-d', '2021-01-01 00:00:00.987654321 UTC', file]);
    assert.equal(ns(file), 987654321n);
    assert.equal(lstatSync(file, { bigint: true }).atimeNs, atimeBefore, 'touch -m keeps atime (UTIME_OMIT)');
  });

  it('keeps st_ino across copy-up and remount, with one st_dev', async () => {
    writeFileSync(join(mnt, 'new'), 'x');
    const before = { root: statSync(mnt).dev, file: statSync(join(mnt, 'root-only')).ino, fresh: statSync(join(mnt, 'new')).ino };
    writeFileSync(join(mnt, 'root-only'), 'changed\n'); // copy-up
    assert.equal(statSync(join(mnt, 'root-only')).ino, before.file);
    assert.notEqual(before.file, before.fresh);
    assert.equal(statSync(join(mnt, 'team')).dev, before.root);
    await daemon.stop();
    await start();
    assert.equal(statSync(join(mnt, 'root-only')).ino, before.file);
    assert.equal(statSync(join(mnt, 'new')).ino, before.fresh);
  });

  it('reports the smallest NAME_MAX and refuses longer names', () => {
    const namemax = run('stat', ['-f', '-c', '%l', mnt]).trim();
    assert.equal(namemax, '255');
    assert.equal(errnoOf(`fs.writeFileSync(${JSON.stringify(join(mnt, 'n'.repeat(256)))}, '')`), 'ENAMETOOLONG');
    assert.equal(errnoOf(`fs.statSync(${JSON.stringify(join(mnt, 'n'.repeat(256)))})`), 'ENAMETOOLONG');
    assert.equal(errnoOf(`fs.writeFileSync(${JSON.stringify(join(mnt, 'n'.repeat(255)))}, '')`), 'ok');
  });

  it('keeps an unlinked open file readable and writable, with no .fuse_hidden files', () => {
    const path = join(mnt, 'file');
    const out = node(`
      import * as fs from 'node:fs';
      const fd = fs.openSync(${JSON.stringify(path)}, 'r+');
      fs.unlinkSync(${JSON.stringify(path)});
      fs.writeSync(fd, 'written after unlink', 0);
      const buf = Buffer.alloc(64);
      const n = fs.readSync(fd, buf, 0, 64, 0);
      console.log(JSON.stringify({ text: buf.subarray(0, n).toString(), listing: fs.readdirSync(${JSON.stringify(mnt)}), nlink: fs.fstatSync(fd).nlink }));
      fs.closeSync(fd);`);
    assert.equal(out.status, 0, out.stderr);
    const seen = JSON.parse(out.stdout) as { text: string; listing: string[]; nlink: number };
    assert.match(seen.text, /^written after unlink/);
    assert.equal(seen.nlink, 0);
    assert.ok(!seen.listing.includes('file'));
    assert.deepEqual(seen.listing.filter((n) => n.startsWith('.fuse_hidden')), []);
    assert.deepEqual(readdirSync(join(rw, 'upper')).filter((n) => n.startsWith('.fuse_hidden')), []);
  });

  it('runs setuid programs and serves device nodes (mounted suid,dev)', () => {
    const src = join(dir, 'euid.c');
    writeFileSync(src, '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("%d\\n",(int)geteuid());return 0;}\n');
    run('cc', ['-o', join(mnt, 'euid'), src]);
    chmodSync(join(mnt, 'euid'), 0o4755);
    const euid = spawnSync(join(mnt, 'euid'), { encoding: 'utf8', uid: 1000, gid: 1000 });
    assert.equal(euid.stdout.trim(), '0', `setuid-root program run by uid 1000: ${euid.stderr}`);
    run('mknod', [join(mnt, 'null'), 'c', '1', '3']);
    chmodSync(join(mnt, 'null'), 0o666);
    assert.equal(errnoOf(`fs.writeFileSync(${JSON.stringify(join(mnt, 'null'))}, 'discarded')`, { uid: 1000, gid: 1000 }), 'ok');
    assert.equal(statSync(join(mnt, 'null')).size, 0);
  });

  it('gives new files to the caller, checks permissions, and holds the sticky bit', () => {
    const as1000 = { uid: 1000, gid: 1000 };
    const as1001 = { uid: 1001, gid: 1001 };
    assert.equal(errnoOf(`fs.writeFileSync(${JSON.stringify(join(mnt, 'root-only'))}, 'x')`, as1000), 'EACCES');
    assert.equal(errnoOf(`fs.writeFileSync(${JSON.stringify(join(mnt, 'mine'))}, 'x')`, as1000), 'EACCES');
    assert.equal(errnoOf(`fs.writeFileSync(${JSON.stringify(join(mnt, 'shared/mine'))}, 'x')`, as1000), 'ok');
    const mine = statSync(join(mnt, 'shared/mine'));
    assert.deepEqual([mine.uid, mine.gid], [1000, 1000]);
    assert.equal(errnoOf(`fs.unlinkSync(${JSON.stringify(join(mnt, 'shared/mine'))})`, as1001), 'EPERM', 'sticky bit');
    assert.equal(errnoOf(`fs.chmodSync(${JSON.stringify(join(mnt, 'shared/mine'))}, 0o777)`, as1001), 'EPERM');
    assert.equal(errnoOf(`fs.mkdirSync(${JSON.stringify(join(mnt, 'team/sub'))})`, as1000), 'ok');
    const sub = statSync(join(mnt, 'team/sub'));
    assert.equal(sub.gid, 1000, 'group from the setgid parent');
    assert.ok(sub.mode & 0o2000, 'a directory in a setgid directory is setgid');
    assert.equal(errnoOf(`fs.unlinkSync(${JSON.stringify(join(mnt, 'shared/mine'))})`, as1000), 'ok');
  });

  it('copies up a 2 GiB sparse file: its data intact, its holes kept', () => {
    const big = join(mnt, 'big');
    const fd = openSync(big, 'r+'); // opening for write copies it up
    closeSync(fd);
    assert.equal(statSync(big).size, TWO_GIB);
    const copy = join(rw, 'upper', 'big');
    assert.equal(statSync(copy).size, TWO_GIB);
    const digest = (path: string) => run('sha256sum', [path]).split(' ')[0];
    assert.equal(digest(copy), digest(join(lower, 'big')));
    const allocated = statSync(copy).blocks * 512;
    // squashfs reports holes per 128 KiB block: an island may bring its blocks' zeros along.
    assert.ok(allocated <= BIG_ISLANDS.length * (ISLAND_BYTES + 256 * 1024), `the copy allocates ${allocated} bytes for ${BIG_ISLANDS.length} MiB of data`);
  });
});
