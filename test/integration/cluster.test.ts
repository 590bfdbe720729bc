import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { startOrigin, type OriginHandler } from './helpers/origin.js';
import { parseExposition } from './helpers/prometheus.js';
import { cliPath, runCli } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';
import { freePort } from './helpers/ports.js';

/** A log line of the balancer (pino JSON). */
interface LogLine {
  readonly time: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

interface WorkerJson {
  readonly id: number;
  readonly pid: number;
  readonly state: string;
  readonly requests: number;
}

/** `switchyard start -c FILE` with `workers: 2`, run by the real CLI in a child process. */
interface ClusterProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly admin: string;
  readonly lines: LogLine[];
  workers(): Promise<WorkerJson[]>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

async function startCluster(t: TestContext, config: Record<string, unknown>): Promise<ClusterProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-cluster-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'switchyard.yaml');
  await writeFile(
    file,
    stringify({
      workers: 2,
      admin: { address: '127.0.0.1:0' },
      registry: { store: 'memory' },
      ...config,
    }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, 'start', '-c', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const lines: LogLine[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // not a log line
    }
  });
  if (process.env['CLUSTER_DEBUG'] !== undefined)
    t.after(() => writeFile(`/tmp/cluster-${child.pid}.log`, lines.map((l) => JSON.stringify(l)).join('\n')));
  const adminLine = await waitFor(
    () => lines.find((l) => l.msg === 'admin API listening'),
    30_000,
    'the admin API to listen (after the workers applied the first snapshot)',
  );
  const listening = lines.find((l) => l.msg === 'listening');
  assert.ok(listening !== undefined, 'a worker logged its listener before the admin API opened');
  const admin = `http://127.0.0.1:${adminLine['port'] as number}`;
  return {
    child,
    port: listening['port'] as number,
    admin,
    lines,
    async workers() {
      const overview = (await (await fetch(`${admin}/api/overview`)).json()) as { workers: WorkerJson[] };
      return overview.workers;
    },
    async stop(signal = 'SIGTERM') {
      // Once signalled, wait: a second stop signal would force the stop.
      if (!child.killed && child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** One GET on a fresh connection (`Connection: close`, so cluster's round-robin spreads connections over workers). */
function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** What one request of a load run saw. */
interface Outcome {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: number;
  readonly error?: string;
}

/** `clients` loops, each sending one `Connection: close` request after the other until `stop()`. */
function load(port: number, clients: number, path = '/') {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const startedAt = Date.now();
      try {
        const { status, body } = await get(port, path);
        outcomes.push({ startedAt, endedAt: Date.now(), status, ...(status === 200 ? {} : { error: body }) });
      } catch (error) {
        outcomes.push({ startedAt, endedAt: Date.now(), status: 0, error: (error as Error).message });
      }
    }
  });
  return {
    outcomes,
    async stop(): Promise<Outcome[]> {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

const failed = (outcomes: readonly Outcome[]): Outcome[] => outcomes.filter((o) => o.status !== 200);

/** An origin that answers `200 <name>` after `delayMs`. */
const delayed =
  (delayMs: number): OriginHandler =>
  (req, res, origin) => {
    req.resume();
    setTimeout(() => res.end(origin.name), delayMs);
  };

const appService = (urls: readonly string[], extra: Record<string, unknown> = {}) => ({
  listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0', service: 'app' }],
  services: { app: { endpoints: urls.map((url) => ({ url })), ...extra } },
});

test('with workers: 2 both workers serve, /api/overview lists their pids and counts, and metrics add them up', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const lb = await startCluster(t, appService([origin.url]));
  const total = 120;
  let sent = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (sent < total) {
        sent++;
        assert.equal((await get(lb.port)).status, 200);
      }
    }),
  );
  const workers = await waitFor(
    async () => {
      const list = await lb.workers();
      return list.reduce((n, w) => n + w.requests, 0) === total && list;
    },
    10_000,
    `the workers to report ${total} requests`,
  );
  assert.equal(workers.length, 2);
  assert.equal(new Set(workers.map((w) => w.pid)).size, 2, 'two distinct processes');
  assert.ok(!workers.some((w) => w.pid === lb.child.pid), 'workers are not the primary');
  for (const worker of workers) assert.ok(worker.requests > 0, `worker ${worker.pid} served requests`);
  const metrics = parseExposition(await (await fetch(`${lb.admin}/metrics`)).text());
  assert.equal(metrics.sum('switchyard_requests_total', { listener: 'web' }), total);
  assert.equal(metrics.sum('switchyard_upstream_requests_total', { service: 'app' }), total);
  const listeners = (await (await fetch(`${lb.admin}/api/listeners`)).json()) as { name: string; bound: string }[];
  assert.equal(listeners[0]?.bound, `127.0.0.1:${lb.port}`, 'the primary knows the address the workers bound');
  // The dashboard's per-endpoint error rate and latency come from the workers' answer classes and latency buckets.
  const endpoint = await waitFor(
    async () => {
      const service = (await (await fetch(`${lb.admin}/api/services/app`)).json()) as {
        endpoints: { errorRate: number | null; latencyMs: { p50: number | null; p99: number | null } | null }[];
      };
      const e = service.endpoints[0];
      return e !== undefined && e.errorRate !== null && e.latencyMs?.p99 != null && e;
    },
    10_000,
    'an error rate and latency for the endpoint, summed over the workers',
  );
  assert.equal(endpoint.errorRate, 0);
  assert.ok(endpoint.latencyMs!.p99! > 0);
  assert.equal(await lb.stop(), 0);
});

