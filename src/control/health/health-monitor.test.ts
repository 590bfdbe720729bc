import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { healthCheckSchema, type HealthCheckConfig } from '../../config/service-schema.js';
import { createLogger } from '../../core/log.js';
import { HealthMonitor, type HealthMonitorOptions, type HealthStatus, type HealthTarget } from './health-monitor.js';
import { createProbe } from './create-probe.js';
import type { Probe, ProbeResult } from './probe.js';

/** A real origin on 127.0.0.1:0 answering its current `status`, or never answering while `hang` is set. */
interface Origin {
  readonly url: string;
  status: number;
  hang: boolean;
  requests: number;
  openConnections(): Promise<number>;
  close(): Promise<void>;
}

async function startOrigin(t: TestContext, status = 200): Promise<Origin> {
  const server = createServer((_req, res) => {
    origin.requests++;
    if (origin.hang) return;
    res.writeHead(origin.status, { 'content-type': 'text/plain' });
    res.end(origin.status < 400 ? 'ok' : 'sick');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin: Origin = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    status,
    hang: false,
    requests: 0,
    openConnections: () =>
      new Promise((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n)))),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  t.after(() => origin.close());
  return origin;
}

/** Fast checks: every 20 ms, no jitter, rise 2, fall 3 (override any of it). */
const check = (overrides: Record<string, unknown> = {}): HealthCheckConfig =>
  healthCheckSchema.parse({
    http: {},
    intervalMs: 20,
    timeoutMs: 1_000,
    jitterPercent: 0,
    rise: 2,
    fall: 3,
    ...overrides,
  });

const target = (url: string, checkConfig: HealthCheckConfig, id = 'a'): HealthTarget => ({
  service: 'web',
  endpoint: { id, url },
  check: checkConfig,
});

interface Change {
  readonly service: string;
  readonly endpointId: string;
  readonly status: HealthStatus;
}

