// Wear per path (the control plane's `top`): bytes written and flushed per path, grouped by
// depth, and bounded: past its cap paths fold into their directories with the totals kept exact.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WearByPath } from '../../src/stage/wear.js';

describe('wear per path', () => {
  it('ranks by bytes written and groups by depth', () => {
    const wear = new WearByPath();
    wear.written('/var/log/a', 100);
    wear.written('/var/log/b', 50);
    wear.written('/etc/x', 120);
    wear.flushed('/etc/x', 120);
    wear.flushed('/var/log/a', 10);
    assert.deepEqual(wear.top(0, 2).map((e) => [e.path, e.written, e.flushed, e.avoided]), [
      ['/etc/x', 120, 120, 0],
      ['/var/log/a', 100, 10, 90],
    ]);
    assert.deepEqual(wear.top(2, 10).map((e) => [e.path, e.written]), [['/var/log', 150], ['/etc/x', 120]]);
    assert.deepEqual(wear.top(1, 10).map((e) => e.path), ['/var', '/etc']);
  });

  it('stays bounded with a new name per write, and keeps the totals', () => {
    const wear = new WearByPath();
    for (let i = 0; i < 120_000; i++) wear.written(`/spool/d${i % 3}/msg-${i}`, 1);
    const rows = wear.top(0, 1_000_000);
    assert.ok(rows.length <= 50_000, `${rows.length} rows kept`);
    assert.equal(rows.reduce((sum, r) => sum + r.written, 0), 120_000);
    assert.equal(wear.totals.written, 120_000);
    assert.ok(rows.some((r) => r.path.startsWith('/spool/d0/')), JSON.stringify(rows.slice(0, 3)));
  });
});
