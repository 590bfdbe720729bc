import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import { LeastConnections } from './least-connections.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}.test:80`, weight, state: 'ready' });
const gauge = (active: Record<string, number>) => ({ active: (id: string): number => active[id] ?? 0 });
const picks = (
  balancer: { pick: (ctx: object) => Endpoint | undefined },
  n: number,
  ctx = {},
): (string | undefined)[] => Array.from({ length: n }, () => balancer.pick(ctx)?.id);

test('idle equal endpoints take turns instead of the first one taking every request', () => {
  const lc = new LeastConnections([ep('a'), ep('b'), ep('c')], gauge({}));
  assert.deepEqual(picks(lc, 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
});

test('the endpoint with the fewest requests in flight wins', () => {
  const lc = new LeastConnections([ep('a'), ep('b'), ep('c')], gauge({ a: 3, b: 1, c: 2 }));
  assert.deepEqual(picks(lc, 3), ['b', 'b', 'b']);
});

test('only the least loaded endpoints take turns', () => {
  const lc = new LeastConnections([ep('a'), ep('b'), ep('c')], gauge({ a: 0, b: 5, c: 0 }));
  assert.deepEqual(picks(lc, 4), ['a', 'c', 'a', 'c']);
});

test('in-flight counts are compared per unit of weight: weight 2 with 2 in flight ties weight 1 with 1', () => {
  const active = { a: 2, b: 1 };
  const lc = new LeastConnections([ep('a', 2), ep('b', 1)], gauge(active));
  assert.deepEqual(picks(lc, 4), ['a', 'b', 'a', 'b']);
  active.a = 3;
  assert.deepEqual(picks(lc, 3), ['b', 'b', 'b']);
  active.b = 2;
  assert.deepEqual(picks(lc, 2), ['a', 'a']);
});

test('weights 2:1 fill up 2:1 when every request stays in flight', () => {
  const active: Record<string, number> = {};
  const lc = new LeastConnections([ep('a', 2), ep('b', 1)], gauge(active));
  const sequence = Array.from({ length: 9 }, () => {
    const id = lc.pick({})!.id;
    active[id] = (active[id] ?? 0) + 1;
    return id;
  });
  assert.deepEqual(sequence, ['a', 'b', 'a', 'b', 'a', 'a', 'b', 'a', 'a']);
  assert.deepEqual(active, { a: 6, b: 3 });
});

test('least connections never re-picks an excluded endpoint, and a retry does not move the turn', () => {
  const lc = new LeastConnections([ep('bad'), ep('good'), ep('other')], gauge({ other: 1 }));
  assert.equal(lc.pick({})?.id, 'bad');
  assert.equal(lc.pick({ exclude: new Set(['bad']) })?.id, 'good');
  assert.equal(lc.pick({})?.id, 'good');
  assert.equal(lc.pick({ exclude: new Set(['bad', 'good']) })?.id, 'other');
});

test('least connections returns undefined when nothing is eligible, and weight 0 takes no traffic', () => {
  assert.equal(new LeastConnections([ep('a')], gauge({})).pick({ exclude: new Set(['a']) }), undefined);
  assert.equal(new LeastConnections([], gauge({})).pick({}), undefined);
  assert.deepEqual(picks(new LeastConnections([ep('a', 0), ep('b')], gauge({ b: 9 })), 2), ['b', 'b']);
});
