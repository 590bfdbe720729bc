import assert from 'node:assert/strict';
import { test } from 'node:test';
import { algorithms } from '../config/service-schema.js';
import { type AlgorithmName, simulate } from './engine.js';
import { presets } from './presets.js';

/** Each preset shortened so the file runs in a few seconds; the orderings hold for the full length too. */
function imbalances(name: string, durationMs: number, chosen: readonly AlgorithmName[]): Map<string, number> {
  const result = simulate({ ...presets[name]!, durationMs }, chosen, 1);
  return new Map(result.runs.map((run) => [run.label, run.imbalance]));
}

test('short-uniform: round-robin is within 10 % of the most even algorithm', () => {
  const imbalance = imbalances('short-uniform', 15_000, algorithms);
  const best = Math.min(...imbalance.values());
  assert.ok(imbalance.get('round-robin')! <= best * 1.1, `round-robin ${imbalance.get('round-robin')} vs best ${best}`);
});

test('long-sessions: least-connections keeps open sessions more even than round-robin after a restart', () => {
  const imbalance = imbalances('long-sessions', 90_000, ['round-robin', 'least-connections']);
  assert.ok(imbalance.get('least-connections')! < imbalance.get('round-robin')!, JSON.stringify([...imbalance]));
});

test('uneven-cost: least-load keeps memory more even than least-connections', () => {
  const imbalance = imbalances('uneven-cost', 30_000, ['least-connections', 'least-load']);
  assert.ok(imbalance.get('least-load')! < imbalance.get('least-connections')!, JSON.stringify([...imbalance]));
});

test('sticky: stickiness skews round-robin, because a few chatty clients stay pinned', () => {
  const imbalance = imbalances('sticky', 15_000, ['round-robin']);
  assert.ok(imbalance.get('round-robin + sticky')! > imbalance.get('round-robin')!, JSON.stringify([...imbalance]));
});

test('identical (traefik#12306): peak-ewma gives each of five identical instances a near-equal count', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const result = simulate(presets['identical']!, ['peak-ewma'], seed);
    const [run] = result.runs;
    assert.ok(result.requests > 1_300 && result.requests < 1_700, `${result.requests} requests`);
    assert.ok(run!.requestSpread <= 1.25, `seed ${seed}: ${run!.requests.join(' ')}`);
  }
});

/** The slow-instance preset's windows by label: e3's share of requests ÷ its fair share. */
function windowsOf(run: { readonly windowShares: readonly number[] }): Record<string, number> {
  return Object.fromEntries(presets['slow-instance']!.windows.map((w, i) => [w.label, run.windowShares[i]!]));
}

test('slow-instance: peak-ewma sheds a 10x slower instance within 200 requests and refills it within 2 s', () => {
  for (const seed of [1, 2, 3]) {
    const result = simulate(presets['slow-instance']!, ['round-robin', 'peak-ewma'], seed);
    const [rr, ewma] = result.runs;
    const share = windowsOf(ewma!);
    const text = `seed ${seed}: ${JSON.stringify(share)}`;
    assert.ok(share['before']! > 0.9, text);
    assert.ok(share['next 200']! <= 0.2, text);
    assert.ok(share['while slow']! <= 0.2, text);
    assert.ok(share['+1-2 s']! >= 0.5, text);
    assert.ok(share['+2-10 s']! >= 0.8, text);
    // Round-robin keeps sending e3 its share, so its requests queue up there.
    assert.ok(ewma!.p99Ms * 10 < rr!.p99Ms, `p99 ${ewma!.p99Ms} vs round-robin ${rr!.p99Ms}`);
  }
});

test('slow-instance: with the 10 s time constant of Finagle and Linkerd the recovered instance stays starved', () => {
  const workload = { ...presets['slow-instance']!, balancing: { peakEwma: { decayMs: 10_000 } } };
  const share = windowsOf(simulate(workload, ['peak-ewma'], 1).runs[0]!);
  assert.ok(share['+1-2 s']! < 0.5, JSON.stringify(share));
});

test('unequal-weights: weighted algorithms split the work by weight and keep load per unit of weight even', () => {
  const result = simulate({ ...presets['unequal-weights']!, durationMs: 15_000 }, algorithms, 1);
  const byLabel = new Map(result.runs.map((run) => [run.label, run]));
  for (const label of ['round-robin', 'weighted-round-robin', 'random', 'power-of-two']) {
    const run = byLabel.get(label)!;
    const expected = [0.5, 0.25, 0.125, 0.125];
    assert.ok(
      run.workShare.every((share, i) => Math.abs(share - expected[i]!) < 0.02),
      `${label}: ${run.workShare.join(' ')}`,
    );
  }
  // Round-robin is the smooth weighted round-robin whenever weights differ: the same picks, the same numbers.
  assert.deepEqual(byLabel.get('round-robin')!.requests, byLabel.get('weighted-round-robin')!.requests);
  assert.ok(byLabel.get('round-robin')!.imbalance < 1.15, `imbalance ${byLabel.get('round-robin')!.imbalance}`);
});

test('short-uniform and heartbeat-load: least-load does not herd onto the lowest reporter between reports', () => {
  for (const name of ['short-uniform', 'heartbeat-load']) {
    const result = simulate({ ...presets[name]!, durationMs: 15_000 }, ['least-connections', 'least-load'], 1);
    const [lc, ll] = result.runs;
    assert.ok(ll!.imbalance <= lc!.imbalance * 1.2, `${name}: imbalance ${ll!.imbalance} vs ${lc!.imbalance}`);
    assert.ok(ll!.p99Ms <= lc!.p99Ms * 1.5, `${name}: p99 ${ll!.p99Ms} vs ${lc!.p99Ms}`);
  }
});
