import assert from 'node:assert/strict';
import { test } from 'node:test';
import { niceCeiling, renderChart } from './chart.js';
import { simulate } from './engine.js';
import { presets } from './presets.js';

test('the chart has one panel per algorithm and one line per endpoint, with the outage shaded', () => {
  const result = simulate(
    { ...presets['long-sessions']!, durationMs: 30_000 },
    ['round-robin', 'random', 'peak-ewma'],
    1,
  );
  const svg = renderChart(result);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.equal(svg.match(/<g transform=/g)?.length, 3);
  assert.equal(svg.match(/<polyline /g)?.length, 3 * 4);
  assert.equal(svg.match(/class="outage"/g)?.length, 3);
  for (const label of ['round-robin', 'random', 'peak-ewma']) assert.ok(svg.includes(`>${label} — imbalance `));
});

test('text is escaped and numbers have fixed precision, so the bytes never depend on the platform', () => {
  const result = simulate({ ...presets['sticky']!, durationMs: 2_000 }, ['least-load'], 1);
  const svg = renderChart(result);
  for (const [, points] of svg.matchAll(/points="([^"]*)"/g)) {
    assert.match(points!, /^\d+\.\d,-?\d+\.\d( \d+\.\d,-?\d+\.\d)*$/, 'coordinates with one decimal');
  }
  assert.doesNotMatch(svg, /NaN|undefined/);
});

test('the y axis tops out at a round number', () => {
  assert.deepEqual([0.7, 1, 3, 7.5, 42, 240, 260].map(niceCeiling), [1, 1, 5, 10, 50, 250, 500]);
});

test('slow-instance charts the requests each endpoint is sent a second, with the slowdown shaded', () => {
  const result = simulate({ ...presets['slow-instance']!, durationMs: 30_000 }, ['peak-ewma'], 1);
  const svg = renderChart(result);
  assert.ok(svg.includes('requests sent a second per endpoint'));
  assert.ok(svg.includes('>e3 10x slower</text>'));
  // Five endpoints at 100 requests a second each: the y axis tops out near that, not at the few requests in flight.
  assert.ok(svg.includes('>100</text>') || svg.includes('>150</text>') || svg.includes('>200</text>'));
  const [run] = result.runs;
  const e3 = run!.requestSeries[2]!;
  assert.ok(e3[10]! > 50 && e3[50]! < 20, `e3 before ${e3[10]} and while slow ${e3[50]}`);
});
