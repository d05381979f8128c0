// Real programs inside the mount: tar, git, sqlite3, sed -i, cp -a, mv, rm -rf. Each scenario
// runs the same shell script in persistd's union and in a kernel overlayfs over the same
// squashfs; their output and the resulting trees must match. At the end persistd's upper, mounted
// by the kernel, must show the same tree again.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run, tryRun } from '../support/command.js';
import { mountKernelOverlay } from '../support/overlayfs.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { buildSquashfs, mountSquashfs } from '../support/squashfs.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { diffSnapshots, snapshotTree, type TreeEntry } from '../support/tree-snapshot.js';
import { auditUpper, KERNEL_OVERLAY_XATTRS } from '../support/upper-audit.js';

/** A small appliance root: config, a package tree, logs, a setuid program. */
function buildLowerTree(root: string): void {
  const file = (path: string, content: string, mode = 0o644) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
    chmodSync(join(root, path), mode);
  };
  file('etc/app/config.ini', '[main]\nlevel = info\nport = 8080\n');
  file('etc/hostname', 'appliance\n');
  file('usr/share/doc/pkg/README', 'package docs v1\n');
  file('usr/share/doc/pkg/CHANGES', 'v1: first\n');
  file('usr/lib/pkg/data.bin', 'x'.repeat(100_000));
  file('usr/bin/tool', '#!/bin/sh\necho tool v1\n', 0o755);
  file('usr/bin/su-helper', '#!/bin/sh\n', 0o4755);
  file('var/log/old.log', 'old entry\n');
  file('srv/site/index.html', '<h1>v1</h1>\n');
  file('srv/site/assets/app.js', 'console.log(1)\n');
  symlinkSync('index.html', join(root, 'srv/site/home.html'));
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'tmp'), 0o1777);
  run('setfattr', ['-n', 'user.origin', '-v', 'factory', join(root, 'etc/app/config.ini')]);
}

/** A package tarball whose directories overlap the lower's. */
function buildPackage(dir: string): string {
  const src = join(dir, 'pkg-src');
  const write = (path: string, content: string) => {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), content);
  };
  write('usr/share/doc/pkg/README', 'package docs v2\n');
  write('usr/share/doc/pkg/NEWS', 'v2 news\n');
  write('usr/lib/pkg/plugins/one.so', 'plugin one\n');
  write('usr/bin/tool', '#!/bin/sh\necho tool v2\n');
  chmodSync(join(src, 'usr/bin/tool'), 0o755);
  write('etc/app/conf.d/extra.ini', '[extra]\n');
  const tarball = join(dir, 'pkg.tar');
  run('tar', ['-cpf', tarball, '-C', src, '.']);
  return tarball;
}

const GIT_ENV = 'export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t ' +
  'GIT_COMMITTER_EMAIL=t@example.invalid GIT_AUTHOR_DATE=2026-01-01T00:00:00Z ' +
  'GIT_COMMITTER_DATE=2026-01-01T00:00:00Z HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1;';

/** Scenarios: name → shell script run with the union root as $R. Output must match too. */
function scenarios(tarball: string): [string, string][] {
  return [
    ['tar over existing directories', `tar -xpf ${tarball} -C "$R" && cat "$R/usr/share/doc/pkg/README" && "$R/usr/bin/tool" && ls "$R/usr/share/doc/pkg"`],
    ['sed -i on a lower file', `sed -i 's/level = info/level = debug/' "$R/etc/app/config.ini" && cat "$R/etc/app/config.ini"`],
    ['cp -a of a lower tree', `cp -a "$R/srv/site" "$R/srv/site-copy" && ls -la --time-style=+ "$R/srv/site-copy" | tail -n +2 | awk '{print $1, $3, $4, $5, $NF}'`],
    ['mv of a lower directory (EXDEV, copy fallback)', `mv "$R/srv/site" "$R/srv/site-moved" && ls "$R/srv" && cat "$R/srv/site-moved/index.html"`],
    ['mv of a new directory', `mkdir -p "$R/opt/a/b" && echo hi > "$R/opt/a/b/f" && mv "$R/opt/a" "$R/opt/c" && cat "$R/opt/c/b/f" && ls "$R/opt"`],
    ['rm -rf of a lower tree, then re-create', `rm -rf "$R/usr/lib/pkg" && ls "$R/usr/lib" && mkdir -p "$R/usr/lib/pkg" && echo new > "$R/usr/lib/pkg/data.bin" && ls -a "$R/usr/lib/pkg"`],
    ['git init, add, commit', `${GIT_ENV} cd "$R/srv" && git init -q repo && cd repo && echo one > a && mkdir d && echo two > d/b && git add . && git commit -qm first && echo three >> a && git commit -qam second && git log --format=%H%x20%s && git status --porcelain && git fsck --no-progress 2>&1`],
    ['sqlite3 transactions', `cd "$R/var" && sqlite3 app.db 'create table t(id integer primary key, v text);' && for i in 1 2 3 4 5; do sqlite3 app.db "begin; insert into t(v) values('row$i'); insert into t(v) values('more$i'); commit;"; done && sqlite3 app.db 'begin; insert into t(v) values(1); rollback;' && sqlite3 app.db 'pragma integrity_check; select count(*), max(id) from t;'`],
    ['sqlite3 in WAL mode', `cd "$R/var" && sqlite3 wal.db 'pragma journal_mode=wal; create table k(x); insert into k values(1),(2),(3);' && sqlite3 wal.db 'pragma wal_checkpoint(truncate); select sum(x) from k; pragma integrity_check;'`],
    ['log append and rotate', `for i in 1 2 3; do echo "entry $i" >> "$R/var/log/old.log"; done && mv "$R/var/log/old.log" "$R/var/log/old.log.1" && : > "$R/var/log/old.log" && wc -l "$R/var/log/old.log.1" | awk '{print $1}'`],
  ];
}

