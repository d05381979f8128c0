// The stage's per-path change record: several changes to one path fold into its net change, and a
// directory's rename takes what is recorded under it along. (Plain objects: no mount needed.)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChangeRecord, Changes } from '../../src/stage/changes.js';

const kinds = (record: ChangeRecord) => Object.fromEntries([...record.paths].map(([path, change]) => [path, change.kind]));

describe('the per-path change record', () => {
  it('folds changes of one path into the net change', () => {
    const record = new ChangeRecord();
    record.note('/new', 'added', 5);
    record.note('/new', 'modified', 7); // still new
    record.note('/gone', 'added', 0);
    record.note('/gone', 'deleted', 0); // created and deleted: nothing
    record.note('/back', 'deleted', 0);
    record.note('/back', 'added', 0); // deleted and created again: a modification
    record.note('/meta', 'metadata', 0);
    record.note('/meta', 'modified', 3);
    record.note('/meta', 'metadata', 0); // data changed: stays modified
    assert.deepEqual(kinds(record), { '/new': 'added', '/back': 'modified', '/meta': 'modified' });
    assert.equal(record.paths.get('/new')!.bytes, 12);
  });

  it('moves what is recorded under a renamed directory, and only then', () => {
    const record = new ChangeRecord();
    record.note('/d/f', 'added', 1);
    record.note('/d/sub/g', 'modified', 2);
    record.note('/dx', 'modified', 4); // a sibling whose name starts like the directory's
    record.renamed('/d', '/e', false, true);
    assert.deepEqual(kinds(record), { '/dx': 'modified', '/d': 'deleted', '/e': 'added', '/e/f': 'added', '/e/sub/g': 'modified' });
    record.renamed('/dx', '/dy', false, false);
    assert.equal(record.paths.has('/dx/whatever'), false);
    assert.equal(record.paths.get('/dy')!.bytes, 4, 'a renamed file keeps its bytes');
  });

  it('hands the record over at a freeze and starts a new one', () => {
    const changes = new Changes();
    changes.note('/a', 'added', 10);
    const taken = changes.taken();
    assert.equal(taken.bytes, 10);
    assert.deepEqual(kinds(taken.record), { '/a': 'added' });
    assert.equal(changes.current.paths.size, 0);
    assert.equal(changes.pending, false);
    assert.equal(changes.appBytes, 10);
  });
});

describe('splitting and dropping what is recorded (partial commit, discard)', () => {
  it('split takes the paths at or under the roots and leaves the rest', () => {
    const record = new ChangeRecord();
    record.note('/etc/a', 'modified', 3);
    record.note('/etc/ab', 'added', 4); // starts like /etc/a but is not under it
    record.note('/etc/a/x', 'added', 5);
    record.note('/var/log', 'metadata', 0);
    const selected = record.split(['/etc/a']);
    assert.deepEqual(kinds(selected), { '/etc/a': 'modified', '/etc/a/x': 'added' });
    assert.deepEqual(kinds(record), { '/etc/ab': 'added', '/var/log': 'metadata' });
    assert.equal(selected.bytes, 8);
  });

  it('a partial freeze gives back what it did not take, oldest age kept', () => {
    const changes = new Changes();
    changes.note('/keep', 'added', 10);
    changes.note('/go', 'added', 20);
    const taken = changes.taken();
    assert.equal(changes.pending, false);
    taken.record.split(['/go']);
    changes.giveBack(taken.record, taken.since);
    assert.deepEqual(kinds(changes.current), { '/keep': 'added' });
    assert.equal(changes.pendingBytes, 10);
    assert.equal(changes.pendingSince, taken.since);
  });

  it('dropping everything pending leaves nothing to flush', () => {
    const changes = new Changes();
    changes.note('/a', 'added', 10);
    changes.note('/b/c', 'modified', 5);
    assert.deepEqual(changes.dropped(['/b']), ['/b/c']);
    assert.equal(changes.pendingBytes, 10);
    assert.deepEqual(changes.dropped(['/']), ['/a']);
    assert.equal(changes.pending, false);
    assert.equal(changes.pendingBytes, 0);
  });
});
