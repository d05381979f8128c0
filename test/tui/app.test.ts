// The TUI against a fake Control: what the frames show and which requests it sent, key by key.

import './force-color.js';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ControlError, type ChangeEntry } from '../../src/control/protocol.js';
import { DIFF, ENTRIES } from '../control/fixture.js';
import { FakeControl, syntheticEntries } from './fake-control.js';
import { colourEscapes, KEY, renderApp, settle, type Screen } from './harness.js';

let screens: Screen[] = [];
function open(control: FakeControl, options: { color?: boolean; columns?: number; rows?: number; onExit?: (code: number) => void } = {}): Screen {
  const screen = renderApp(
    { control, color: options.color ?? false, ...(options.onExit ? { onExit: options.onExit } : {}) },
    { columns: options.columns ?? 80, rows: options.rows ?? 24 },
  );
  screens.push(screen);
  return screen;
}

afterEach(() => {
  for (const s of screens) s.unmount();
  screens = [];
});

const paths = (control: FakeControl, op: string) => control.callsOf(op).map((c) => c.args[0]);

describe('tui app', () => {
  it('shows the mode, mountpoint, layers and the flash health in the header', async () => {
    const s = open(new FakeControl(ENTRIES), { columns: 120 });
    const f = await s.waitFor(/persist staged/);
    assert.match(f, /\/tmp\/persist-demo\/root/);
    assert.match(f, /pid 4242, up 1h 2m/);
    assert.match(f, /lower \/run\/persist\/lower · upper \/flash\/upper · stage \/run\/persist\/stage/);
    assert.match(f, /pending ● 1\.2 MiB in 17 paths, oldest 12s/);
    assert.match(f, /last flush ✗ FAILED 30s ago: ENOSPC/);
    assert.match(f, /RESET SCHEDULED/);
    assert.match(f, /FLASH FAILING/);
  });

  it('groups the changes by directory, with state glyphs and kind letters', async () => {
    const s = open(new FakeControl(ENTRIES));
    const f = await s.waitFor(/wtmp/);
    const lines = f.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/▸ \/etc\/$/) < at(/● M hostname \(flash: M\)\s+9 B$/));
    assert.ok(at(/hostname/) < at(/● A new\s+3 B$/));
    assert.ok(at(/new/) < at(/▸ \/usr\/share\/doc\/$/));
    assert.ok(at(/▸ \/usr\/share\/doc\//) < at(/✓ D readme$/));
    assert.ok(at(/readme/) < at(/▸ \/var\/log\/$/));
    assert.ok(at(/▸ \/var\/log/) < at(/● M syslog\s+2\.0 MiB$/));
    assert.ok(at(/syslog/) < at(/✓ m wtmp$/));
    assert.match(f, /Changes 1 of 5/);
  });

  it('moves with arrows, j/k, PgDn and G over 50,000 changes, fetching only pages near the window', async () => {
    const control = new FakeControl(syntheticEntries(50_000));
    const s = open(control);
    await s.waitFor(/f000000/);
    for (let i = 0; i < 30; i++) await s.press(KEY.down);
    let f = await s.waitFor(/Changes 31 of 50,000/);
    assert.match(f, /› \/srv\/d0001\/f000030/, 'the footer names the selected path');
    assert.match(f, /› {2}. . f000030/);
    assert.doesNotMatch(f, /f000000/, 'the window scrolled');
    await s.press('k', 'k', 'j');
    await s.waitFor(/Changes 30 of 50,000/);
    await s.press(KEY.pageDown);
    f = await s.waitFor((fr) => !/Changes 30 of/.test(fr));
    const at = Number(/Changes (\d+) of/.exec(f)![1]);
    assert.ok(at > 40 && at < 50, `a page down moves about a screen: ${at}`);
    await s.press('G');
    f = await s.waitFor(/Changes 50,000 of 50,000/);
    await s.waitFor(/f049999/);
    await s.press('g');
    await s.waitFor(/Changes 1 of 50,000/);
    const offsets = control.callsOf('changes').map((c) => (c.args[0] as { offset: number }).offset);
    assert.ok(offsets.length <= 6, `pages fetched: ${offsets}`);
    assert.ok(new Set(offsets).size === offsets.length, `no page twice: ${offsets}`);
    for (const c of control.callsOf('changes')) assert.ok((c.args[0] as { limit: number }).limit <= 200);
    assert.deepEqual([...new Set(offsets)].sort((a, b) => a - b), [0, 49_800]);
    // Only the window is rendered: 50,000 entries never reach the screen at once.
    assert.ok(f.split('\n').length <= 23);
  });

  it('keys read as one run act one by one, each after the render of the one before', async () => {
    const control = new FakeControl(syntheticEntries(100));
    const s = open(control);
    await s.waitFor(/f000000/);
    s.stdin.write('jjjj'); // j held on a slow console
    await s.waitFor(/Changes 5 of 100/);
    s.stdin.write('kk j');
    await s.waitFor(/Changes 4 of 100 · \*1 marked/);
    // "/" opens the filter, so "etc" is typed into it; "c" must not commit.
    s.stdin.write('/etc');
    await s.waitFor(/under: etc/);
    assert.equal(control.callsOf('commit').length, 0, 'a key meant for the filter committed');
    s.stdin.write('\u001b');
    await s.waitFor((f) => !/under:/.test(f));
    s.stdin.write('jd'); // a question opens: the keys after it answer it
    await s.waitFor(/\[y\/N\]/);
    s.stdin.write('y');
    await s.waitFor(() => control.callsOf('discard').length === 1);
    assert.deepEqual(control.callsOf('discard')[0]!.args[0], ['/srv/d0000/f000002'], 'the marked change');
  });

  it('shows the diff of the selected change on Enter, scrollable, Esc closes it', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press(KEY.enter);
    const f = await s.waitFor(/\+appliance/);
    assert.match(f, /^-factory$/m);
    assert.match(f, /Diff \/etc\/hostname/);
    assert.deepEqual(paths(control, 'diff'), ['/etc/hostname']);
    await s.press(KEY.escape);
    await s.waitFor((fr) => !/appliance/.test(fr));
  });

  it('scrolls a long diff in its pane, Tab gives the list the keys back', async () => {
    const control = new FakeControl(ENTRIES);
    const body = Array.from({ length: 40 }, (_, i) => `+line ${i}`).join('\n');
    control.behave.diff = async (path: string) => ({ ...DIFF, path, unified: `--- a\n+++ b\n@@ -0,0 +1,40 @@\n${body}\n` });
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press(KEY.enter);
    await s.waitFor(/Diff \/etc\/hostname 1-9\/44/);
    await s.press(KEY.down, 'j', KEY.pageDown);
    const f = await s.waitFor(/Diff \/etc\/hostname 11-19\/44/);
    assert.match(f, /^\+line 6$/m);
    assert.doesNotMatch(f, /^\+line 5$/m);
    assert.match(f, /Changes 1 of 5/, 'the list did not move');
    await s.press(KEY.tab, KEY.down);
    await s.waitFor(/Changes 2 of 5/);
    await s.press(KEY.escape);
    await s.waitFor((fr) => !/Diff /.test(fr));
  });

  it('shows a binary diff as sizes and sha256 sums', async () => {
    const control = new FakeControl(ENTRIES);
    control.behave.diff = async (path: string) => ({
      path,
      base: 'factory',
      old: { type: 'file', size: 4096, sha256: 'c'.repeat(64) },
      new: { type: 'file', size: 8192, sha256: 'd'.repeat(64) },
      format: 'binary',
    });
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press(KEY.enter);
    const f = await s.waitFor(/sha256 d{64}/);
    assert.match(f, /^- factory: file, 4,096 bytes\n {2}sha256 c{64}$/m);
    assert.match(f, /^\+ now: file, 8,192 bytes\n {2}sha256 d{64}$/m);
  });

  it('marks two changes with space, and c commits exactly those', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press(KEY.space, KEY.down, KEY.down, KEY.space);
    await s.waitFor(/\*2 marked/);
    await s.press('c');
    await s.waitFor(/committed \/etc\/hostname, \/usr\/share\/doc\/readme/);
    assert.deepEqual(paths(control, 'commit'), [['/etc/hostname', '/usr/share/doc/readme']]);
    await s.waitFor((f) => !/marked/.test(f));
    await s.press(KEY.space);
    await s.waitFor(/\*1 marked/);
    await s.press(KEY.escape);
    await s.waitFor((f) => !/marked/.test(f));
  });

  it('commits the selected change when none is marked, and shows progress from flush events', async () => {
    const control = new FakeControl(ENTRIES);
    let finish!: () => void;
    control.behave.commit = (paths: string[]) => new Promise((done) => (finish = () => done({ paths, batches: 1, bytes: 2_097_152 })));
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press(KEY.down, 'c');
    await s.waitFor(/committing… 0 B written/);
    control.emit({ event: 'flush-started', seq: 1, time: 0 });
    control.emit({ event: 'flush-progress', seq: 1, bytes: 1_048_576, time: 0 });
    await s.waitFor(/committing… 1\.0 MiB written/);
    const before = control.callsOf('changes').length;
    finish();
    await s.waitFor(/✓ committed \/etc\/new: 1 batch, 2\.0 MiB written to the flash/);
    assert.deepEqual(paths(control, 'commit'), [['/etc/new']]);
    await s.waitFor(() => control.callsOf('changes').length > before, 'a refresh after the commit');
  });

  it('asks before everything when nothing is selectable', async () => {
    const control = new FakeControl([]);
    const s = open(control);
    await s.waitFor(/no changes/);
    await s.press('c');
    await s.waitFor(/Commit everything pending/);
    await s.press('y');
    await s.waitFor(/committed everything pending/);
    assert.deepEqual(paths(control, 'commit'), [[]]);
  });

  it('d asks y/n: n cancels, y discards', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press('d');
    await s.waitFor(/\? Discard the pending changes of \/etc\/hostname\? .* \[y\/N\]/);
    await s.press('n');
    await s.waitFor(/discard cancelled/);
    assert.equal(control.callsOf('discard').length, 0);
    await s.press('d', 'y');
    await s.waitFor(/discarded the pending changes of 1 path/);
    assert.deepEqual(paths(control, 'discard'), [['/etc/hostname']]);
  });

  it('r reverts the marked changes to the factory version after y', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press(KEY.space, KEY.down, KEY.space, 'r');
    await s.waitFor(/Revert 2 paths \(\/etc\/hostname, \/etc\/new\) to the factory version/);
    await s.press('x');
    await s.waitFor(/revert cancelled/);
    await s.press('r', 'y');
    await s.waitFor(/back at the factory version \(2\)/);
    assert.deepEqual(paths(control, 'revert'), [['/etc/hostname', '/etc/new']]);
  });

  it('R asks twice and resets only on y, y', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press('R');
    await s.waitFor(/Schedule a factory reset of \/tmp\/persist-demo\/root\?/);
    await s.press('n');
    await s.waitFor(/reset cancelled/);
    await s.press('R', 'y');
    await s.waitFor(/Really\? Everything written/);
    await s.press(KEY.enter);
    await s.waitFor(/reset cancelled/);
    assert.equal(control.callsOf('reset').length, 0);
    await s.press('R', 'y', 'y');
    await s.waitFor(/factory reset scheduled \(\/flash\/reset-pending\); next: reboot/);
    assert.equal(control.callsOf('reset').length, 1);
  });

  it('/ filters by a path prefix: Enter applies it to the query, Esc cancels', async () => {
    const control = new FakeControl(syntheticEntries(500));
    const s = open(control);
    await s.waitFor(/f000000/);
    await s.press('/');
    await s.waitFor(/\/ under:/);
    await s.press(...'srv/d0003'.split(''));
    await s.waitFor(/under: srv\/d0003/);
    await s.press(KEY.enter);
    const f = await s.waitFor(/Changes 1 of 25 · under \/srv\/d0003/);
    assert.match(f, /f000075/);
    assert.equal((control.callsOf('changes').at(-1)!.args[0] as { prefix: string }).prefix, '/srv/d0003');
    const before = control.callsOf('changes').length;
    await s.press('/', 'x', KEY.escape);
    await s.waitFor((fr) => !/under:/.test(fr));
    await settle();
    assert.equal(control.callsOf('changes').length, before, 'Esc sent no query');
    assert.match(s.frame(), /under \/srv\/d0003/);
  });

  it('/ takes a prefix typed and submitted faster than a frame: one run, and a run ending in Enter', async () => {
    const control = new FakeControl(syntheticEntries(500));
    const s = open(control);
    await s.waitFor(/f000000/);
    await s.press('/');
    await s.waitFor(/\/ under:/);
    s.stdin.write('/srv/d0002');
    s.stdin.write(KEY.enter); // no frame in between
    await s.waitFor(/under \/srv\/d0002/);
    await s.press('/');
    await s.waitFor(/\/ under:/);
    s.stdin.write('\u007f'.repeat(10) + '/srv/d0004\r'); // backspaces, then a pasted line
    await s.waitFor(/Changes 1 of 25 · under \/srv\/d0004/);
    assert.equal((control.callsOf('changes').at(-1)!.args[0] as { prefix: string }).prefix, '/srv/d0004');
  });

  it('? shows the help, any key closes it', async () => {
    const s = open(new FakeControl(ENTRIES));
    await s.waitFor(/hostname/);
    await s.press('?');
    const f = await s.waitFor(/Keys/);
    assert.match(f, /schedule a factory reset/);
    assert.match(f, /● pending \(RAM only\)/);
    await s.press('x');
    await s.waitFor(/hostname/);
  });

  it('t shows the top writers, +/- change the depth', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press('t');
    const f = await s.waitFor(/50 MiB/);
    assert.match(f, /Top writers/);
    assert.match(f, /WRITTEN\s+FLUSHED\s+AVOIDED\s+PATH/);
    assert.match(f, /50 MiB\s+1\.0 MiB\s+49 MiB\s+\/var\/log\/syslog/);
    await s.press('+');
    await s.waitFor(/depth 1/);
    assert.deepEqual(control.callsOf('top').map((c) => (c.args[0] as { depth: number }).depth), [0, 1]);
    await s.press('t');
    await s.waitFor(/Changes 1 of 5/);
  });

  it('shows an error reply in the footer (message and hint) and goes on', async () => {
    const control = new FakeControl(ENTRIES);
    control.behave.discard = async () => {
      throw new ControlError('busy', 'files are open on /etc/hostname', 'close them first');
    };
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press('d', 'y');
    await s.waitFor(/✗ files are open on \/etc\/hostname — close them first/);
    await s.press(KEY.down);
    await s.waitFor(/Changes 2 of 5/);
  });

  it('tells when the daemon goes away', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    control.emit({ event: 'error', message: 'persistd closed the connection', time: 0 });
    await s.waitFor(/✗ persistd closed the connection — restart persistd/);
  });

  it('refreshes on changed events and keeps the selection on its path', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press(KEY.down, KEY.down);
    await s.waitFor(/Changes 3 of 5/);
    const statusCalls = control.callsOf('status').length;
    const added: ChangeEntry[] = [{ path: '/a/first', kind: 'added', state: 'pending', bytes: 1 }];
    control.entries = [...added, ...ENTRIES];
    control.emit({ event: 'changed', paths: ['/a/first'], more: 0, time: 0 });
    const f = await s.waitFor(/Changes 4 of 6/);
    assert.match(f, /› \/usr\/share\/doc\/readme/);
    assert.match(f, /first/);
    assert.ok(control.callsOf('status').length > statusCalls, 'the header was refreshed');
  });

  it('a key pressed while a refresh is in flight wins over keeping the old selection', async () => {
    const control = new FakeControl(ENTRIES);
    const s = open(control);
    await s.waitFor(/hostname/);
    await s.press('G');
    await s.waitFor(/Changes 5 of 5/);
    control.delayMs = 150;
    control.emit({ event: 'changed', paths: ['/etc/new'], more: 0, time: 0 });
    await new Promise((done) => setTimeout(done, 20)); // the refresh has gone out, not come back
    await s.press('g');
    await new Promise((done) => setTimeout(done, 400));
    assert.match(s.frame(), /Changes 1 of 5/, 'the refresh took the cursor back to where it was before g');
  });

  it('without colour has no colour escapes but every glyph; with colour it has both', async () => {
    const plain = open(new FakeControl(ENTRIES), { color: false });
    await plain.waitFor(/wtmp/);
    assert.deepEqual(colourEscapes(plain.rawFrame()), []);
    for (const glyph of ['●', '✓', '›', '▸', '✗', '⚠', ' A ', ' M ', ' D ', ' m ']) assert.ok(plain.frame().includes(glyph), glyph);
    const coloured = open(new FakeControl(ENTRIES), { color: true });
    await coloured.waitFor(/wtmp/);
    assert.ok(colourEscapes(coloured.rawFrame()).length > 0, 'colours when allowed');
    assert.equal(coloured.frame(), plain.frame(), 'the same text either way');
  });

  it('fits 80x24: no line over 80 columns, at most 23 lines, long paths cut from the left; follows a resize', async () => {
    const long = `/var/lib/${'very-long-directory-name/'.repeat(6)}`;
    const longEntry: ChangeEntry = { path: `${long}${'x'.repeat(100)}.log`, kind: 'modified', state: 'pending', bytes: 123_456_789, onFlash: 'added' };
    const entries: ChangeEntry[] = [longEntry, ...ENTRIES].sort((a, b) => (a.path < b.path ? -1 : 1));
    const control = new FakeControl(entries);
    control.status_ = { ...control.status_, mountpoint: `/mnt/${'m'.repeat(120)}` };
    const s = open(control);
    await s.waitFor(/xxx\.log/);
    const check = (f: string, columns: number, rows: number) => {
      const lines = f.split('\n');
      assert.ok(lines.length <= rows - 1, `${lines.length} lines`);
      for (const line of lines) assert.ok([...line].length <= columns, `over ${columns}: ${line}`);
    };
    check(s.frame(), 80, 24);
    assert.match(s.frame(), /…x+\.log/);
    await s.press('G', KEY.enter);
    await s.waitFor(/appliance/);
    check(s.frame(), 80, 24);
    s.resize(50, 16);
    await s.waitFor((f) => f.split('\n').every((l) => [...l].length <= 50));
    check(s.frame(), 50, 16);
  });

  it('q exits with 0, and so does Ctrl-C', async () => {
    let code: number | null = null;
    const s = open(new FakeControl(ENTRIES), { onExit: (c) => (code = c) });
    await s.waitFor(/hostname/);
    await s.press('q');
    assert.equal(code, 0);
    let code2: number | null = null;
    const s2 = open(new FakeControl(ENTRIES), { onExit: (c) => (code2 = c) });
    await s2.waitFor(/hostname/);
    await s2.press(KEY.ctrlC);
    assert.equal(code2, 0);
  });
});
