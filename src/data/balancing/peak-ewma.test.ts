import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import type { BalancingConfig } from '../../core/snapshot.js';
import type { LoadGauge } from './balancer.js';
import { PeakEwma, PeakEwmaEstimator } from './peak-ewma.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}.test:80`, weight, state: 'ready' });
/** A tiny seeded PRNG (mulberry32), so the shares below are the same on every run. */
const mulberry32 = (seed: number) => (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const DECAY_MS = 1_000;
const balancing: BalancingConfig = {
  hashKey: { source: 'client-ip' },
  consistentHash: { method: 'ring', boundedLoadFactor: 0 },
  peakEwma: { decayMs: DECAY_MS },
  leastLoad: { staleMs: 10_000 },
};

/**
 * A small closed world: a fake clock, one estimator per endpoint as the data plane keeps them, and a response time
 * per endpoint that is fed back after every pick (one pick a millisecond).
 */
function world(ids: readonly string[], seed: number, active: Record<string, number> = {}) {
  const clock = { nowMs: 0 };
  const estimators = new Map(ids.map((id) => [id, new PeakEwmaEstimator(DECAY_MS)]));
  const latencyMs = new Map(ids.map((id) => [id, 10]));
  const load: LoadGauge = {
    active: (id) => active[id] ?? 0,
    latencyMs: (id) => estimators.get(id)?.value(clock.nowMs),
  };
  const balancer = new PeakEwma(
    ids.map((id) => ep(id)),
    load,
    { random: mulberry32(seed), now: () => clock.nowMs, balancing },
  );
  /** Runs n picks, one a millisecond, and returns each endpoint's share of them. */
  const run = (n: number): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      clock.nowMs += 1;
      const id = balancer.pick({})!.id;
      counts[id] = (counts[id] ?? 0) + 1;
      estimators.get(id)!.observe(latencyMs.get(id)!, clock.nowMs);
    }
    return Object.fromEntries(Object.entries(counts).map(([id, count]) => [id, count / n]));
  };
  return { clock, latencyMs, balancer, run };
}

test('the estimator has no value before its first sample, then the sample itself', () => {
  const estimator = new PeakEwmaEstimator(DECAY_MS);
  assert.equal(estimator.value(0), undefined);
  estimator.observe(40, 5);
  assert.equal(estimator.value(5), 40);
});

test('a sample above the estimate replaces it at once', () => {
  const estimator = new PeakEwmaEstimator(DECAY_MS);
  for (let t = 0; t < 100; t++) estimator.observe(10, t);
  estimator.observe(500, 100);
  assert.equal(estimator.value(100), 500);
});

test('without samples the estimate decays toward 0 with the time constant', () => {
  const estimator = new PeakEwmaEstimator(DECAY_MS);
  estimator.observe(100, 0);
  assert.ok(Math.abs(estimator.value(DECAY_MS)! - 100 / Math.E) < 1e-9);
  assert.ok(estimator.value(5 * DECAY_MS)! < 1);
  // Reading does not change it: the same instant gives the same value.
  assert.equal(estimator.value(DECAY_MS), estimator.value(DECAY_MS));
});

test('faster samples pull the estimate down over about one decay window, never below them', () => {
  const estimator = new PeakEwmaEstimator(DECAY_MS);
  estimator.observe(100, 0);
  const values: number[] = [];
  for (let t = 10; t <= 2 * DECAY_MS; t += 10) {
    estimator.observe(10, t);
    values.push(estimator.value(t)!);
  }
  assert.ok(
    values.every((value, i) => value >= 10 && value <= (values[i - 1] ?? 100)),
    'falls steadily to 10',
  );
  assert.ok(values[DECAY_MS / 10 - 1]! < 100 / Math.E, `after one window: ${values[DECAY_MS / 10 - 1]}`);
  assert.ok(values.at(-1)! < 10.5, `after two windows: ${values.at(-1)}`);
});

test('an endpoint ten times slower than the others gets under 15 % of the picks', () => {
  const { latencyMs, run } = world(['a', 'b', 'c', 'slow'], 1);
  latencyMs.set('slow', 100);
  run(DECAY_MS);
  assert.ok((run(3 * DECAY_MS).slow ?? 0) < 0.15);
});

