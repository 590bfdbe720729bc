import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import type { LoadGauge } from './balancer.js';
import { LeastLoad } from './least-load.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}.test:80`, weight, state: 'ready' });
/** A fake gauge: `reported` holds the fresh reports (a missing or stale one is simply absent, as the gauge says). */
const gauge = (reported: Record<string, number>, active: Record<string, number> = {}): LoadGauge => ({
  active: (id) => active[id] ?? 0,
  reportedLoad: (id) => reported[id],
});
const picks = (balancer: LeastLoad, n: number, ctx = {}): (string | undefined)[] =>
  Array.from({ length: n }, () => balancer.pick(ctx)?.id);

test('with fresh reports from every endpoint the lowest reported load wins', () => {
  const balancer = new LeastLoad([ep('a'), ep('b'), ep('c')], gauge({ a: 0.9, b: 0.2, c: 0.5 }, { b: 10 }));
  assert.deepEqual(picks(balancer, 3), ['b', 'b', 'b']);
});

test('reported load is compared per unit of weight', () => {
  const reported = { big: 0.8, small: 0.5 };
  const balancer = new LeastLoad([ep('big', 2), ep('small', 1)], gauge(reported));
  assert.deepEqual(picks(balancer, 2), ['big', 'big']);
  reported.big = 1.2;
  assert.deepEqual(picks(balancer, 2), ['small', 'small']);
});

test('endpoints reporting equal load take turns', () => {
  const balancer = new LeastLoad([ep('a'), ep('b'), ep('c')], gauge({ a: 0.5, b: 0.5, c: 0.5 }));
  assert.deepEqual(picks(balancer, 4), ['a', 'b', 'c', 'a']);
});

test('when any report is missing or stale the pick falls back to least connections, and returns when all are fresh', () => {
  const reported: Record<string, number> = { a: 0.1, b: 0.9 };
  const balancer = new LeastLoad([ep('a'), ep('b'), ep('c')], gauge(reported, { a: 5, b: 1, c: 3 }));
  assert.deepEqual(picks(balancer, 2), ['b', 'b']);
  reported.c = 0.5;
  assert.deepEqual(picks(balancer, 2), ['a', 'a']);
});

test("an excluded endpoint's stale report does not force the fallback", () => {
  const balancer = new LeastLoad([ep('a'), ep('b'), ep('c')], gauge({ a: 0.1, b: 0.9 }, { a: 5, b: 1 }));
  assert.deepEqual(picks(balancer, 2, { exclude: new Set(['c']) }), ['a', 'a']);
});

test('a gauge that has no reported loads at all gives least connections', () => {
  const balancer = new LeastLoad([ep('a'), ep('b')], { active: (id) => (id === 'a' ? 2 : 0) });
  assert.deepEqual(picks(balancer, 2), ['b', 'b']);
});

test('least load never re-picks an excluded endpoint, and a retry does not move the turn', () => {
  const balancer = new LeastLoad([ep('a'), ep('b'), ep('c')], gauge({ a: 0.5, b: 0.5, c: 0.5 }));
  assert.equal(balancer.pick({})?.id, 'a');
  assert.equal(balancer.pick({ exclude: new Set(['a', 'b']) })?.id, 'c');
  assert.deepEqual(picks(balancer, 3), ['b', 'c', 'a']);
  assert.equal(balancer.pick({ exclude: new Set(['a', 'b', 'c']) }), undefined);
});

test('least load returns undefined with no endpoints and gives weight-0 endpoints nothing', () => {
  assert.equal(new LeastLoad([], gauge({})).pick({}), undefined);
  assert.deepEqual(picks(new LeastLoad([ep('a', 0), ep('b')], gauge({ a: 0, b: 0.9 })), 2), ['b', 'b']);
});
