// The hold machine on a fake clock: the threshold fires while the key is still held, once; a
// release before it is a short press; autorepeat and a second down are ignored; cancel forgets.
// And once on real timers, with a short hold.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HoldMachine, type HoldEvent, type Timers } from '../../src/button/hold.js';

class FakeClock implements Timers {
  now = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

function setup(holdMs = 10_000) {
  const clock = new FakeClock();
  const events: string[] = [];
  const machine = new HoldMachine(holdMs, (e: HoldEvent) => events.push('heldMs' in e ? `${e.kind}@${e.heldMs}` : e.kind), clock, () => clock.now);
  return { clock, events, machine };
}

describe('button: hold machine', () => {
  it('fires the threshold while the key is still held, and nothing more on release', () => {
    const { clock, events, machine } = setup();
    machine.key(1);
    clock.advance(9_999);
    assert.deepEqual(events, ['down']);
    clock.advance(1);
    assert.deepEqual(events, ['down', 'threshold@10000']);
    assert.equal(machine.held, true);
    clock.advance(5_000);
    machine.key(0);
    assert.deepEqual(events, ['down', 'threshold@10000', 'released@15000']);
    assert.equal(machine.held, false);
    assert.equal(clock.pending, 0);
  });

  it('a release before the hold is a short press, and the timer is gone', () => {
    const { clock, events, machine } = setup();
    machine.key(1);
    clock.advance(300);
    machine.key(0);
    clock.advance(60_000);
    assert.deepEqual(events, ['down', 'short@300']);
    assert.equal(clock.pending, 0);
  });

  it('ignores autorepeat (2): it neither restarts nor ends the hold', () => {
    const { clock, events, machine } = setup(1000);
    machine.key(1);
    for (let i = 0; i < 30; i++) {
      clock.advance(33);
      machine.key(2);
    }
    clock.advance(10);
    assert.deepEqual(events, ['down', 'threshold@1000']);
    machine.key(2);
    machine.key(0);
    assert.deepEqual(events, ['down', 'threshold@1000', 'released@1000']);
  });

  it('ignores a second down without an up, and an up without a down', () => {
    const { clock, events, machine } = setup(1000);
    machine.key(0);
    machine.key(1);
    clock.advance(600);
    machine.key(1); // must not restart the hold
    clock.advance(400);
    assert.deepEqual(events, ['down', 'threshold@1000']);
    machine.key(1); // nor fire again
    clock.advance(5000);
    machine.key(0);
    machine.key(0);
    assert.deepEqual(events, ['down', 'threshold@1000', 'released@6000']);
  });

  it('starts afresh after each release', () => {
    const { clock, events, machine } = setup(1000);
    machine.key(1);
    clock.advance(900);
    machine.key(0);
    machine.key(1);
    clock.advance(900);
    assert.deepEqual(events, ['down', 'short@900', 'down']);
    clock.advance(100);
    assert.deepEqual(events, ['down', 'short@900', 'down', 'threshold@1000']);
  });

  it('a release read after the hold but before its timer ran counts as the threshold', () => {
    const { clock, events, machine } = setup(1000);
    machine.key(1);
    clock.now = 1200; // the loop was busy: time passed, the timer has not run
    machine.key(0);
    assert.deepEqual(events, ['down', 'threshold@1200', 'released@1200']);
    assert.equal(clock.pending, 0);
  });

  it('cancel forgets a hold (events were dropped): no threshold, no short press', () => {
    const { clock, events, machine } = setup(1000);
    machine.key(1);
    clock.advance(500);
    machine.cancel();
    clock.advance(5000);
    machine.key(0);
    machine.cancel();
    assert.deepEqual(events, ['down', 'cancelled']);
  });

  it('on real timers: the threshold comes before the release', async () => {
    const events: string[] = [];
    const machine = new HoldMachine(50, (e) => events.push(e.kind));
    machine.key(1);
    await new Promise((done) => setTimeout(done, 120));
    assert.deepEqual(events, ['down', 'threshold']);
    machine.key(0);
    assert.deepEqual(events, ['down', 'threshold', 'released']);
  });
});
