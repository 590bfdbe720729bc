import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import { PowerOfTwoChoices } from './power-of-two.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}.test:80`, weight, state: 'ready' });
const gauge = (active: Record<string, number>) => ({ active: (id: string): number => active[id] ?? 0 });
/** A tiny seeded PRNG (mulberry32), so the shares below are the same on every run. */
const mulberry32 = (seed: number) => (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const counts = (balancer: PowerOfTwoChoices, n: number, ctx = {}): Record<string, number> => {
  const result: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = balancer.pick(ctx)?.id ?? 'none';
    result[id] = (result[id] ?? 0) + 1;
  }
  return result;
};
const near = (actual: number | undefined, expected: number, tolerance: number): void =>
  assert.ok(Math.abs((actual ?? 0) - expected) <= tolerance, `${actual} is not ${expected} ± ${tolerance}`);

test('of two endpoints the less loaded one always wins', () => {
  const p2c = new PowerOfTwoChoices([ep('busy'), ep('idle')], gauge({ busy: 4, idle: 1 }), { random: mulberry32(1) });
  assert.deepEqual(counts(p2c, 100), { idle: 100 });
});

test('the two candidates are distinct: a busy endpoint loses even when the random source repeats itself', () => {
  const p2c = new PowerOfTwoChoices([ep('a'), ep('b')], gauge({ a: 1 }), { random: () => 0 });
  assert.equal(p2c.pick({})?.id, 'b');
});

test('the most loaded of several endpoints never wins, and the least loaded wins most', () => {
  const p2c = new PowerOfTwoChoices([ep('a'), ep('b'), ep('c'), ep('d')], gauge({ a: 9, b: 1, c: 2, d: 3 }), {
    random: mulberry32(2),
  });
  const share = counts(p2c, 12_000);
  assert.equal(share.a, undefined);
  // b wins every pair it is in (3 of 6 pairs), c wins 2 of 6, d 1 of 6.
  near(share.b! / 12_000, 3 / 6, 0.02);
  near(share.c! / 12_000, 2 / 6, 0.02);
  near(share.d! / 12_000, 1 / 6, 0.02);
});

test('with equal load the shares follow the weights', () => {
  const p2c = new PowerOfTwoChoices([ep('a', 3), ep('b', 1)], gauge({}), { random: mulberry32(3) });
  near(counts(p2c, 20_000).a! / 20_000, 0.75, 0.015);
});

test('load is compared per unit of weight: weight 4 with 3 in flight beats weight 1 with 1', () => {
  const p2c = new PowerOfTwoChoices([ep('big', 4), ep('small', 1)], gauge({ big: 3, small: 1 }), {
    random: mulberry32(4),
  });
  assert.deepEqual(counts(p2c, 50), { big: 50 });
});

test('excluded endpoints are never drawn; the last one left is picked; none left gives undefined', () => {
  const p2c = new PowerOfTwoChoices([ep('a'), ep('b'), ep('c')], gauge({ b: 5, c: 1 }), { random: mulberry32(5) });
  assert.deepEqual(counts(p2c, 50, { exclude: new Set(['a']) }), { c: 50 });
  assert.deepEqual(counts(p2c, 5, { exclude: new Set(['a', 'c']) }), { b: 5 });
  assert.equal(p2c.pick({ exclude: new Set(['a', 'b', 'c']) }), undefined);
  assert.equal(new PowerOfTwoChoices([], gauge({}), { random: mulberry32(6) }).pick({}), undefined);
});

test('power of two gives weight-0 endpoints nothing', () => {
  const p2c = new PowerOfTwoChoices([ep('a', 0), ep('b')], gauge({ b: 9 }), { random: mulberry32(7) });
  assert.deepEqual(counts(p2c, 20), { b: 20 });
});