test('a passive-health fact from a worker reaches the primary: an endpoint that refuses connections is ejected', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const dead = `http://127.0.0.1:${await freePort()}`;
  const lb = await startCluster(
    t,
    appService([origin.url, dead], {
      outlierDetection: { consecutiveErrors: 2, baseEjectionMs: 60_000, maxEjectionPercent: 50 },
    }),
  );
  const traffic = load(lb.port, 2);
  t.after(() => traffic.stop());
  const deadId = new URL(dead).host;
  await waitFor(
    async () => {
      const detail = (await (await fetch(`${lb.admin}/api/services/app`)).json()) as {
        endpoints: { id: string; health: string }[];
      };
      return detail.endpoints.find((e) => e.id === deadId)?.health === 'ejected';
    },
    15_000,
    'the refusing endpoint to be ejected by the primary',
  );
  await traffic.stop();
  assert.equal(await lb.stop(), 0);
});

test('a killed worker is replaced; only requests that were on its connections can fail', async (t) => {
  const origin = await startOrigin('a', delayed(20));
  t.after(() => origin.close());
  const lb = await startCluster(t, appService([origin.url]));
  const clients = 8;
  const traffic = load(lb.port, clients);
  t.after(() => traffic.stop());
  await sleep(1_000);
  const before = await lb.workers();
  const victim = before[0]!;
  const killedAt = Date.now();
  process.kill(victim.pid, 'SIGKILL');
  const noticed = await waitFor(
    () => lb.lines.find((l) => l.msg === 'worker died: replacing it' && l['pid'] === victim.pid),
    10_000,
    'the primary to notice the death',
  );
  const replaced = await waitFor(
    async () => {
      const list = await lb.workers();
      return list.length === 2 && list.every((w) => w.state === 'serving' && w.pid !== victim.pid) && list;
    },
    20_000,
    'a replacement worker to serve',
  );
  const servingAgainAt = Date.now();
  await sleep(1_000);
  const outcomes = await traffic.stop();
  const errors = failed(outcomes);
  // What cannot be guaranteed: a request whose connection the killed worker held (in flight, or handed to it by the
  // primary just before it died) is lost. That is at most one per client (each has one request at a time), and each
  // such request started before the primary noticed the exit.
  assert.ok(errors.length <= clients, `at most ${clients} failures, got ${errors.length}`);
  for (const error of errors) {
    assert.ok(error.startedAt <= noticed.time, `a failed request started after the primary noticed: ${error.error}`);
  }
  // What is guaranteed: the other worker went on serving, and nothing started after the exit was noticed failed.
  const during = outcomes.filter((o) => o.startedAt > killedAt && o.endedAt < servingAgainAt && o.status === 200);
  assert.ok(during.length > 0, 'the surviving worker answered while the replacement started');
  const after = outcomes.filter((o) => o.startedAt > noticed.time);
  assert.ok(after.length > 50, `enough requests after the death to mean something (${after.length})`);
  assert.deepEqual(failed(after), []);
  assert.ok(
    replaced.some((w) => w.pid === before[1]!.pid),
    'the other worker was not touched',
  );
  assert.equal(await lb.stop(), 0);
});

test('a worker roll under load (switchyard reload --workers) replaces every worker with zero failed requests', async (t) => {
  const origin = await startOrigin('a', delayed(10));
  t.after(() => origin.close());
  const lb = await startCluster(t, appService([origin.url]));
  const before = await lb.workers();
  const traffic = load(lb.port, 8);
  t.after(() => traffic.stop());
  await sleep(500);
  const rolled = await runCli(['reload', '--admin', lb.admin, '--workers']);
  assert.equal(rolled.code, 0, rolled.stderr);
  const answer = JSON.parse(rolled.stdout) as { workers: WorkerJson[] };
  assert.equal(answer.workers.length, 2);
  const oldPids = new Set(before.map((w) => w.pid));
  assert.ok(
    answer.workers.every((w) => !oldPids.has(w.pid)),
    'every worker is new',
  );
  await waitFor(
    () => lb.lines.filter((l) => l.msg === 'worker exited' && oldPids.has(l['pid'] as number)).length === 2,
    40_000,
    'both old workers to drain and exit',
  );
  await sleep(500);
  const outcomes = await traffic.stop();
  assert.ok(outcomes.length > 100, `enough requests during the roll (${outcomes.length})`);
  assert.deepEqual(failed(outcomes), []);
  assert.equal(await lb.stop(), 0);
});

test('SIGTERM with slow requests in flight on both workers: /ready turns 503, all complete, exit 0', async (t) => {
  let arrived = 0;
  const origin = await startOrigin('a', (req, res) => {
    arrived++;
    req.resume();
    setTimeout(() => res.end('slow'), 1_500);
  });
  t.after(() => origin.close());
  const lb = await startCluster(t, appService([origin.url]));
  const count = 20;
  const answers = Array.from({ length: count }, () => get(lb.port, '/slow'));
  await waitFor(() => arrived === count, 10_000, 'every slow request to reach the origin');
  const spread = await lb.workers();
  assert.ok(spread.every((w) => w.state === 'serving'));
  lb.child.kill('SIGTERM');
  await waitFor(
    async () => (await fetch(`${lb.admin}/ready`)).status === 503,
    5_000,
    '/ready to answer 503 while draining',
  );
  const results = await Promise.all(answers);
  assert.deepEqual(
    results.map((r) => r.status),
    Array.from({ length: count }, () => 200),
  );
  assert.equal(await lb.stop(), 0);
});
