import type { RunResult, SimulationResult } from './engine.js';
import { loadMetricText } from './report.js';

/** Ten distinguishable line colours (Tableau 10), one per endpoint, repeating beyond ten. */
const palette = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

const columns = 2;
const panelWidth = 480;
const panelHeight = 200;
const headerHeight = 76;
/** The plot area inside a panel: room for the title above, the axis labels left and below. */
const plot = { left: 52, top: 28, width: 410, height: 140 } as const;

/** Coordinates with one decimal: enough for a screen, and the same text on every machine. */
const n = (value: number): string => value.toFixed(1);

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `value`: a round top for the y axis. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** A tick spacing on the time axis that gives about six labels. */
function timeTickMs(durationMs: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].map((s) => s * 1000);
  return steps.find((step) => durationMs / step <= 8) ?? 1_200_000;
}

function panel(run: RunResult, result: SimulationResult, yMax: number, x: number, y: number): string {
  const { durationMs, stepMs, outages } = result.workload;
  const px = (timeMs: number): number => plot.left + (timeMs / durationMs) * plot.width;
  const py = (load: number): number => plot.top + plot.height - (load / yMax) * plot.height;
  const parts: string[] = [
    `<g transform="translate(${n(x)},${n(y)})">`,
    `<text x="${plot.left}" y="18" class="title">${escapeXml(run.label)} — imbalance ${run.imbalance.toFixed(2)}</text>`,
    `<rect x="${plot.left}" y="${plot.top}" width="${plot.width}" height="${plot.height}" class="frame"/>`,
  ];
  for (const outage of outages) {
    if (outage.endpoint >= result.endpointIds.length) continue;
    const from = px(Math.min(outage.downAtMs, durationMs));
    const to = px(Math.min(outage.upAtMs, durationMs));
    parts.push(
      `<rect x="${n(from)}" y="${plot.top}" width="${n(to - from)}" height="${plot.height}" class="outage"/>`,
      `<text x="${n(from + 3)}" y="${plot.top + 12}" class="note">${escapeXml(result.endpointIds[outage.endpoint]!)} down</text>`,
    );
  }
  for (const slowdown of result.workload.slowdowns) {
    if (slowdown.endpoint >= result.endpointIds.length) continue;
    const from = px(Math.min(slowdown.fromMs, durationMs));
    const to = px(Math.min(slowdown.toMs, durationMs));
    parts.push(
      `<rect x="${n(from)}" y="${plot.top}" width="${n(to - from)}" height="${plot.height}" class="outage"/>`,
      `<text x="${n(from + 3)}" y="${plot.top + 12}" class="note">${escapeXml(result.endpointIds[slowdown.endpoint]!)} ${slowdown.factor}x slower</text>`,
    );
  }
  for (let i = 0; i <= 4; i++) {
    const load = (yMax * i) / 4;
    parts.push(
      `<line x1="${plot.left}" y1="${n(py(load))}" x2="${plot.left + plot.width}" y2="${n(py(load))}" class="grid"/>`,
      `<text x="${plot.left - 6}" y="${n(py(load) + 4)}" class="axis" text-anchor="end">${escapeXml(formatLoad(load))}</text>`,
    );
  }
  const tickMs = timeTickMs(durationMs);
  for (let t = 0; t <= durationMs; t += tickMs) {
    parts.push(
      `<text x="${n(px(t))}" y="${plot.top + plot.height + 16}" class="axis" text-anchor="middle">${t / 1000} s</text>`,
    );
  }
  seriesOf(run, result).forEach((steps, endpoint) => {
    const points = steps.map((load, step) => `${n(px(Math.min(durationMs, (step + 0.5) * stepMs)))},${n(py(load))}`);
    parts.push(`<polyline points="${points.join(' ')}" stroke="${palette[endpoint % palette.length]!}" class="line"/>`);
  });
  parts.push('</g>');
  return parts.join('\n');
}

/** What a panel plots: the endpoints' load, or the requests they were sent per second (`workload.chart`). */
function seriesOf(run: RunResult, result: SimulationResult): readonly (readonly number[])[] {
  return result.workload.chart === 'requests' ? run.requestSeries : run.series;
}

/** An axis label: whole numbers as such, fractions with one decimal. */
function formatLoad(load: number): string {
  return Number.isInteger(load) ? String(load) : load.toFixed(1);
}

function legend(ids: readonly string[]): string {
  return ids
    .map((id, i) => {
      const x = 16 + i * 64;
      const colour = palette[i % palette.length]!;
      return `<line x1="${x}" y1="62" x2="${x + 18}" y2="62" stroke="${colour}" class="line"/><text x="${x + 22}" y="66" class="axis">${escapeXml(id)}</text>`;
    })
    .join('\n');
}

/**
 * The SVG chart of a simulation: one panel per algorithm (two columns; with stickiness compared, plain left and
 * sticky right), a line per endpoint showing its load over virtual time, all panels on the same y scale.
 * Hand-written SVG with fixed number formatting: the same result gives the same bytes.
 */
export function renderChart(result: SimulationResult): string {
  const { workload, seed, runs } = result;
  const peak = Math.max(0, ...runs.flatMap((run) => seriesOf(run, result).flatMap((steps) => steps)));
  const yMax = niceCeiling(peak);
  const rows = Math.ceil(runs.length / columns);
  const width = columns * panelWidth + 16;
  const height = headerHeight + rows * panelHeight + 8;
  const title = `switchyard simulate — preset ${workload.name}, seed ${seed}`;
  const plotted = workload.chart === 'requests' ? 'requests sent a second' : loadMetricText[workload.loadMetric];
  const subtitle = `${plotted} per endpoint over virtual time (${(workload.stepMs / 1000).toFixed(1)} s averages)`;
  const body = runs.map((run, i) =>
    panel(run, result, yMax, 8 + (i % columns) * panelWidth, headerHeight + Math.floor(i / columns) * panelHeight),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    '<style>.title{font-size:13px;font-weight:600;fill:#222}.axis{font-size:11px;fill:#555}.note{font-size:10px;fill:#888}' +
      '.frame{fill:#fafafa;stroke:#ccc}.grid{stroke:#e4e4e4}.outage{fill:#000;fill-opacity:0.07}' +
      '.line{fill:none;stroke-width:1.5;stroke-linejoin:round}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="24" class="title" font-size="16">${escapeXml(title)}</text>`,
    `<text x="16" y="44" class="axis">${escapeXml(subtitle)}</text>`,
    legend(result.endpointIds),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