test('a slow endpoint that is fast again wins its share back within one decay window', () => {
  const { latencyMs, run } = world(['a', 'b', 'c', 'slow'], 2);
  latencyMs.set('slow', 100);
  run(3 * DECAY_MS);
  latencyMs.set('slow', 10);
  run(DECAY_MS);
  const share = run(DECAY_MS).slow ?? 0;
  assert.ok(Math.abs(share - 0.25) < 0.05, `share ${share}`);
});

test('equally fast endpoints share the picks evenly', () => {
  const { run } = world(['a', 'b', 'c', 'd'], 3);
  run(DECAY_MS);
  for (const share of Object.values(run(4 * DECAY_MS))) assert.ok(Math.abs(share - 0.25) < 0.03, `share ${share}`);
});

test('requests in flight count: an equally fast endpoint with more of them wins fewer picks', () => {
  const { run } = world(['a', 'b', 'c', 'busy'], 4, { busy: 3 });
  run(DECAY_MS);
  assert.ok((run(3 * DECAY_MS).busy ?? 0) < 0.05);
});

test('an endpoint not picked for longer than decayMs gets the next pick', () => {
  let nowMs = 0;
  const latency: Record<string, number> = { a: 10, b: 10, c: 100, d: 100 };
  const load: LoadGauge = { active: () => 0, latencyMs: (id) => latency[id] };
  // random() = 0 always draws a then b, and a wins the tie: b, c and d are never picked on their own merits.
  const balancer = new PeakEwma([ep('a'), ep('b'), ep('c'), ep('d')], load, {
    random: () => 0,
    now: () => nowMs,
    balancing,
  });
  const picks: string[] = [];
  for (nowMs = 1; nowMs <= DECAY_MS + 4; nowMs++) picks.push(balancer.pick({})!.id);
  assert.deepEqual(new Set(picks.slice(0, DECAY_MS)), new Set(['a']));
  assert.deepEqual(picks.slice(DECAY_MS), ['b', 'c', 'd', 'a']);
});

test('a probe skips excluded endpoints; a starved excluded one is probed by the next pick that allows it', () => {
  let nowMs = 0;
  const load: LoadGauge = { active: () => 0, latencyMs: (id) => (id === 'a' ? 10 : 100) };
  const balancer = new PeakEwma([ep('a'), ep('b'), ep('c')], load, { random: () => 0, now: () => nowMs, balancing });
  for (nowMs = 1; nowMs <= DECAY_MS; nowMs++) assert.equal(balancer.pick({})?.id, 'a');
  assert.equal(balancer.pick({ exclude: new Set(['b']) })?.id, 'c');
  assert.equal(balancer.pick({})?.id, 'b');
  assert.equal(balancer.pick({})?.id, 'a');
});

test('a never-measured endpoint is tried at once, but gets no burst before its first response', () => {
  const active: Record<string, number> = {};
  const latency: Record<string, number | undefined> = { a: 10, b: 10 };
  const load: LoadGauge = { active: (id) => active[id] ?? 0, latencyMs: (id) => latency[id] };
  const balancer = new PeakEwma([ep('a'), ep('b'), ep('new')], load, {
    random: mulberry32(5),
    now: () => 0,
    balancing,
  });
  const picks = Array.from({ length: 30 }, () => {
    const id = balancer.pick({})!.id;
    active[id] = (active[id] ?? 0) + 1;
    return id;
  });
  assert.equal(picks.filter((id) => id === 'new').length, 1);
});

test('peak-ewma never picks an excluded endpoint and returns undefined when nothing is eligible', () => {
  const load: LoadGauge = { active: () => 0, latencyMs: () => 10 };
  const balancer = new PeakEwma([ep('a'), ep('b', 0), ep('c')], load, {
    random: mulberry32(6),
    now: () => 0,
    balancing,
  });
  for (let i = 0; i < 20; i++) assert.equal(balancer.pick({ exclude: new Set(['a']) })?.id, 'c');
  assert.equal(balancer.pick({ exclude: new Set(['a', 'c']) }), undefined);
  assert.equal(new PeakEwma([], load, { random: mulberry32(7), now: () => 0, balancing }).pick({}), undefined);
});
