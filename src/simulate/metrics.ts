import type { Outage } from './workload.js';

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
 * Imbalance as a user feels it: in each step, the busiest endpoint's average load divided by the mean over the
 * endpoints that were up for the whole step; then the average of that over the steps that carried any load.
 * 1.00 is perfect; 1.50 means the busiest endpoint carried half again the average.
 */
export function stepImbalance(
  series: readonly (readonly number[])[],
  stepMs: number,
  outages: readonly Outage[],
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
      const value = series[index]![step]!;
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
