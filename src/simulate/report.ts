import type { RunResult, SimulationResult } from './engine.js';
import { meanOf } from './random.js';
import { endpointSpecsOf, type LoadMetric, type Workload } from './workload.js';

/** How each load metric reads in a report. */
export const loadMetricText: Readonly<Record<LoadMetric, string>> = {
  'in-flight': 'open connections (in flight)',
  memory: 'memory in use (MB)',
};

/** Fixed-precision text; `∞` for a ratio over 0, `-` for a missing value (no request completed). */
function fixed(value: number, digits: number): string {
  if (value === Infinity) return '∞';
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
    ...slowdownLines(result),
    `expect: ${workload.expectation}`,
    `load = ${loadMetricText[workload.loadMetric]}; imbalance = busiest endpoint ÷ mean (per unit of weight), averaged over ${fixed(workload.stepMs / 1000, 1)} s steps (1.00 is perfect)`,
    `requests max/min = most ÷ fewest requests an endpoint got, per unit of weight; ${responseText(workload)}`,
  ];
}

/** What the p50/p99 columns measure: the time until a request's work is done, which for a session is its start. */
function responseText(workload: Workload): string {
  const sessions = workload.classes.some((c) => c.holdMs !== undefined);
  return sessions
    ? 'resp p50/p99 = ms from arrival until a request is answered: for a session its handshake, not how long it then stays open'
    : 'resp p50/p99 = ms from arrival until a request is answered';
}

/** One line per slowdown inside the run: `e3 10x slower from 20.0 s to 40.0 s`. */
function slowdownLines(result: SimulationResult): string[] {
  const { slowdowns, durationMs } = result.workload;
  return slowdowns
    .filter((s) => s.endpoint < result.endpointIds.length && s.fromMs < durationMs)
    .map(
      (s) =>
        `slowdown: ${result.endpointIds[s.endpoint]!} ${s.factor}x slower from ${fixed(s.fromMs / 1000, 1)} s to ${fixed(s.toMs / 1000, 1)} s`,
    );
}

/** Aligned Markdown table lines: a header, its rule, the rows; columns from `numericFrom` on align right. */
function tableLines(header: readonly string[], rows: readonly (readonly string[])[], numericFrom: number): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const numeric = (column: number): boolean => column >= numericFrom;
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, c) => (numeric(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(' | ')} |`;
  const rule = `| ${widths.map((width, c) => (numeric(c) ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)];
}

/** The second table, when the workload watches windows: each one's share of requests as % of its fair share. */
function windowLines(result: SimulationResult): string[] {
  const { windows } = result.workload;
  if (windows.length === 0) return [];
  const endpoints = [...new Set(windows.map((w) => result.endpointIds[w.endpoint] ?? '?'))].join(', ');
  const header = ['algorithm', ...windows.map((w) => w.label)];
  const rows = result.runs.map((run) => [run.label, ...run.windowShares.map((share) => fixed(share * 100, 0))]);
  return [
    `${endpoints}: share of the requests in each window, in % of its fair share`,
    '',
    ...tableLines(header, rows, 1),
    '',
  ];
}

/** The result as a Markdown table (aligned, so it reads in a terminal too), with its header lines. */
export function formatTable(result: SimulationResult): string {
  const shares = `work share ${result.endpointIds.join('/')} (%)`;
  const header = ['algorithm', shares, 'imbalance', 'requests max/min', 'resp p50 ms', 'resp p99 ms', 'failed'];
  const rows = result.runs.map((run) => [
    run.label,
    run.workShare.map((share) => fixed(share * 100, 1)).join(' '),
    fixed(run.imbalance, 2),
    fixed(run.requestSpread, 2),
    fixed(run.p50Ms, 1),
    fixed(run.p99Ms, 1),
    String(run.failed),
  ]);
  // Text columns align left, numbers right (Markdown's `---:`).
  return [...reportHeader(result), '', ...tableLines(header, rows, 2), '', ...windowLines(result)].join('\n');
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
    requests: Object.fromEntries(ids.map((id, i) => [id, run.requests[i] ?? 0])),
    requestSpread: rounded(run.requestSpread),
    windows: run.windowShares.map((share) => rounded(share)),
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
    windows: workload.windows.map((w) => ({ label: w.label, endpoint: endpointIds[w.endpoint] ?? null })),
    runs: result.runs.map((run) => runJson(endpointIds, run)),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
