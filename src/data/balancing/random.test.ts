import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import { CumulativeWeights, WeightedRandom } from './random.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}.test:80`, weight, state: 'ready' });
const idle = { active: (): number => 0 };
/** A tiny seeded PRNG (mulberry32), so the shares below are the same on every run. */
const mulberry32 = (seed: number) => (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const shares = (
  balancer: { pick: (ctx: object) => Endpoint | undefined },
  n: number,
  ctx = {},
): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = balancer.pick(ctx)?.id ?? 'none';
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([id, count]) => [id, count / n]));
};
const near = (actual: number | undefined, expected: number, tolerance: number): void =>
  assert.ok(Math.abs((actual ?? 0) - expected) <= tolerance, `${actual} is not ${expected} ± ${tolerance}`);

test('random picks endpoints in proportion to their weights', () => {
  const random = new WeightedRandom([ep('a', 3), ep('b', 2), ep('c', 1)], idle, { random: mulberry32(1) });
  const share = shares(random, 30_000);
  near(share.a, 3 / 6, 0.015);
  near(share.b, 2 / 6, 0.015);
  near(share.c, 1 / 6, 0.015);
});

test('random with equal weights gives every endpoint an equal share', () => {
  const random = new WeightedRandom([ep('a'), ep('b'), ep('c'), ep('d')], idle, { random: mulberry32(2) });
  for (const share of Object.values(shares(random, 20_000))) near(share, 0.25, 0.015);
});

test('random never picks an excluded endpoint and keeps the others in proportion', () => {
  const random = new WeightedRandom([ep('a', 3), ep('b', 2), ep('c', 1)], idle, { random: mulberry32(3) });
  const share = shares(random, 30_000, { exclude: new Set(['a']) });
  assert.equal(share.a, undefined);
  near(share.b, 2 / 3, 0.015);
  near(share.c, 1 / 3, 0.015);
});

test('random gives weight-0 endpoints nothing and returns undefined when nothing is eligible', () => {
  const random = new WeightedRandom([ep('a', 0), ep('b', 1)], idle, { random: mulberry32(4) });
  assert.deepEqual(shares(random, 100), { b: 1 });
  assert.equal(random.pick({ exclude: new Set(['b']) }), undefined);
  assert.equal(new WeightedRandom([], idle, { random: mulberry32(5) }).pick({}), undefined);
});

test('a draw that skips one endpoint never returns it and spreads the rest by weight', () => {
  const endpoints = [ep('a', 1), ep('b', 2), ep('c', 1)];
  const weights = new CumulativeWeights(endpoints);
  const next = mulberry32(6);
  const counts = [0, 0, 0];
  for (let i = 0; i < 20_000; i++) counts[weights.draw(next, undefined, 1)]! += 1;
  assert.equal(counts[1], 0);
  near(counts[0]! / 20_000, 0.5, 0.015);
  // At the top and bottom of the random range the skipped segment is still stepped over.
  assert.equal(
    weights.draw(() => 0, undefined, 0),
    1,
  );
  assert.equal(
    weights.draw(() => 0.999_999, undefined, 2),
    1,
  );
  assert.equal(
    new CumulativeWeights([ep('a')]).draw(() => 0.5, undefined, 0),
    -1,
  );
});
