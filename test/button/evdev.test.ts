// evdev records: decoded from whole buffers and from a stream split at every byte boundary, on
// the 24-byte (64-bit) and 16-byte (32-bit) layouts; EV_KEY kept, other types skipped, events
// after SYN_DROPPED skipped until SYN_REPORT.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEvent, encodeEvent, EV_KEY, EV_SYN, nativeLayout, readEvents, readKeyEvents, SYN_DROPPED, SYN_REPORT, type RecordLayout } from '../../src/button/evdev.js';
import { KEY_CODES, keyCode, keyName } from '../../src/button/keys.js';

const EV_MSC = 4;

async function* chunked(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const size of sizes) {
    yield data.subarray(at, at + size);
    at += size;
  }
  if (at < data.length) yield data.subarray(at);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const press = (code: number, layout?: RecordLayout) =>
  Buffer.concat([
    encodeEvent({ type: EV_MSC, code: 4, value: 0x90001, sec: 1_700_000_000, usec: 5 }, layout),
    encodeEvent({ type: EV_KEY, code, value: 1, sec: 1_700_000_000, usec: 6 }, layout),
    encodeEvent({ type: EV_SYN, code: SYN_REPORT, value: 0, sec: 1_700_000_000, usec: 7 }, layout),
    encodeEvent({ type: EV_KEY, code, value: 2, sec: 1_700_000_001, usec: 0 }, layout),
    encodeEvent({ type: EV_KEY, code, value: 0, sec: 1_700_000_002, usec: 999_999 }, layout),
  ]);

describe('button: key names', () => {
  it('has the codes of linux/input-event-codes.h', () => {
    assert.equal(KEY_CODES['KEY_RESTART'], 408);
    assert.equal(KEY_CODES['KEY_POWER'], 116);
    assert.equal(KEY_CODES['KEY_SLEEP'], 142);
    assert.equal(KEY_CODES['KEY_ENTER'], 28);
    assert.equal(KEY_CODES['KEY_PROG1'], 148);
    assert.deepEqual(['KEY_F1', 'KEY_F2', 'KEY_F10', 'KEY_F11', 'KEY_F12'].map((k) => KEY_CODES[k]), [59, 60, 68, 87, 88]);
    assert.deepEqual(Array.from({ length: 10 }, (_, i) => KEY_CODES[`BTN_${i}`]), [256, 257, 258, 259, 260, 261, 262, 263, 264, 265]);
    assert.equal(keyCode('KEY_RESTART'), 408);
    assert.equal(keyCode('toString'), undefined);
    assert.equal(keyCode('KEY_MAX'), undefined);
    assert.equal(keyName(116), 'KEY_POWER');
    assert.equal(keyName(0x2fe), 'KEY_766');
  });
});

describe('button: evdev records', () => {
  it('is 24 bytes on 64-bit, 16 on 32-bit', () => {
    assert.deepEqual(nativeLayout('x64', 'LE'), { size: 24, longBytes: 8, littleEndian: true });
    assert.deepEqual(nativeLayout('arm64', 'LE'), { size: 24, longBytes: 8, littleEndian: true });
    assert.deepEqual(nativeLayout('arm', 'LE'), { size: 16, longBytes: 4, littleEndian: true });
    assert.equal(nativeLayout().size, 24, 'this machine is x86_64');
  });

  it('decodes struct input_event as the kernel lays it out', () => {
    // tv_sec 0x65 (101), tv_usec 7, type 1, code 408 (0x198), value 1, little-endian.
    const raw = Buffer.from('6500000000000000' + '0700000000000000' + '0100' + '9801' + '01000000', 'hex');
    assert.deepEqual(decodeEvent(raw, 0, nativeLayout('x64', 'LE')), { sec: 101, usec: 7, type: 1, code: 408, value: 1 });
    const raw32 = Buffer.from('65000000' + '07000000' + '0100' + '9801' + 'ffffffff', 'hex');
    assert.deepEqual(decodeEvent(raw32, 0, nativeLayout('arm', 'LE')), { sec: 101, usec: 7, type: 1, code: 408, value: -1 });
  });

  for (const cpu of ['x64', 'arm']) {
    it(`reads the same events however the stream is split (${cpu}: every split point, and byte by byte)`, async () => {
      const layout = nativeLayout(cpu, 'LE');
      const data = press(408, layout);
      const whole = await collect(readEvents(chunked(data, [data.length]), layout));
      assert.equal(whole.length, 5);
      assert.deepEqual(whole[1], { sec: 1_700_000_000, usec: 6, type: EV_KEY, code: 408, value: 1 });
      assert.deepEqual(whole[4], { sec: 1_700_000_002, usec: 999_999, type: EV_KEY, code: 408, value: 0 });
      for (let split = 1; split < data.length; split++) {
        assert.deepEqual(await collect(readEvents(chunked(data, [split]), layout)), whole, `split at byte ${split}`);
      }
      assert.deepEqual(await collect(readEvents(chunked(data, Array(data.length).fill(1)), layout)), whole, 'one byte at a time');
      // A reused buffer: the reader must copy the tail it keeps.
      const reused = Buffer.alloc(7);
      async function* reusing(): AsyncGenerator<Buffer> {
        for (let at = 0; at < data.length; at += 7) {
          const n = data.copy(reused, 0, at, at + 7);
          yield reused.subarray(0, n);
        }
      }
      assert.deepEqual(await collect(readEvents(reusing(), layout)), whole);
    });
  }

  it('drops a trailing partial record', async () => {
    const data = press(28);
    assert.equal((await collect(readEvents(chunked(data.subarray(0, data.length - 3), [30])))).length, 4);
  });

  it('keeps EV_KEY only; after SYN_DROPPED, skips to the next SYN_REPORT', async () => {
    const data = Buffer.concat([
      press(408),
      encodeEvent({ type: EV_KEY, code: 408, value: 1 }),
      encodeEvent({ type: EV_SYN, code: SYN_DROPPED, value: 0 }),
      encodeEvent({ type: EV_KEY, code: 408, value: 0 }), // incomplete: skipped
      encodeEvent({ type: EV_SYN, code: SYN_REPORT, value: 0 }),
      encodeEvent({ type: EV_KEY, code: 116, value: 1 }),
    ]);
    for (let split = 1; split < data.length; split += 5) {
      const events = await collect(readKeyEvents(chunked(data, [split, 13, 24, 1])));
      assert.deepEqual(events.map((e) => (e.kind === 'key' ? `${e.code}:${e.value}` : e.kind)), ['408:1', '408:2', '408:0', '408:1', 'dropped', '116:1'], `split at ${split}`);
    }
  });
});
