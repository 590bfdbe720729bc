import type { Outage, ShareWindow, SimRequest } from './workload.js';

/** The value below which `fraction` of the sorted values lie (nearest rank); NaN when there are none. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Whether endpoint `index` was up during the whole of [fromMs, toMs). */
export function upThroughout(outages: readonly Outage[], index: number, fromMs: number, toMs: number): boolean {
  return outages.every((o) => o.endpoint !== index || o.upAtMs <= fromMs || o.downAtMs >= toMs);
}

/**
 * Imbalance as a user feels it: in each step, the busiest endpoint's average load per unit of weight divided by the
 * mean over the endpoints that were up for the whole step; then the average of that over the steps that carried any
 * load. 1.00 is perfect; 1.50 means the busiest endpoint carried half again its share. Weights default to 1: with
 * weights that match the instances' sizes, an instance twice as big is expected to carry twice the load.
 */
export function stepImbalance(
  series: readonly (readonly number[])[],
  stepMs: number,
  outages: readonly Outage[],
  weights: readonly number[] = [],
): number {
  const steps = series[0]?.length ?? 0;
  let sum = 0;
  let counted = 0;
  for (let step = 0; step < steps; step++) {
    let max = 0;
    let total = 0;
    let up = 0;
    for (let index = 0; index < series.length; index++) {
      if (!upThroughout(outages, index, step * stepMs, (step + 1) * stepMs)) continue;
      const value = series[index]![step]! / (weights[index] ?? 1);
      max = Math.max(max, value);
      total += value;
      up++;
    }
    if (up === 0 || total === 0) continue;
    sum += max / (total / up);
    counted++;
  }
  return counted === 0 ? 1 : sum / counted;
}

/** max / mean of per-endpoint values (1 when all are zero). */
export function maxOverMean(values: readonly number[]): number {
  const total = values.reduce((sum, v) => sum + v, 0);
  if (total === 0) return 1;
  return Math.max(...values) / (total / values.length);
}

/** Of `counts[i] ÷ weights[i]`, the largest over the smallest: 1 is perfect, Infinity when one endpoint got none. */
export function perWeightSpread(counts: readonly number[], weights: readonly number[]): number {
  const perWeight = counts.map((count, i) => count / weights[i]!);
  const least = Math.min(...perWeight);
  const most = Math.max(...perWeight);
  if (most === 0) return 1;
  return least === 0 ? Infinity : most / least;
}

/**
 * For each window, the share of its requests that went to its endpoint divided by that endpoint's fair share
 * (weight ÷ total weight); NaN for a window without requests. `picked[i]` is the endpoint index request i went to,
 * -1 when it was refused (it still counts in the window: the endpoint did not get it).
 */
export function windowShares(
  windows: readonly ShareWindow[],
  requests: readonly SimRequest[],
  picked: Int16Array,
  weights: readonly number[],
): number[] {
  const totalWeight = weights.reduce((sum, w) => sum + w, 0);
  return windows.map((window) => {
    const fair = (weights[window.endpoint] ?? 0) / totalWeight;
    let seen = 0;
    let counted = 0;
    let hits = 0;
    for (let i = firstAtOrAfter(requests, window.fromMs); i < requests.length; i++) {
      if (window.untilMs !== undefined && requests[i]!.atMs >= window.untilMs) break;
      if (seen++ < (window.skip ?? 0)) continue;
      if (window.count !== undefined && counted >= window.count) break;
      counted++;
      if (picked[i] === window.endpoint) hits++;
    }
    return counted === 0 || fair === 0 ? Number.NaN : hits / counted / fair;
  });
}

/** The index of the first request arriving at or after `atMs` (binary search: requests are in time order). */
function firstAtOrAfter(requests: readonly SimRequest[], atMs: number): number {
  let low = 0;
  let high = requests.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (requests[middle]!.atMs < atMs) low = middle + 1;
    else high = middle;
  }
  return low;
}
