// JSON-lines framing with a byte cap: lines split anywhere across chunks, several per chunk, and
// an oversized line reported once and skipped without losing the lines around it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineReader, type Frame } from '../../src/control/framing.js';

const line = (text: string): Frame => ({ kind: 'line', text });
const feedAll = (reader: LineReader, chunks: (string | Buffer)[]): Frame[] =>
  chunks.flatMap((chunk) => reader.feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));

describe('the line reader', () => {
  it('reads several lines per chunk and lines split across chunks', () => {
    const reader = new LineReader(100);
    assert.deepEqual(feedAll(reader, ['{"a":1}\n{"b"', ':2}\n', '', '{"c":3}\n{"d":4}\n']), [line('{"a":1}'), line('{"b":2}'), line('{"c":3}'), line('{"d":4}')]);
    assert.equal(reader.pendingBytes, 0);
  });

  it('decodes UTF-8 split between chunks, and drops a CR before the newline', () => {
    const reader = new LineReader(100);
    const bytes = Buffer.from('"é€"\r\n');
    assert.deepEqual(feedAll(reader, [bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5)]), [line('"é€"')]);
  });

  it('keeps empty lines (the caller skips them)', () => {
    assert.deepEqual(new LineReader(10).feed(Buffer.from('\n\nx\n')), [line(''), line(''), line('x')]);
  });

  it('allows a line of exactly the cap', () => {
    const reader = new LineReader(8);
    assert.deepEqual(feedAll(reader, ['1234', '5678', '\n']), [line('12345678')]);
  });

  it('reports an oversized line once, as soon as it passes the cap, then skips to its newline', () => {
    const reader = new LineReader(8);
    assert.deepEqual(reader.feed(Buffer.from('ok\n12345')), [line('ok')]);
    assert.deepEqual(reader.feed(Buffer.from('6789')), [{ kind: 'too-large', bytes: 9 }]);
    assert.equal(reader.pendingBytes, 0, 'nothing of the oversized line is held');
    assert.deepEqual(reader.feed(Buffer.from('x'.repeat(1000))), []);
    assert.deepEqual(reader.feed(Buffer.from('tail\nnext\n')), [line('next')]);
  });

  it('an oversized line within one chunk, between good ones', () => {
    const reader = new LineReader(4);
    assert.deepEqual(reader.feed(Buffer.from('a\n0123456789\nb\n')), [line('a'), { kind: 'too-large', bytes: 10 }, line('b')]);
  });

  it('holds at most the cap however long a line is', () => {
    const reader = new LineReader(1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let frames: Frame[] = [];
    for (let i = 0; i < 24; i++) frames = frames.concat(reader.feed(chunk)); // 1.5 MiB, no newline
    assert.deepEqual(frames, [{ kind: 'too-large', bytes: 64 * 1024 }]);
    assert.ok(reader.pendingBytes <= 1024);
    assert.deepEqual(reader.feed(Buffer.from('\n{"id":1}\n')), [line('{"id":1}')]);
  });

  it('at the end of the stream, a last line without a newline still counts', () => {
    const reader = new LineReader(100);
    assert.deepEqual(reader.feed(Buffer.from('a\nb')), [line('a')]);
    assert.deepEqual(reader.end(), [line('b')]);
    assert.deepEqual(reader.end(), []);
  });

  it('at the end of the stream, the rest of an oversized line is not a line', () => {
    const reader = new LineReader(2);
    assert.deepEqual(reader.feed(Buffer.from('abcdef')), [{ kind: 'too-large', bytes: 6 }]);
    assert.deepEqual(reader.end(), []);
  });
});
