import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChart } from './chart.js';
import { simulate } from './engine.js';
import { presets } from './presets.js';
import { formatJson, formatTable } from './report.js';
import type { Workload } from './workload.js';

const small = (name: string, durationMs: number): Workload => ({ ...presets[name]!, durationMs });

test('the same seed gives byte-identical tables, JSON and charts', () => {
  const workload = small('long-sessions', 40_000);
  const first = simulate(workload, ['round-robin', 'power-of-two', 'peak-ewma'], 42);
  const second = simulate(workload, ['round-robin', 'power-of-two', 'peak-ewma'], 42);
  assert.equal(formatTable(second), formatTable(first));
  assert.equal(formatJson(second), formatJson(first));
  assert.equal(renderChart(second), renderChart(first));
});

test('a different seed gives a different workload and different numbers', () => {
  const workload = small('short-uniform', 5_000);
  const one = simulate(workload, ['random'], 1);
  const two = simulate(workload, ['random'], 2);
  assert.notEqual(one.requests, two.requests);
  assert.notEqual(formatTable(one), formatTable(two));
});

test('every algorithm sees the same traffic: the request count does not depend on the algorithm', () => {
  const result = simulate(small('uneven-cost', 5_000), ['round-robin', 'least-load'], 3);
  const [rr, ll] = result.runs;
  assert.equal(rr!.completed, result.requests);
  assert.equal(ll!.completed, result.requests);
});

test('the production weighted round-robin splits work by weight', () => {
  const workload: Workload = {
    ...small('short-uniform', 10_000),
    endpointSpecs: [
      { speed: 1, cores: 4, weight: 3 },
      { speed: 1, cores: 4, weight: 1 },
    ],
    endpointCount: 2,
  };
  const [run] = simulate(workload, ['weighted-round-robin'], 1).runs;
  assert.ok(Math.abs(run!.workShare[0]! - 0.75) < 0.02, `share ${run!.workShare[0]}`);
});

test('an endpoint that dies fails its in-flight requests and is taken out of the balancer after detection', () => {
  const result = simulate(small('long-sessions', 40_000), ['round-robin', 'least-connections'], 1);
  for (const run of result.runs) {
    assert.ok(run.failed > 0, `${run.label} lost the sessions open on e2`);
    // e2 is down from 20 s to 30 s and re-admitted at 36 s: no load on it in between.
    const quiet = run.series[1]!.slice(41, 72);
    assert.ok(
      quiet.every((load) => load === 0),
      `${run.label}: e2 carried load while down`,
    );
  }
  // Before detection a dead endpoint looks idle to least-connections, so it keeps being the first choice: the one
  // retry catches that (counted in `retried`), the client does not see it.
  const [rr, lc] = result.runs;
  assert.ok(lc!.retried > rr!.retried);
});

test('with stickiness compared, each algorithm runs plain and sticky', () => {
  const result = simulate(small('sticky', 2_000), ['least-connections'], 1);
  assert.deepEqual(
    result.runs.map((run) => run.label),
    ['least-connections', 'least-connections + sticky'],
  );
});

test('a slowdown makes an endpoint work that many times slower while it lasts, then it recovers', () => {
  const workload: Workload = {
    ...small('short-uniform', 9_000),
    endpointCount: 1,
    arrivals: { kind: 'poisson', perEndpointPerSecond: 20 },
    classes: [{ name: 'r', share: 1, costMs: { kind: 'fixed', value: 10 }, memoryMb: { kind: 'fixed', value: 1 } }],
    slowdowns: [{ endpoint: 0, fromMs: 3_000, toMs: 6_000, factor: 10 }],
    windows: [],
  };
  const [run] = simulate(workload, ['round-robin'], 1).runs;
  // A third of the requests take 100 ms (a few more while the queue drains), the rest 10 ms.
  assert.equal(run!.p50Ms, 10);
  assert.ok(run!.p99Ms >= 100 && run!.p99Ms < 400, `p99 ${run!.p99Ms}`);
  const slowThroughout = { ...workload, slowdowns: [{ endpoint: 0, fromMs: 0, toMs: 9_000, factor: 10 }] };
  const slowAtStart = simulate(slowThroughout, ['round-robin'], 1).runs[0]!;
  assert.ok(slowAtStart.p50Ms >= 100, `p50 ${slowAtStart.p50Ms}`);
});
