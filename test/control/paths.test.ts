// Union paths as the control socket takes them: normalised when harmless, refused (bad-path)
// when they could climb out of the union or are not paths at all. (No socket needed.)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_UNION_PATH_LENGTH, normaliseUnionPath } from '../../src/control/paths.js';
import { ControlError } from '../../src/control/protocol.js';

function refused(input: unknown, pattern: RegExp): void {
  assert.throws(
    () => normaliseUnionPath(input),
    (err: unknown) => {
      assert.ok(err instanceof ControlError, String(err));
      assert.equal(err.code, 'bad-path');
      assert.match(err.message, pattern);
      assert.match(err.hint ?? '', /starts with \/.*e\.g\. \/etc\/hostname/);
      return true;
    },
  );
}

describe('union paths', () => {
  it('collapses // and /./ and strips a trailing slash', () => {
    assert.equal(normaliseUnionPath('/'), '/');
    assert.equal(normaliseUnionPath('//'), '/');
    assert.equal(normaliseUnionPath('/./'), '/');
    assert.equal(normaliseUnionPath('/etc//hostname'), '/etc/hostname');
    assert.equal(normaliseUnionPath('/etc/./app/./config'), '/etc/app/config');
    assert.equal(normaliseUnionPath('/var/log/'), '/var/log');
    assert.equal(normaliseUnionPath('///var///log///'), '/var/log');
    assert.equal(normaliseUnionPath('/a/.hidden/..x/...'), '/a/.hidden/..x/...'); // names, not segments
    assert.equal(normaliseUnionPath('/ü/ñ'), '/ü/ñ');
  });

  it('refuses .. segments instead of resolving them', () => {
    refused('/../etc/shadow', /'\.\.' segment/);
    refused('/etc/../../shadow', /'\.\.' segment/);
    refused('/etc/..', /'\.\.' segment/);
    refused('/etc/../', /'\.\.' segment/);
  });

  it('refuses relative paths, NUL bytes and non-strings', () => {
    refused('../../etc/shadow', /"\.\.\/\.\.\/etc\/shadow" is not absolute/);
    refused('etc/hostname', /not absolute/);
    refused('', /not absolute/);
    refused('/etc/host\0name', /NUL/);
    refused(42, /must be a string, got number 42/);
    refused(null, /got null/);
    refused(undefined, /got nothing/);
    refused(['/etc'], /got an array/);
    refused({ path: '/etc' }, /got an object/);
  });

  it('allows up to 4096 bytes after normalising', () => {
    const longest = `/${'a'.repeat(MAX_UNION_PATH_LENGTH - 1)}`;
    assert.equal(normaliseUnionPath(longest), longest);
    assert.equal(normaliseUnionPath(`${longest}/`), longest);
    refused(`${longest}a`, /4097 bytes long; the limit is 4096/);
    refused(`/${'é'.repeat(2048)}`, /4097 bytes/); // bytes, not characters
  });

  it('names the field in the message', () => {
    assert.throws(() => normaliseUnionPath('x', 'prefix'), /prefix "x" is not absolute/);
  });
});
