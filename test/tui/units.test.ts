// The TUI's small pure pieces: NO_COLOR, width-bounded text, segments, flush progress, the
// header without a flash, the targets of an action, the body layout at 80x24.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyLayout } from '../../src/tui/app.js';
import { diffLines } from '../../src/tui/diff/diff-lines.js';
import { IDLE, nextProgress } from '../../src/tui/events/use-events.js';
import { progressText } from '../../src/tui/footer.js';
import { fitSegments, runs } from '../../src/tui/line.js';
import { headerLines } from '../../src/tui/status/header.js';
import { fit, truncateLeft, truncateRight } from '../../src/tui/text.js';
import { colorFromEnv, makeTheme } from '../../src/tui/theme.js';
import { describePaths, targets } from '../../src/tui/use-actions.js';
import { DIFF, ENTRIES, STATUS } from '../control/fixture.js';

const text = (lines: { text: string }[][]) => lines.map((l) => l.map((s) => s.text).join('')).join('\n');

describe('tui units', () => {
  it('honours NO_COLOR only when present and non-empty', () => {
    assert.equal(colorFromEnv({}), true);
    assert.equal(colorFromEnv({ NO_COLOR: '' }), true);
    assert.equal(colorFromEnv({ NO_COLOR: '1' }), false);
    assert.equal(makeTheme(false).colorOf('error'), undefined);
    assert.equal(makeTheme(true).colorOf('error'), 'red');
  });

  it('cuts text to a width: paths from the left, the rest from the right', () => {
    assert.equal(truncateLeft('/var/log/syslog', 10), '…og/syslog');
    assert.equal(truncateLeft('/var/log/syslog', 10).length, 10);
    assert.equal(truncateLeft('/a', 10), '/a');
    assert.equal(truncateRight('abcdef', 4), 'abc…');
    assert.equal(fit('ab', 4), 'ab  ');
    assert.equal(truncateLeft('x', 0), '');
  });

  it('fits segments to a width, defangs tabs and control characters, merges equal styles', () => {
    const fitted = fitSegments([{ text: 'abc' }, { text: 'def', role: 'error' }, { text: 'ghi' }], 5);
    assert.deepEqual(fitted.map((s) => s.text), ['abc', 'd…']);
    assert.equal(fitSegments([{ text: 'a\tb\u001b[31m' }], 80)[0]!.text, 'a    b?[31m');
    const merged = runs([{ text: 'a' }, { text: 'b', role: 'error' }, { text: 'c' }], makeTheme(false).colorOf);
    assert.deepEqual(merged.map((r) => r.text), ['abc']);
    assert.equal(runs([{ text: 'a' }, { text: 'b', role: 'error' }], makeTheme(true).colorOf).length, 2);
  });

  it('follows a flush through its events', () => {
    let p = nextProgress(IDLE, { event: 'flush-started', seq: 1, time: 0 });
    p = nextProgress(p, { event: 'flush-progress', seq: 1, bytes: 1024, time: 0 });
    assert.equal(progressText('commit', p)?.text, 'committing… 1.0 KiB written');
    p = nextProgress(p, { event: 'flush-finished', seq: 1, bytes: 2048, durationSeconds: 1, time: 0 });
    assert.equal(progressText('commit', p)?.text, 'committing… 2.0 KiB written (1 batch done)');
    assert.equal(progressText(null, p), null, 'nothing runs');
    assert.equal(progressText(null, nextProgress(p, { event: 'flush-started', seq: 2, time: 0 }))?.ours, false);
  });

  it('heads a direct mount without flash health, and a healthy one with a check mark', () => {
    const direct = text(headerLines({ ...STATUS, mode: 'direct', flash: null, resetPending: false, warnings: [] }, 0));
    assert.match(direct, /nothing pending: direct mode writes straight to the upper/);
    assert.match(direct, /✓ no warnings/);
    assert.match(text(headerLines(null, 0)), /connecting…/);
  });

  it('acts on the marked paths, else the selected one', () => {
    assert.deepEqual(targets({ marks: new Set(['/b', '/a']), selected: ENTRIES[0] }), ['/a', '/b']);
    assert.deepEqual(targets({ marks: new Set(), selected: ENTRIES[0] }), ['/etc/hostname']);
    assert.deepEqual(targets({ marks: new Set(), selected: undefined }), []);
    assert.equal(describePaths(['/a', '/b', '/c']), '3 paths (/a, /b, …)');
  });

  it('colours a text diff by line', () => {
    const lines = diffLines(DIFF);
    assert.deepEqual(lines.slice(-2).map((l) => [l[0]!.text, l[0]!.role]), [['-factory', 'minus'], ['+appliance', 'plus']]);
  });

  it('lays out 80x24: a 23-line frame, the list and the diff pane share the body', () => {
    assert.deepEqual(bodyLayout(24, false), { frame: 23, body: 17, list: 16, diff: 0 });
    const open = bodyLayout(24, true);
    assert.equal(open.list + open.diff + 2, open.body);
  });
});
