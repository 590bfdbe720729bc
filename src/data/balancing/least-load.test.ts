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

/**
 * A live little world: each pick sends a request that stays in flight (as between two reports), `report` stands for
 * an instance reporting its load at a new instant, `finish` for a request that ends.
 */
function liveWorld(ids: readonly string[], reported: Record<string, number>, weights: Record<string, number> = {}) {
  const active: Record<string, number> = {};
  const reports = new Map(Object.entries(reported).map(([id, value]) => [id, { value, at: 0 }]));
  let clock = 0;
  const load: LoadGauge = {
    active: (id) => active[id] ?? 0,
    reportedLoad: (id) => reports.get(id)?.value,
    reportedAt: (id) => reports.get(id)?.at,
  };
  const balancer = new LeastLoad(
    ids.map((id) => ep(id, weights[id] ?? 1)),
    load,
  );
  return {
    active,
    /** n picks, each sending one request; returns how many each endpoint got. */
    send(n: number): Record<string, number> {
      const counts: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const id = balancer.pick({})!.id;
        active[id] = (active[id] ?? 0) + 1;
        counts[id] = (counts[id] ?? 0) + 1;
      }
      return counts;
    },
    report(id: string, value: number): void {
      reports.set(id, { value, at: ++clock });
    },
    finish(id: string, n = 1): void {
      active[id] = (active[id] ?? 0) - n;
    },
  };
}

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

test('between two reports the lowest reporter takes requests only until it is level with the others', () => {
  // Each instance reports its queue length; a has 2 queued, the others 10. Nothing reports while 60 requests go out.
  const world = liveWorld(['a', 'b', 'c'], { a: 2, b: 10, c: 10 });
  const counts = world.send(60);
  // One request adds Σ reported ÷ Σ (active + 1) = 22 ÷ 3 ≈ 7: a is level after about one, then all take turns.
  assert.ok(counts['a']! <= 22, JSON.stringify(counts));
  assert.ok(counts['a']! >= counts['b']! && counts['a']! >= counts['c']!, JSON.stringify(counts));
  assert.ok(Math.abs(counts['b']! - counts['c']!) <= 1, JSON.stringify(counts));
});

test('endpoints reporting the same load get the same number of requests between reports', () => {
  for (const load of [0, 0.5, 40]) {
    const world = liveWorld(['a', 'b', 'c', 'd'], { a: load, b: load, c: load, d: load });
    assert.deepEqual(world.send(40), { a: 10, b: 10, c: 10, d: 10 }, `load ${load}`);
  }
});

test('projection is per unit of weight: a weight-2 endpoint reporting the same load takes twice the requests', () => {
  const world = liveWorld(['big', 'small'], { big: 6, small: 6 }, { big: 2 });
  const counts = world.send(30);
  assert.ok(Math.abs(counts['big']! - 2 * counts['small']!) <= 9, JSON.stringify(counts));
  assert.ok(counts['big']! > counts['small']!, JSON.stringify(counts));
});

test('a new report restarts the projection from the requests in flight when it is seen', () => {
  const world = liveWorld(['a', 'b'], { a: 5, b: 5 });
  world.send(10);
  // b reports a lower load than a: the five requests b has in flight are in it, so b is preferred from scratch.
  world.report('b', 1);
  assert.deepEqual(world.send(1), { b: 1 });
});

test('a request that ends lowers the projection until the next report', () => {
  const world = liveWorld(['a', 'b'], { a: 5, b: 5 });
  world.send(10);
  world.finish('a', 3);
  assert.deepEqual(world.send(3), { a: 3 });
});

test('without reportedAt the reports are compared as they are', () => {
  const active: Record<string, number> = {};
  const load: LoadGauge = { active: (id) => active[id] ?? 0, reportedLoad: (id) => ({ a: 1, b: 2 })[id] };
  const balancer = new LeastLoad([ep('a'), ep('b')], load);
  for (let i = 0; i < 5; i++) {
    const id = balancer.pick({})!.id;
    active[id] = (active[id] ?? 0) + 1;
    assert.equal(id, 'a');
  }
});
