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
