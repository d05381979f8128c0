// An open file follows renames of any of its ancestors, across freezes of the stage: the handle is
// matched to the object by its current name, which the next copy-up (out of a frozen snapshot)
// looks up. Kernel overlayfs: `e/f` holds both lines; so must persist, in the union and on flash.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { run } from '../support/command.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { prepareStagedFlash, type StagedFlash } from '../flush/flush-fixture.js';

describe('open handles across directory renames and freezes (staged)', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  let daemon: Persistd;
  const mnt = (): string => setup.mountpoint;
  const upper = (): string => setup.upper;

  before(async () => {
    setup = prepareStagedFlash(cleanup, [{ path: 'srv/.keep', content: '' }], { flashMiB: 64, stageMiB: 64 });
    daemon = await startPersistd(cleanup, {
      lowers: setup.lowers, upper: upper(), stage: setup.stages.next(), mountpoint: mnt(),
      extraArgs: ['--flush-interval', '1h', '--min-interval', '1h'],
    });
  });
  after(() => cleanup.runAll());

  /**
   * In a child shell: open FILE on fd 3, write, run RENAME, flush (SIGUSR1 to the daemon, then wait
   * for its "flushed batch" line via a marker file), write again through fd 3.
   */
  async function writeAcross(file: string, rename: string): Promise<string> {
    const marker = join(setup.dir, `flushed-${Math.random().toString(36).slice(2)}`);
    const script = `cd '${mnt()}'\nexec 3>'${file}'\necho one >&3\n${rename}\n: > '${marker}.go'\nwhile [ ! -e '${marker}' ]; do sleep 0.05; done\necho two >&3\nexec 3>&-\n`;
    const child = new Promise<string>((done, failed) => {
      const sh = spawn('sh', ['-euc', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      sh.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      sh.on('exit', (code) => (code === 0 ? done(err) : failed(new Error(`the shell failed (${code}): ${err}`))));
    });
    await waitFor(`${marker}.go`);
    await daemon.flushNow();
    run('touch', [marker]);
    return child;
  }

  it('a file opened before its directory is renamed and the stage frozen stays writable', async () => {
    run('mkdir', ['-p', join(mnt(), 'd')]);
    await writeAcross('d/f', 'mv d e');
    assert.equal(readFileSync(join(mnt(), 'e/f'), 'utf8'), 'one\ntwo\n');
    await daemon.flushNow();
    assert.equal(readFileSync(join(upper(), 'e/f'), 'utf8'), 'one\ntwo\n');
  });

  it('follows a rename of a grandparent too', async () => {
    run('mkdir', ['-p', join(mnt(), 'g/p')]);
    await writeAcross('g/p/f', 'mv g h');
    assert.equal(readFileSync(join(mnt(), 'h/p/f'), 'utf8'), 'one\ntwo\n');
    await daemon.flushNow();
    assert.equal(readFileSync(join(upper(), 'h/p/f'), 'utf8'), 'one\ntwo\n');
  });
});

async function waitFor(path: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}