/** Files whose bytes record the filesystem itself (git's index caches inode and device numbers). */
const fsDependent = (entry: TreeEntry): TreeEntry =>
  entry.path.endsWith('.git/index') ? { ...entry, sha256: '(fs-dependent)', size: 0 } : entry;

function snapshot(root: string): TreeEntry[] {
  return snapshotTree(root).map(fsDependent);
}

describe('real programs inside the mount', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lower: string;
  let rw: string;
  let kernelRoot: string;
  let persistRoot: string;
  let daemon: Persistd;
  let tarball: string;

  before(async () => {
    dir = makeTempDir(cleanup);
    const tree = join(dir, 'tree');
    buildLowerTree(tree);
    tarball = buildPackage(dir);
    buildSquashfs(tree, join(dir, 'lower.sqfs'));
    lower = mountSquashfs(cleanup, join(dir, 'lower.sqfs'), join(dir, 'lower')).mountpoint;
    rw = mountTmpfs(cleanup, join(dir, 'rw'), { size: '256m' });
    kernelRoot = mountKernelOverlay(cleanup, { lowers: [lower], upper: join(rw, 'k-upper'), work: join(rw, 'k-work') }, join(dir, 'kernel'));
    persistRoot = join(dir, 'persist');
    mkdirSync(persistRoot);
    daemon = await startPersistd(cleanup, { lowers: [lower], upper: join(rw, 'p-upper'), work: join(rw, 'p-work'), mountpoint: persistRoot });
  });
  after(() => cleanup.runAll());

  it('runs every scenario with the same output and the same resulting tree', () => {
    for (const [name, script] of scenarios(tarball)) {
      const onKernel = tryRun('env', [`R=${kernelRoot}`, 'sh', '-c', script], { timeoutMs: 120_000 });
      const onPersist = tryRun('env', [`R=${persistRoot}`, 'sh', '-c', script], { timeoutMs: 120_000 });
      assert.equal(onKernel.status, 0, `${name} fails on kernel overlayfs too: ${onKernel.stderr}`);
      assert.equal(onPersist.status, 0, `${name}: exit status on persistd; stderr:\n${onPersist.stderr}\npersistd says:\n${daemon.output()}`);
      assert.equal(onPersist.stdout.replaceAll(persistRoot, '$R'), onKernel.stdout.replaceAll(kernelRoot, '$R'), `${name}: output`);
      const differences = diffSnapshots(snapshot(kernelRoot), snapshot(persistRoot));
      assert.deepEqual(differences, [], `${name}: trees differ after the scenario`);
    }
  });

  it('leaves an upper that the kernel mounts as the same tree, with no private files', async () => {
    const expected = snapshot(kernelRoot);
    const exit = await daemon.stop();
    assert.equal(exit.code, 0, `persistd exit; output:\n${exit.output}`);
    assert.equal(exit.forced, false, 'persistd stopped on SIGTERM');
    const problems = auditUpper(snapshotTree(join(rw, 'p-upper'), () => true), KERNEL_OVERLAY_XATTRS);
    assert.deepEqual(problems, []);
    const remounted = mountKernelOverlay(cleanup, { lowers: [lower], upper: join(rw, 'p-upper'), work: join(rw, 'p-work2') }, join(dir, 'remount'));
    assert.deepEqual(diffSnapshots(expected, snapshot(remounted)), []);
  });
});
