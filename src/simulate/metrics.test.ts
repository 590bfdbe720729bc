import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadRecorder } from './load-recorder.js';
import { maxOverMean, percentile, stepImbalance } from './metrics.js';

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
