import { writeFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../client/register.js';
import { algorithms } from '../config/service-schema.js';
import { renderChart } from '../simulate/chart.js';
import { type AlgorithmName, simulate as runSimulation } from '../simulate/engine.js';
import { presetNames, presets } from '../simulate/presets.js';
import { formatJson, formatTable } from '../simulate/report.js';

export { presetNames };

/** The flags of `switchyard simulate`, as parsed by commander. */
export interface SimulateOptions {
  readonly preset: string;
  /** Default: all eight, in the order of the config's `algorithm:` list. */
  readonly algorithms?: readonly AlgorithmName[];
  readonly seed: number;
  /** Virtual time in ms; default: the preset's. */
  readonly duration?: number;
  /** Default: the preset's. */
  readonly endpoints?: number;
  /** Path of the SVG chart to write. */
  readonly out?: string;
  readonly format: 'table' | 'json';
}

/** `--algorithms round-robin,least-load`: known names only, each once (a usage error otherwise: exit 2). */
export function parseAlgorithmList(value: string): AlgorithmName[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new InvalidArgumentError('expected a comma-separated list of algorithms');
  const known = new Set<string>(algorithms);
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`unknown algorithm "${unknown.join('", "')}" (known: ${algorithms.join(', ')})`);
  }
  return [...new Set(names)] as AlgorithmName[];
}

/** `--duration 30s`: 1 s to 1 h of virtual time (a run takes roughly 1 s of real time per virtual minute). */
export function parseSimulatedDuration(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  if (!(ms >= 1000 && ms <= 3_600_000)) throw new InvalidArgumentError('expected a duration from 1s to 1h');
  return Math.round(ms);
}

/** `--endpoints 8`: 1 to 64. */
export function parseEndpointCount(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new InvalidArgumentError('expected a whole number from 1 to 64');
  }
  return count;
}

/**
 * `switchyard simulate`: runs the preset against each algorithm, prints the table (or JSON) to stdout and writes the
 * chart. Returns the exit code: 0, 1 when the chart cannot be written, 2 for a run too big to be meant.
 */
export function simulate(
  options: SimulateOptions,
  stdout: (text: string) => void = (text) => process.stdout.write(text),
): number {
  const preset = presets[options.preset];
  if (preset === undefined) return usage(`unknown preset "${options.preset}" (known: ${presetNames.join(', ')})`);
  const workload = {
    ...preset,
    durationMs: options.duration ?? preset.durationMs,
    endpointCount: options.endpoints ?? preset.endpointCount,
  };
  const expected = (workload.arrivals.perEndpointPerSecond * workload.endpointCount * workload.durationMs) / 1000;
  if (expected > maxRequests) {
    return usage(
      `about ${Math.round(expected)} requests is too many to simulate: use a shorter --duration or fewer --endpoints`,
    );
  }
  const result = runSimulation(workload, options.algorithms ?? algorithms, options.seed);
  stdout(options.format === 'json' ? formatJson(result) : formatTable(result));
  if (options.out === undefined) return 0;
  try {
    writeFileSync(options.out, renderChart(result));
  } catch (error) {
    process.stderr.write(`switchyard: cannot write the chart: ${(error as Error).message}\n`);
    return 1;
  }
  return 0;
}

/** About a second of real time per algorithm and a few hundred MB: beyond it a run is more likely a typo. */
const maxRequests = 2_000_000;

function usage(message: string): number {
  process.stderr.write(`switchyard: ${message}\n`);
  return 2;
}
