import type { RunResult, SimulationResult } from './engine.js';
import { meanOf } from './random.js';
import { endpointSpecsOf, type LoadMetric, type Workload } from './workload.js';

/** How each load metric reads in a report. */
export const loadMetricText: Readonly<Record<LoadMetric, string>> = {
  'in-flight': 'open connections (in flight)',
  memory: 'memory in use (MB)',
};

/** Fixed-precision text; `-` for a missing value (no request completed). */
function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** The work offered per second over the work the endpoints can do per second (ignoring outages). */
export function offeredShare(workload: Workload): number {
  const totalShare = workload.classes.reduce((sum, c) => sum + c.share, 0);
  const meanCostMs = workload.classes.reduce((sum, c) => sum + (c.share / totalShare) * meanOf(c.costMs), 0);
  const offeredMsPerSecond = workload.arrivals.perEndpointPerSecond * workload.endpointCount * meanCostMs;
  const capacityMsPerSecond = endpointSpecsOf(workload).reduce((sum, spec) => sum + spec.speed * spec.cores * 1000, 0);
  return offeredMsPerSecond / capacityMsPerSecond;
}

/** One line per outage inside the run: `e2 down from 20.0 s to 30.0 s (noticed 6.0 s later)`. */
function outageLines(result: SimulationResult): string[] {
  const { outages, durationMs, detectMs } = result.workload;
  return outages
    .filter((o) => o.endpoint < result.endpointIds.length && o.downAtMs < durationMs)
    .map(
      (o) =>
        `outage: ${result.endpointIds[o.endpoint]!} down from ${fixed(o.downAtMs / 1000, 1)} s to ${fixed(o.upAtMs / 1000, 1)} s ` +
        `(health checks notice each change ${fixed(detectMs / 1000, 1)} s later; in-flight requests on it fail)`,
    );
}

/** The lines above the table: what ran and how to read it. */
export function reportHeader(result: SimulationResult): string[] {
  const { workload, seed, endpointIds, requests } = result;
  const endpoints = endpointIds.length === 1 ? '1 endpoint' : `${endpointIds.length} endpoints`;
  return [
    `preset ${workload.name} · seed ${seed} · ${endpoints} · ${fixed(workload.durationMs / 1000, 1)} s virtual · ${requests} requests`,
    `workload: ${workload.description}; offered work ${fixed(offeredShare(workload) * 100, 0)} % of capacity`,
    ...outageLines(result),
    `expect: ${workload.expectation}`,
    `load = ${loadMetricText[workload.loadMetric]}; imbalance = busiest endpoint ÷ mean, averaged over ${fixed(workload.stepMs / 1000, 1)} s steps (1.00 is perfect)`,
  ];
}

/** The result as a Markdown table (aligned, so it reads in a terminal too), with its header lines. */
export function formatTable(result: SimulationResult): string {
  const shares = `work share ${result.endpointIds.join('/')} (%)`;
  const header = ['algorithm', shares, 'imbalance', 'p50 ms', 'p99 ms', 'failed'];
  const rows = result.runs.map((run) => [
    run.label,
    run.workShare.map((share) => fixed(share * 100, 1)).join(' '),
    fixed(run.imbalance, 2),
    fixed(run.p50Ms, 1),
    fixed(run.p99Ms, 1),
    String(run.failed),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  // Text columns align left, numbers right (Markdown's `---:`).
  const numeric = (column: number): boolean => column >= 2;
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, c) => (numeric(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(' | ')} |`;
  const rule = `| ${widths.map((width, c) => (numeric(c) ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [...reportHeader(result), '', line(header), rule, ...rows.map(line), ''].join('\n');
}

/** Rounds for JSON output, so the text is stable and short; NaN becomes null. */
function rounded(value: number, digits = 4): number | null {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : null;
}

function perEndpoint(ids: readonly string[], values: readonly number[]): Record<string, number | null> {
  return Object.fromEntries(ids.map((id, i) => [id, rounded(values[i] ?? Number.NaN)]));
}

function runJson(ids: readonly string[], run: RunResult): Record<string, unknown> {
  return {
    label: run.label,
    algorithm: run.variant.algorithm,
    sticky: run.variant.sticky,
    workShare: perEndpoint(ids, run.workShare),
    meanLoad: perEndpoint(ids, run.meanLoad),
    imbalance: rounded(run.imbalance),
    runImbalance: rounded(run.runImbalance),
    p50Ms: rounded(run.p50Ms, 3),
    p99Ms: rounded(run.p99Ms, 3),
    completed: run.completed,
    failed: run.failed,
    retried: run.retried,
  };
}

/** The result as JSON (`--format json`): the table's numbers and a few more, without the chart's series. */
export function formatJson(result: SimulationResult): string {
  const { workload, seed, endpointIds, requests } = result;
  const document = {
    preset: workload.name,
    seed,
    durationMs: workload.durationMs,
    endpoints: endpointIds,
    requests,
    loadMetric: workload.loadMetric,
    stepMs: workload.stepMs,
    runs: result.runs.map((run) => runJson(endpointIds, run)),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
