// Volatile mode (live CD without persistence): `--stage` without `--upper`. Writes work through
// the mount, but nothing is written anywhere except the stage: not to a flash directory beside it,
// not next to the stage; SIGUSR1 (flush now) has nowhere to go and must not hurt; SIGTERM unmounts
// and exits 0; a new daemon with a fresh stage shows the lower again.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { makeTempDir } from '../support/tempdir.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { snapshotTree } from '../support/tree-snapshot.js';
import { buildLower, inMount, sameTree } from './flush-fixture.js';

describe('volatile mode: --stage without --upper', () => {
  const cleanup = new Cleanup();
  let dir: string;
  let lower: string;
  let stageRoot: string;
  let mnt: string;
  let flashDir: string;
  let topLevelBefore: string[];

  const start = (stage: string): Promise<Persistd> => startPersistd(cleanup, { lowers: [lower], stage, mountpoint: mnt });

  before(() => {
    dir = makeTempDir(cleanup);
    lower = buildLower(cleanup, dir, [
      { path: 'etc/config', content: 'lower config\n' },
      { path: 'etc/remove-me', content: 'x\n' },
      { path: 'var/log/boot.log', content: 'booted\n' },
    ]);
    stageRoot = mountTmpfs(cleanup, join(dir, 'stage-tmpfs'), { size: '64m' });
    flashDir = join(dir, 'flash'); // what would be the flash, were there one: must stay empty
    mkdirSync(flashDir);
    mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    topLevelBefore = readdirSync(dir).sort();
  });
  after(() => cleanup.runAll());

  it('serves writes from the stage only, and exits 0 on SIGTERM', async () => {
    const stage = join(stageRoot, 'stage');
    mkdirSync(stage);
    const daemon = await start(stage);
    inMount(mnt, `
printf 'new config\\n' > etc/config
rm etc/remove-me
mkdir -p home/user && printf 'hello\\n' > home/user/notes
printf 'line 2\\n' >> var/log/boot.log
mv home/user/notes home/user/notes.txt
ln -s notes.txt home/user/link
`);
    const out = inMount(mnt, 'cat etc/config home/user/link var/log/boot.log; ls etc');
    assert.equal(out, 'new config\nhello\nbooted\nline 2\nconfig\n');
    daemon.signal('SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(daemon.hasExited(), false, `SIGUSR1 in volatile mode ended the daemon:\n${daemon.tail()}`);
    assert.equal(inMount(mnt, 'cat home/user/notes.txt'), 'hello\n', 'the mount still works after SIGUSR1');

    const exit = await daemon.stop();
    assert.equal(exit.code, 0, `persistd should exit 0 on SIGTERM: ${JSON.stringify({ code: exit.code, signal: exit.signal, forced: exit.forced })}\n${exit.output.slice(-3000)}`);
    assert.equal(exit.forced, false);
    assert.deepEqual(readdirSync(flashDir), [], 'nothing may appear in a flash directory');
    assert.deepEqual(readdirSync(dir).sort(), topLevelBefore, 'nothing may appear beside the layers');
    assert.deepEqual(readdirSync(stageRoot), ['stage'], 'nothing may appear beside the stage (journal, state, upper, work)');
  });

  it('starts from the lower again with a fresh stage', async () => {
    const stage = join(stageRoot, 'stage-2');
    mkdirSync(stage);
    const daemon = await start(stage);
    // The squashfs carries no xattrs (getfattr fails on it): compare with the tree it was built from.
    sameTree(snapshotTree(join(dir, 'lower-tree')), snapshotTree(mnt), 'a fresh volatile mount should show exactly the lower');
    const exit = await daemon.stop();
    assert.equal(exit.code, 0);
  });
});
