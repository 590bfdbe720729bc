import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Registration } from './registry-store.js';
import { SelfPreservation } from './self-preservation.js';

const reg = (id: string, service = 'app'): Registration => ({
  service,
  id,
  url: `http://127.0.0.1:1/${id}`,
  weight: 1,
  state: 'ready',
  registeredAt: 0,
  ttlSeconds: 10,
});

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('up to maxLossPercent of a service may expire within the window; past it every expired one comes back', () => {
  const time = clock();
  const preservation = new SelfPreservation({ maxLossPercent: 50, windowMs: 10_000, holdMs: 60_000 }, time.now);
  // Four lease-backed endpoints expire one after the other (each count is taken before that one goes).
  assert.deepEqual(preservation.expired(reg('a'), 4), { keep: false });
  assert.deepEqual(preservation.expired(reg('b'), 3), { keep: false });
  const third = preservation.expired(reg('c'), 2);
  assert.equal(third.keep, true);
  assert.ok(third.keep && third.activated);
  assert.deepEqual(third.keep ? third.restored.map((r) => r.id) : [], ['a', 'b']);
  assert.ok(preservation.isActive('app'));
  const fourth = preservation.expired(reg('d'), 3);
  assert.ok(fourth.keep && !fourth.activated);
  assert.deepEqual(preservation.activeServices(), ['app']);
});

test('expiries spread wider than the window are ordinary removals, except the last endpoint of a service', () => {
  const time = clock();
  const preservation = new SelfPreservation({ maxLossPercent: 50, windowMs: 1_000, holdMs: 60_000 }, time.now);
  for (const [id, left] of [
    ['a', 4],
    ['b', 3],
    ['c', 2],
  ] as const) {
    assert.deepEqual(preservation.expired(reg(id), left), { keep: false }, id);
    time.advance(1_500);
  }
  assert.equal(preservation.isActive('app'), false);
  // The last one going is 100 % of what is left: it is kept (still health-checked) for holdMs.
  assert.equal(preservation.expired(reg('d'), 1).keep, true);
});

test('the hold ends after holdMs; a registration that came back is released from it', () => {
  const time = clock();
  const preservation = new SelfPreservation({ maxLossPercent: 0, windowMs: 10_000, holdMs: 5_000 }, time.now);
  assert.ok(preservation.expired(reg('a'), 2).keep);
  assert.ok(preservation.expired(reg('b'), 2).keep);
  preservation.release('app', 'app\u0000b');
  assert.deepEqual(preservation.due(), []);
  time.advance(5_001);
  assert.deepEqual(preservation.due(), ['app\u0000a']);
  assert.equal(preservation.isActive('app'), false);
  // Another service is counted apart.
  assert.deepEqual(
    new SelfPreservation({ maxLossPercent: 50, windowMs: 1, holdMs: 1 }, time.now).expired(reg('x', 'other'), 3),
    {
      keep: false,
    },
  );
});
