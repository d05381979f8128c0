// The changes list's pure logic: grouping under directory headers, the window that shows the
// cursor, the pages a window needs, and the page cache.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeEntry } from '../../src/control/protocol.js';
import { baseOf, dirOf, layoutRows, PageCache, pagesFor, scrollToCursor, type Row } from '../../src/tui/changes/window.js';
import { ENTRIES } from '../control/fixture.js';
import { syntheticEntries } from './fake-control.js';

const lookup = (entries: ChangeEntry[]) => (i: number) => entries[i];
const show = (rows: Row[]) => rows.map((r) => (r.kind === 'dir' ? `[${r.dir}${r.continued ? ' cont' : ''}]` : r.kind === 'entry' ? baseOf(r.entry.path) : `…${r.index}`));

describe('tui window', () => {
  it('splits paths into directory and name', () => {
    assert.equal(dirOf('/etc/hostname'), '/etc');
    assert.equal(dirOf('/hostname'), '/');
    assert.equal(dirOf('/usr/share/doc/readme'), '/usr/share/doc');
    assert.equal(baseOf('/usr/share/doc/readme'), 'readme');
  });

  it('groups entries under a header per directory', () => {
    const rows = layoutRows(0, 100, ENTRIES.length, lookup(ENTRIES));
    assert.deepEqual(show(rows), ['[/etc]', 'hostname', 'new', '[/usr/share/doc]', 'readme', '[/var/log]', 'syslog', 'wtmp']);
  });

  it('starts a window with its directory header, marked continued when it began above', () => {
    assert.deepEqual(show(layoutRows(1, 3, ENTRIES.length, lookup(ENTRIES))), ['[/etc cont]', 'new']);
    assert.deepEqual(show(layoutRows(2, 4, ENTRIES.length, lookup(ENTRIES))), ['[/usr/share/doc]', 'readme', '[/var/log]', 'syslog']);
  });

  it('never ends a window on a header, and fills at most height rows', () => {
    const rows = layoutRows(0, 4, ENTRIES.length, lookup(ENTRIES));
    assert.deepEqual(show(rows), ['[/etc]', 'hostname', 'new']);
    for (let h = 1; h < 10; h++) assert.ok(layoutRows(0, h, ENTRIES.length, lookup(ENTRIES)).length <= h);
    assert.deepEqual(show(layoutRows(0, 1, ENTRIES.length, lookup(ENTRIES))), ['hostname']);
  });

  it('shows entries not loaded yet as loading rows', () => {
    const entries = syntheticEntries(10);
    const get = (i: number) => (i < 3 ? entries[i] : undefined);
    assert.deepEqual(show(layoutRows(1, 5, 10, get)), ['[/srv/d0000 cont]', 'f000001', 'f000002', '…3', '…4']);
  });

  it('scrolls only as far as the cursor needs', () => {
    const entries = syntheticEntries(1000);
    const get = lookup(entries);
    assert.equal(scrollToCursor(0, 5, 10, 1000, get), 0);
    // Down past the bottom: the cursor ends on the last row.
    const t = scrollToCursor(0, 20, 10, 1000, get);
    const rows = layoutRows(t, 10, 1000, get);
    const last = rows[rows.length - 1]!;
    assert.ok(last.kind === 'entry' && last.index === 20, JSON.stringify(show(rows)));
    // Up above the top: the cursor's entry starts the window.
    assert.equal(scrollToCursor(100, 50, 10, 1000, get), 50);
    // A jump to the end fills the window.
    const end = scrollToCursor(0, 999, 10, 1000, get);
    assert.equal(layoutRows(end, 10, 1000, get).length, 10);
    assert.equal(scrollToCursor(0, 0, 10, 0, get), 0);
  });

  it('names the pages of a range', () => {
    assert.deepEqual(pagesFor(0, 15, 200), [0]);
    assert.deepEqual(pagesFor(190, 215, 200), [0, 1]);
    assert.deepEqual(pagesFor(-1, 10, 200), [0]);
    assert.deepEqual(pagesFor(5, 4, 200), []);
  });

  it('caches pages by generation, finds paths, evicts the farthest', () => {
    const entries = syntheticEntries(2000);
    const cache = new PageCache(100, 3);
    for (const page of [0, 1, 5, 9]) cache.set(page, 1, entries.slice(page * 100, page * 100 + 100));
    assert.equal(cache.get(150)?.path, entries[150]!.path);
    assert.equal(cache.get(300), undefined);
    assert.equal(cache.indexOf(entries[512]!.path, 1), 512);
    assert.equal(cache.indexOf(entries[512]!.path, 2), -1, 'not in a page of a later generation');
    assert.ok(cache.isFresh(5, 1) && !cache.isFresh(5, 2));
    cache.evict(1);
    assert.equal(cache.size, 3);
    assert.equal(cache.get(950), undefined, 'page 9 was the farthest from page 1');
    cache.truncate(150);
    assert.equal(cache.get(500), undefined);
    assert.ok(cache.get(120));
  });
});
