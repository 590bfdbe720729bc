import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import { RoundRobin } from './round-robin.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}.test:80`, weight, state: 'ready' });
const picks = (
  balancer: { pick: (ctx: object) => Endpoint | undefined },
  n: number,
  ctx = {},
): (string | undefined)[] => Array.from({ length: n }, () => balancer.pick(ctx)?.id);

test('round-robin visits endpoints in order and wraps around', () => {
  const rr = new RoundRobin([ep('a'), ep('b'), ep('c')]);
  assert.deepEqual(picks(rr, 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
});

test('a retry (with exclusions) takes the next untried endpoint without moving the rotation', () => {
  const rr = new RoundRobin([ep('a'), ep('b'), ep('c')]);
  assert.equal(rr.pick({})?.id, 'a');
  assert.equal(rr.pick({ exclude: new Set(['a', 'b']) })?.id, 'c');
  assert.deepEqual(picks(rr, 4), ['b', 'c', 'a', 'b']);
});

test("a failing endpoint does not become every request's first attempt", () => {
  const rr = new RoundRobin([ep('bad'), ep('good')]);
  const first: (string | undefined)[] = [];
  for (let i = 0; i < 4; i++) {
    const pick = rr.pick({});
    first.push(pick?.id);
    if (pick?.id === 'bad') rr.pick({ exclude: new Set(['bad']) });
  }
  assert.deepEqual(first, ['bad', 'good', 'bad', 'good']);
});

test('round-robin returns undefined when every endpoint is excluded or there are none', () => {
  assert.equal(new RoundRobin([ep('a')]).pick({ exclude: new Set(['a']) }), undefined);
  assert.equal(new RoundRobin([]).pick({}), undefined);
});

test('round-robin with unequal weights interleaves smoothly', () => {
  const rr = new RoundRobin([ep('a', 2), ep('b', 1)]);
  assert.deepEqual(picks(rr, 6), ['a', 'b', 'a', 'a', 'b', 'a']);
});

test('weights 5:1:1 spread the heavy endpoint instead of bursting it', () => {
  const wrr = new WeightedRoundRobin([ep('a', 5), ep('b', 1), ep('c', 1)]);
  assert.deepEqual(picks(wrr, 14), ['a', 'a', 'b', 'a', 'c', 'a', 'a', 'a', 'a', 'b', 'a', 'c', 'a', 'a']);
});

test('weight 0 takes no traffic', () => {
  const wrr = new WeightedRoundRobin([ep('a', 0), ep('b', 1)]);
  assert.deepEqual(picks(wrr, 3), ['b', 'b', 'b']);
  assert.deepEqual(picks(new RoundRobin([ep('a', 0), ep('b', 3)]), 2), ['b', 'b']);
});

test('weighted shares over many picks match the weights exactly', () => {
  const wrr = new WeightedRoundRobin([ep('a', 3), ep('b', 2), ep('c', 1)]);
  const counts = new Map<string, number>();
  for (const id of picks(wrr, 600)) counts.set(id!, (counts.get(id!) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(counts), { a: 300, b: 200, c: 100 });
});

test('weighted round-robin never re-picks an excluded endpoint', () => {
  const wrr = new WeightedRoundRobin([ep('a', 5), ep('b', 1)]);
  assert.deepEqual(picks(wrr, 4, { exclude: new Set(['a']) }), ['b', 'b', 'b', 'b']);
  assert.equal(wrr.pick({ exclude: new Set(['a', 'b']) }), undefined);
});

test('the precomputed cycle gives the same sequence as the credit scan, cycle after cycle', () => {
  const weights = [7, 3, 1, 5, 2];
  const endpoints = weights.map((w, i) => ep(`e${i}`, w));
  const scheduled = new WeightedRoundRobin(endpoints);
  // Above 65,536 in total the schedule is not kept: the same weights × 10,000 run the plain credit scan.
  const scanned = new WeightedRoundRobin(weights.map((w, i) => ep(`e${i}`, w * 10_000)));
  const shares = new Map<string, number>();
  for (const id of picks(scanned, 18 * 10_000)) shares.set(id!, (shares.get(id!) ?? 0) + 1);
  assert.deepEqual(
    weights.map((_, i) => shares.get(`e${i}`)),
    weights.map((w) => w * 10_000),
  );
  const one = picks(scheduled, 18);
  assert.deepEqual(picks(scheduled, 18), one, 'periodic: the next cycle repeats');
  assert.deepEqual(
    weights.map((_, i) => one.filter((id) => id === `e${i}`).length),
    weights,
  );
});

test('fractional weights (endpoints in slow start) are still picked, in proportion to their weights', () => {
  // Three endpoints registered a moment apart ramp from 10 % of their weight: 0.104, 0.103, 0.2.
  const rr = new RoundRobin([ep('a', 0.104), ep('b', 0.103), ep('c', 0.2)]);
  const seen = picks(rr, 40);
  assert.equal(seen.includes(undefined), false);
  const count = (id: string): number => seen.filter((p) => p === id).length;
  assert.ok(count('c') > count('a') && count('c') > count('b'), seen.join(','));
  assert.ok(count('a') >= 8 && count('b') >= 8, seen.join(','));
});