function startMonitor(t: TestContext, options: Partial<HealthMonitorOptions> = {}) {
  const changes: Change[] = [];
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const monitor = new HealthMonitor({
    onChange: (service, endpointId, status) => changes.push({ service, endpointId, status }),
    log: createLogger({ level: 'info', destination }),
    random: () => 0.5,
    ...options,
  });
  t.after(() => monitor.close());
  const flips = () => lines.filter((line) => line['msg'] === 'health changed');
  return { monitor, changes, flips };
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A probe that answers from a script of pass/fail, then waits for its signal; it counts calls and overlaps. */
function scriptedProbe(script: readonly boolean[]) {
  const calls = { count: 0, active: 0, maxActive: 0 };
  const probe: Probe = {
    check: (_endpoint, signal) => {
      const step = script[calls.count++];
      if (step !== undefined) return Promise.resolve({ ok: step, detail: step ? 'pass' : 'fail' });
      return new Promise<ProbeResult>((resolve) =>
        signal.addEventListener('abort', () => resolve({ ok: false, detail: 'aborted' })),
      );
    },
  };
  return { calls, probeFor: () => probe };
}

test('a new endpoint is unknown, and its first passing check makes it up at once (rise does not apply)', async (t) => {
  const origin = await startOrigin(t);
  const { monitor, changes, flips } = startMonitor(t);
  monitor.sync([target(origin.url, check({ rise: 3 }))]);
  assert.deepEqual(monitor.status('web', 'a'), { health: 'unknown', passes: 0, failures: 0 });
  await waitFor(() => changes.length === 1, 'the first flip');
  const [first] = changes;
  assert.equal(first?.service, 'web');
  assert.equal(first?.endpointId, 'a');
  assert.equal(first?.status.health, 'up');
  assert.equal(first?.status.passes, 1);
  assert.equal(first?.status.lastCheck?.ok, true);
  assert.equal(first?.status.lastCheck?.detail, 'HTTP 200');
  assert.deepEqual(
    flips().map(({ service, endpoint, from, to, detail, level }) => ({ service, endpoint, from, to, detail, level })),
    [{ service: 'web', endpoint: 'a', from: 'unknown', to: 'up', detail: 'HTTP 200', level: 30 }],
  );
});

test('an up endpoint goes down exactly on the fall-th failure in a row, and onChange fires on flips only', async (t) => {
  const origin = await startOrigin(t);
  const { monitor, changes, flips } = startMonitor(t);
  monitor.sync([target(origin.url, check({ fall: 3 }))]);
  await waitFor(() => changes.length === 1, 'up');
  origin.status = 500;
  await waitFor(() => changes.length === 2, 'down');
  const down = changes[1]?.status;
  assert.equal(down?.health, 'down');
  assert.equal(down?.failures, 3);
  assert.equal(down?.passes, 0);
  assert.equal(down?.lastCheck?.detail, 'HTTP 500');
  await waitFor(() => (monitor.status('web', 'a')?.failures ?? 0) >= 6, 'more failing checks');
  assert.equal(changes.length, 2, 'further failures are not flips');
  assert.equal(monitor.status('web', 'a')?.health, 'down');
  assert.deepEqual(
    flips().map(({ from, to, detail }) => ({ from, to, detail })),
    [
      { from: 'unknown', to: 'up', detail: 'HTTP 200' },
      { from: 'up', to: 'down', detail: 'HTTP 500' },
    ],
  );
});

test('a down endpoint comes back up only after rise passes in a row', async (t) => {
  const origin = await startOrigin(t);
  const { monitor, changes } = startMonitor(t);
  monitor.sync([target(origin.url, check({ rise: 3, fall: 2 }))]);
  await waitFor(() => changes.length === 1, 'up');
  origin.status = 500;
  await waitFor(() => changes.length === 2, 'down');
  assert.equal(changes[1]?.status.failures, 2);
  origin.status = 200;
  await waitFor(() => changes.length === 3, 'up again');
  assert.equal(changes[2]?.status.health, 'up');
  assert.equal(changes[2]?.status.passes, 3);
});

test('an endpoint whose first checks fail is down after fall failures, not before', async (t) => {
  const origin = await startOrigin(t, 503);
  const { monitor, changes, flips } = startMonitor(t);
  monitor.sync([target(origin.url, check({ fall: 3 }))]);
  await waitFor(() => changes.length === 1, 'down');
  assert.equal(changes[0]?.status.health, 'down');
  assert.equal(changes[0]?.status.failures, 3);
  assert.deepEqual(
    flips().map(({ from, to }) => ({ from, to })),
    [{ from: 'unknown', to: 'down' }],
  );
});

test('a pass between failures restarts the count, and a fail between passes restarts the rise', async (t) => {
  // unknown ─fail,fail,pass→ up ─fail,fail,pass,fail,fail,fail→ down ─pass,fail,pass,pass→ up
  const script = [false, false, true, false, false, true, false, false, false, true, false, true, true];
  const { calls, probeFor } = scriptedProbe(script);
  const { monitor, changes } = startMonitor(t, { probeFor });
  monitor.sync([target('http://127.0.0.1:1', check({ intervalMs: 5, rise: 2, fall: 3 }))]);
  await waitFor(() => calls.count > script.length, 'the script to run out');
  assert.deepEqual(
    changes.map(({ status }) => [status.health, status.passes, status.failures]),
    [
      ['up', 1, 0],
      ['down', 0, 3],
      ['up', 2, 0],
    ],
  );
});

test('a check that times out counts as a failure, and the next check starts only after it ended', async (t) => {
  const origin = await startOrigin(t);
  origin.hang = true;
  const calls = { count: 0, active: 0, maxActive: 0 };
  const probeFor = (config: HealthCheckConfig): Probe => {
    const probe = createProbe(config);
    return {
      check: async (endpoint, signal) => {
        calls.count++;
        calls.maxActive = Math.max(calls.maxActive, ++calls.active);
        try {
          return await probe.check(endpoint, signal);
        } finally {
          calls.active--;
        }
      },
    };
  };
  const { monitor, changes } = startMonitor(t, { probeFor });
  monitor.sync([target(origin.url, check({ intervalMs: 20, timeoutMs: 60, fall: 2 }))]);
  await waitFor(() => changes.length === 1, 'down');
  const status = changes[0]?.status;
  assert.equal(status?.health, 'down');
  assert.equal(status?.lastCheck?.detail, 'timeout after 60 ms');
  assert.ok((status?.lastCheck?.durationMs ?? 0) >= 50, 'the check lasted its timeout');
  await waitFor(() => calls.count >= 4, 'more checks');
  assert.equal(calls.maxActive, 1, 'checks of one endpoint never overlap');
  await waitFor(async () => (await origin.openConnections()) <= 1, 'timed-out connections to close');
});

test('a probe that ignores its signal, throws or rejects counts as a failure; nothing escapes', async (t) => {
  const probes: Record<string, Probe> = {
    ignores: { check: () => new Promise(() => {}) },
    throws: {
      check: () => {
        throw new Error('probe exploded');
      },
    },
    rejects: { check: () => Promise.reject(new Error('probe rejected')) },
  };
  const { monitor, changes } = startMonitor(t, {
    probeFor: (config) => probes[config.http?.path.slice(1) ?? ''] ?? createProbe(config),
    onChange: (service, endpointId, status) => {
      changes.push({ service, endpointId, status });
      throw new Error('a listener bug');
    },
  });
  monitor.sync(
    Object.keys(probes).map((name) =>
      target('http://127.0.0.1:1', check({ http: { path: `/${name}` }, timeoutMs: 30, fall: 1 }), name),
    ),
  );
  await waitFor(() => changes.length === 3, 'every endpoint down');
  const details = Object.fromEntries(changes.map(({ endpointId, status }) => [endpointId, status.lastCheck?.detail]));
  assert.deepEqual(details, {
    ignores: 'timeout after 30 ms',
    throws: 'probe exploded',
    rejects: 'probe rejected',
  });
  await waitFor(() => (monitor.status('web', 'throws')?.failures ?? 0) >= 3, 'checking to go on after a throw');
});

test('sync() restarts from unknown a target whose check config or URL changed', async (t) => {
  const [a, b] = await Promise.all([startOrigin(t), startOrigin(t)]);
  const { monitor, changes } = startMonitor(t);
  monitor.sync([target(a.url, check())]);
  await waitFor(() => changes.length === 1, 'up');
  monitor.sync([target(a.url, check({ http: { path: '/ready' } }))]);
  assert.deepEqual(monitor.status('web', 'a'), { health: 'unknown', passes: 0, failures: 0 });
  await waitFor(() => changes.length === 2, 'up after the config change');
  assert.equal(changes[1]?.status.passes, 1);
  const requestsBefore = b.requests;
  monitor.sync([target(b.url, check({ http: { path: '/ready' } }))]);
  assert.equal(monitor.status('web', 'a')?.health, 'unknown');
  await waitFor(() => changes.length === 3, 'up after the URL change');
  assert.ok(b.requests > requestsBefore, 'the new URL is checked');
});

test('sync() stops checking a removed target: no more requests reach its origin', async (t) => {
  const origin = await startOrigin(t);
  const { monitor, changes } = startMonitor(t);
  monitor.sync([target(origin.url, check())]);
  await waitFor(() => changes.length === 1, 'up');
  monitor.sync([]);
  assert.equal(monitor.status('web', 'a'), undefined);
  await sleep(100); // a request written before sync() may still be on its way
  const requests = origin.requests;
  await sleep(200); // ten intervals
  assert.equal(origin.requests, requests);
  assert.equal(changes.length, 1);
});

test('sync() keeps the state and schedule of an unchanged target', async (t) => {
  const origin = await startOrigin(t);
  const { monitor, changes } = startMonitor(t);
  const config = check({ intervalMs: 60_000 });
  monitor.sync([target(origin.url, config)]);
  await waitFor(() => changes.length === 1, 'up');
  const before = monitor.status('web', 'a');
  // Equal configuration in another key order, in a fresh object: still unchanged.
  const reordered = Object.fromEntries(Object.entries(config).reverse()) as HealthCheckConfig;
  monitor.sync([target(origin.url, reordered), target(origin.url, config, 'b')]);
  monitor.sync([target(origin.url, config), target(origin.url, config, 'b')]);
  assert.equal(monitor.status('web', 'a'), before);
  await waitFor(() => changes.length === 2, 'b up');
  await sleep(100);
  assert.equal(origin.requests, 2, 'one check each: a was not checked again early');
  assert.equal(monitor.status('web', 'a'), before);
});

test('intervals are spread by ± jitterPercent using the injected random', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { calls, probeFor } = scriptedProbe(Array.from({ length: 10 }, () => true));
  const randoms = [0, 0.75];
  const { monitor } = startMonitor(t, { probeFor, random: () => randoms.shift() ?? 0.5 });
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  monitor.sync([target('http://127.0.0.1:1', check({ intervalMs: 100, jitterPercent: 50 }))]);
  await flush();
  assert.equal(calls.count, 1, 'the first check runs at once');
  t.mock.timers.tick(49);
  await flush();
  assert.equal(calls.count, 1);
  t.mock.timers.tick(1); // random 0: 100 ms − 50 %
  await flush();
  assert.equal(calls.count, 2);
  t.mock.timers.tick(124);
  await flush();
  assert.equal(calls.count, 2);
  t.mock.timers.tick(1); // random 0.75: 100 ms + 25 %
  await flush();
  assert.equal(calls.count, 3);
});

