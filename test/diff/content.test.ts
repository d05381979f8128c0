// Which contents `diff PATH` shows as text: no NUL in the first 8 KiB, and valid UTF-8.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BINARY_SNIFF_BYTES, looksBinary, MAX_TEXT_DIFF_BYTES } from '../../src/diff/content.js';

describe('looksBinary', () => {
  it('takes text as text', () => {
    assert.equal(looksBinary(Buffer.alloc(0)), false);
    assert.equal(looksBinary(Buffer.from('hello\nworld\n')), false);
    assert.equal(looksBinary(Buffer.from('crlf\r\nlines\r\n\ttabs\f\x1b[0m')), false);
    assert.equal(looksBinary(Buffer.from('grüße 日本 🎉\n')), false);
    assert.equal(looksBinary(Buffer.from('\ufeffwith a BOM\n')), false);
  });

  it('takes a NUL in the first 8 KiB as binary', () => {
    assert.equal(looksBinary(Buffer.from([0])), true);
    assert.equal(looksBinary(Buffer.from('ELF\0\0\0')), true);
    const late = Buffer.alloc(BINARY_SNIFF_BYTES, 'a');
    late[BINARY_SNIFF_BYTES - 1] = 0;
    assert.equal(looksBinary(late), true);
    assert.equal(looksBinary(Buffer.from('h\0e\0l\0l\0o\0', 'latin1')), true); // UTF-16LE text is not diffed as text
  });

  it('does not look for a NUL past 8 KiB (but the rest must still be UTF-8)', () => {
    const buf = Buffer.alloc(BINARY_SNIFF_BYTES + 10, 'a');
    buf[BINARY_SNIFF_BYTES] = 0;
    assert.equal(looksBinary(buf), false);
  });

  it('takes invalid UTF-8 anywhere as binary', () => {
    assert.equal(looksBinary(Buffer.from([0x61, 0xff, 0x62])), true); // never valid
    assert.equal(looksBinary(Buffer.from([0xc3])), true); // truncated sequence
    assert.equal(looksBinary(Buffer.from([0xc0, 0xaf])), true); // overlong '/'
    assert.equal(looksBinary(Buffer.from([0xed, 0xa0, 0x80])), true); // a UTF-16 surrogate
    assert.equal(looksBinary(Buffer.from('caf\xe9\n', 'latin1')), true); // Latin-1 text
    const late = Buffer.alloc(MAX_TEXT_DIFF_BYTES, 'a');
    late[MAX_TEXT_DIFF_BYTES - 1] = 0x80;
    assert.equal(looksBinary(late), true);
  });

  it('has the 1 MiB text limit', () => {
    assert.equal(MAX_TEXT_DIFF_BYTES, 1024 * 1024);
  });
});
