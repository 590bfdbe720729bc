import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadRecorder } from './load-recorder.js';
import { maxOverMean, percentile, perWeightSpread, stepImbalance, windowShares } from './metrics.js';

test('the recorder keeps exact time averages per step, splitting a level across step boundaries', () => {
  const recorder = new LoadRecorder(2, 3_000, 1_000);
  recorder.set(0, 4, 500); // 0 until 500 ms, then 4
  recorder.set(0, 1, 1_500); // 4 until 1.5 s, then 1
  recorder.set(1, 2, 0);
  assert.deepEqual(recorder.finish(), [
    [2, 2.5, 1],
    [2, 2, 2],
  ]);
});

test('imbalance is the busiest over the mean per step, leaving out endpoints that were down during the step', () => {
  const series = [
    [3, 2],
    [1, 0],
    [2, 2],
  ];
  // Step 0: max 3 over mean 2 = 1.5. Step 1: endpoint 1 is down, so max 2 over mean 2 = 1.
  const outages = [{ endpoint: 1, downAtMs: 1_200, upAtMs: 5_000 }];
  assert.equal(stepImbalance(series, 1_000, outages), 1.25);
  assert.equal(maxOverMean([1, 1, 4]), 2);
});

test('percentiles are nearest-rank', () => {
  const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual([percentile(sorted, 0.5), percentile(sorted, 0.99), percentile(sorted, 0)], [5, 10, 1]);
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 0.5)));
});

test('imbalance with weights compares load per unit of weight', () => {
  // Endpoint 0 (weight 2) carries twice endpoint 1 (weight 1): even per unit of weight.
  assert.equal(stepImbalance([[4], [2]], 1_000, [], [2, 1]), 1);
  assert.equal(stepImbalance([[4], [2]], 1_000, []), 4 / 3);
});

test('the request spread is the most over the fewest requests per unit of weight, Infinity when one got none', () => {
  assert.equal(perWeightSpread([200, 100, 125], [2, 1, 1]), 1.25);
  assert.equal(perWeightSpread([3, 0], [1, 1]), Infinity);
  assert.equal(perWeightSpread([0, 0], [1, 1]), 1);
});

test('a window counts its requests by time, skip and count, as a share of the fair share', () => {
  const requests = [0, 10, 20, 30, 40, 50].map((atMs) => ({ atMs, client: 'c', costMs: 1, memoryMb: 1, holdMs: 0 }));
  const picked = Int16Array.from([0, 1, 1, 0, -1, 1]);
  const weights = [1, 1];
  const shares = windowShares(
    [
      { label: 'all', endpoint: 1, fromMs: 0 },
      { label: 'by time', endpoint: 0, fromMs: 10, untilMs: 40 },
      { label: 'skip and count', endpoint: 1, fromMs: 5, skip: 1, count: 3 },
      { label: 'empty', endpoint: 1, fromMs: 100 },
    ],
    requests,
    picked,
    weights,
  );
  // all: 3 of 6 to endpoint 1 = 0.5 = its fair share. by time: 10, 20, 30 → 1 of 3 → 2/3 of fair.
  // skip and count: 20, 30, 40 → 1 of 3 (the refused one counts, endpoint 1 did not get it).
  assert.deepEqual(shares.slice(0, 3), [1, 2 / 3, 2 / 3]);
  assert.ok(Number.isNaN(shares[3]));
});