test('after close() no check reaches the origin and no change is reported', async (t) => {
  const origin = await startOrigin(t);
  const { monitor, changes } = startMonitor(t);
  monitor.sync([target(origin.url, check())]);
  await waitFor(() => changes.length === 1, 'up');
  monitor.close();
  assert.equal(monitor.status('web', 'a'), undefined);
  monitor.sync([target(origin.url, check())]);
  await sleep(100); // a request written before close() may still be on its way
  const requests = origin.requests;
  origin.status = 500;
  await sleep(200);
  assert.equal(origin.requests, requests);
  assert.equal(changes.length, 1);
});

test('close() aborts checks in flight and leaves no timer: the process exits', async (t) => {
  const [healthy, hanging] = await Promise.all([startOrigin(t), startOrigin(t)]);
  hanging.hang = true;
  const monitorUrl = pathToFileURL(fileURLToPath(new URL('./health-monitor.ts', import.meta.url))).href;
  // Long intervals and timeouts: only close() can let this process end within the deadline.
  const script = `
    import { HealthMonitor } from ${JSON.stringify(monitorUrl)};
    const check = { http: { path: '/', method: 'GET', expectStatus: '200-399' }, intervalMs: 60000, timeoutMs: 60000, jitterPercent: 0, rise: 2, fall: 3 };
    const monitor = new HealthMonitor({ onChange() {}, log: { info() {}, error() {} } });
    monitor.sync([
      { service: 's', endpoint: { id: 'healthy', url: process.env.HEALTHY }, check },
      { service: 's', endpoint: { id: 'hanging', url: process.env.HANGING }, check },
    ]);
    const poll = setInterval(() => {
      if (monitor.status('s', 'healthy')?.health !== 'up') return;
      clearInterval(poll);
      process.stdin.once('data', () => { monitor.close(); console.log('closed'); });
      console.log('ready');
    }, 5);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, HEALTHY: healthy.url, HANGING: hanging.url },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.after(() => child.kill());
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => stdout.includes('ready') && hanging.requests === 1, 'both checks to start', 20_000);
  child.stdin.end('close\n');
  let deadline: NodeJS.Timeout | undefined;
  const stillRunning = new Promise<string>((resolve) => (deadline = setTimeout(resolve, 15_000, 'still running')));
  const code = await Promise.race([exited, stillRunning]);
  clearTimeout(deadline);
  assert.equal(code, 0);
  assert.match(stdout, /closed/);
  await waitFor(async () => (await hanging.openConnections()) === 0, 'the in-flight check connection to close');
});
