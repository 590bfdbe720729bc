import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAlgorithmList, simulate, type SimulateOptions } from '../cli/simulate.js';

const main = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

/** Runs the verb in this process, collecting what it prints. */
function run(options: Partial<SimulateOptions>): { code: number; stdout: string } {
  let stdout = '';
  const code = simulate({ preset: 'short-uniform', seed: 1, format: 'table', ...options }, (text) => {
    stdout += text;
  });
  return { code, stdout };
}

test('simulate prints the same table and writes the same chart for the same seed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-simulate-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const options = { preset: 'sticky', algorithms: parseAlgorithmList('round-robin,consistent-hash'), duration: 3_000 };
  const one = run({ ...options, seed: 9, out: join(dir, 'one.svg') });
  const two = run({ ...options, seed: 9, out: join(dir, 'two.svg') });
  assert.equal(one.code, 0);
  assert.match(one.stdout, /^\| round-robin \+ sticky +\| /m);
  assert.equal(two.stdout, one.stdout);
  assert.equal(await readFile(join(dir, 'two.svg'), 'utf8'), await readFile(join(dir, 'one.svg'), 'utf8'));
  assert.notEqual(run({ ...options, seed: 10 }).stdout, one.stdout);
});

test('an unknown algorithm is a usage error (exit 2) that lists the known ones', async () => {
  const failure = await promisify(execFile)(process.execPath, [
    '--import',
    'tsx',
    main,
    'simulate',
    '--algorithms',
    'round-robin,fastest',
  ]).then(
    () => assert.fail('expected a non-zero exit'),
    (error: unknown) => error as { code: number; stderr: string },
  );
  assert.equal(failure.code, 2);
  assert.match(failure.stderr, /unknown algorithm "fastest".*least-load/);
});

test('--format json gives one run per algorithm with its numbers', () => {
  const { code, stdout } = run({
    preset: 'uneven-cost',
    duration: 2_000,
    endpoints: 3,
    algorithms: ['least-load'],
    format: 'json',
  });
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as { endpoints: string[]; runs: { label: string; failed: number }[] };
  assert.deepEqual(report.endpoints, ['e1', 'e2', 'e3']);
  assert.deepEqual(
    report.runs.map((r) => [r.label, r.failed]),
    [['least-load', 0]],
  );
});

test('--format json carries the request counts and the watched windows with their labels', () => {
  const { code, stdout } = run({
    preset: 'slow-instance',
    duration: 45_000,
    algorithms: ['peak-ewma'],
    format: 'json',
  });
  assert.equal(code, 0);
  const report = JSON.parse(stdout) as {
    windows: { label: string; endpoint: string }[];
    runs: { requests: Record<string, number>; requestSpread: number; windows: (number | null)[] }[];
  };
  assert.deepEqual(report.windows[1], { label: 'first 200', endpoint: 'e3' });
  const [ewma] = report.runs;
  assert.equal(ewma!.windows.length, report.windows.length);
  assert.ok(ewma!.requests['e3']! < ewma!.requests['e1']!, JSON.stringify(ewma!.requests));
  // 'next 200': e3 has lost most of its traffic; '+1-2 s' after the recovery at 40 s it has it back.
  assert.ok(ewma!.windows[2]! < 0.2 && ewma!.windows[5]! > 0.5, JSON.stringify(ewma!.windows));
});
