// persistctl's TUI end to end: the built CLI in a real terminal (tmux, 80×24) against a real
// staged persistd (squashfs lower, tmpfs stage, ext4 flash on a loop device). An operator's
// session: look at the changes, filter, mark two files and commit them (only they reach the
// upper), discard one (the file is back), commit and then revert another (the factory version
// is back, the upper holds nothing of it), follow a resize, quit.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cleanup } from '../support/cleanup.js';
import { startPersistd, type Persistd } from '../support/persistd.js';
import { findRepoRoot } from '../support/repo-root.js';
import { Terminal } from '../support/tmux.js';
import { inMount, prepareStagedFlash, type StagedFlash } from '../flush/flush-fixture.js';

const LOWER = [
  { path: 'etc/hostname', content: 'factory\n' },
  { path: 'etc/app/config', content: 'a=1\n' },
  { path: 'usr/share/doc/readme', content: 'doc\n' },
  { path: 'var/log/.keep', content: '' },
];

const cli = join(findRepoRoot(), 'dist', 'src', 'cli', 'persistctl.js');

async function until(check: () => boolean, what: string, term: Terminal, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the screen:\n${term.screen()}`);
    await new Promise((next) => setTimeout(next, 50));
  }
}

/** The row the cursor (›) is on. */
const cursorRow = (screen: string): string => screen.split('\n').find((line) => line.trimStart().startsWith('›')) ?? '';

describe('persistctl TUI in a terminal, against a real staged persistd', () => {
  const cleanup = new Cleanup();
  let setup: StagedFlash;
  let daemon: Persistd;
  let term: Terminal;
  const inMnt = (path: string) => join(setup.mountpoint, path);
  const inUpper = (path: string) => join(setup.upper, path);
  const read = (path: string) => readFileSync(inMnt(path), 'utf8');

  /** Moves the cursor down (j) until it is on `name`: the list is sorted, so it is below. */
  async function select(name: string): Promise<void> {
    for (let i = 0; i < 30; i++) {
      const row = cursorRow(term.screen());
      if (new RegExp(`\\b${name}\\b`).test(row)) return;
      term.keys('j');
      await new Promise((next) => setTimeout(next, 80));
    }
    assert.fail(`the cursor never reached ${name}; the screen:\n${term.screen()}`);
  }

  before(async () => {
    setup = prepareStagedFlash(cleanup, LOWER, { flashMiB: 64, stageMiB: 64 });
    daemon = await startPersistd(cleanup, {
      lowers: setup.lowers, upper: setup.upper, stage: setup.stages.next(), mountpoint: setup.mountpoint,
      extraArgs: ['--flush-interval', '1h', '--min-interval', '0'],
    });
    const socket = await daemon.controlReady();
    inMount(setup.mountpoint, [
      'printf changed > etc/hostname',
      'printf a > etc/new-a',
      'printf b > etc/new-b',
      'printf "a=2\\n" > etc/app/config',
      'rm usr/share/doc/readme',
    ].join('\n'));
    // CI=true as on a CI runner, where Ink would draw nothing until exit unless persistctl clears it.
    term = new Terminal(cleanup, [process.execPath, cli], { columns: 80, rows: 24, env: { PERSIST_SOCKET: socket, TERM: 'xterm-256color', CI: 'true' } });
  });
  after(() => cleanup.runAll());

  it('shows the header and the changes grouped by directory, within 80×24', async () => {
    const screen = await term.waitFor(/new-b/, 'the changes list');
    assert.match(screen, /staged/);
    assert.match(screen, /readme/);
    assert.match(screen, /\/etc\//, 'a directory header for /etc');
    for (const line of screen.split('\n')) assert.ok([...line].length <= 80, `a line wider than 80 columns: ${line}`);
  });

  it('/ filters by prefix', async () => {
    term.keys('/');
    await new Promise((next) => setTimeout(next, 200));
    term.type('/etc');
    term.keys('Enter');
    await term.waitFor((s) => /under \/etc/.test(s) && !/readme/.test(s), 'the /etc filter');
  });

  it('space marks two files and c commits just them', async () => {
    await select('new-a');
    term.keys('Space');
    await term.waitFor(/1 marked/, 'one mark');
    await select('new-b');
    term.keys('Space');
    await term.waitFor(/2 marked/, 'two marks');
    term.keys('c');
    await until(() => existsSync(inUpper('etc/new-a')) && existsSync(inUpper('etc/new-b')), 'the marked files on the flash', term);
    assert.equal(readFileSync(inUpper('etc/new-a'), 'utf8'), 'a');
    assert.equal(existsSync(inUpper('etc/hostname')), false, 'an unmarked change was committed');
    assert.equal(existsSync(inUpper('etc/app/config')), false, 'an unmarked change was committed');
    await term.waitFor((s) => !/marked/.test(s), 'the marks cleared after the commit');
  });

  it('d asks, and y discards: the file is back', async () => {
    term.keys('g');
    await term.waitFor(/Changes 1 of/, 'the cursor at the top');
    await select('hostname');
    term.keys('d');
    await term.waitFor(/Discard .*\[y\/N\]/, 'the discard question');
    term.keys('y');
    await until(() => read('etc/hostname') === 'factory\n', 'etc/hostname back at its persisted (factory) version', term);
    await term.waitFor(/discarded the pending changes of 1 path \/etc\/hostname/, 'the summary line');
  });

  it('r asks, and y reverts a committed file to the factory version', async () => {
    term.keys('g');
    await term.waitFor(/Changes 1 of/, 'the cursor at the top');
    await select('config');
    term.keys('c');
    await until(() => existsSync(inUpper('etc/app/config')), 'etc/app/config committed', term);
    await term.waitFor((s) => /config/.test(cursorRow(s)), 'the cursor still on config');
    term.keys('r');
    await term.waitFor(/\[y\/N\]/, 'the revert question');
    term.keys('y');
    await until(() => read('etc/app/config') === 'a=1\n' && !existsSync(inUpper('etc/app/config')), 'etc/app/config at the factory version', term);
  });

  it('follows a resize, and q quits with status 0', async () => {
    term.resize(100, 30);
    await term.waitFor((s) => s.split('\n').length >= 30 && /staged/.test(s), 'the resized screen');
    term.keys('q');
    await until(() => term.exitStatus() !== null, 'persistctl to exit', term);
    assert.equal(term.exitStatus(), 0);
    assert.equal(read('etc/new-a'), 'a', 'the mount still serves after the TUI quit');
  });
});
