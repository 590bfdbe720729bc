import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test, type TestContext } from 'node:test';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import {
  adminConfigWith,
  adminToken,
  readToken,
  spawnCli,
  startWithAdmin,
  type AdminSwitchyard,
} from './helpers/admin.js';
import { send } from './helpers/http.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { runCli } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

async function origin(t: TestContext, name: string): Promise<Origin> {
  const started = await startOrigin(name);
  t.after(() => started.close());
  return started;
}

async function balancer(t: TestContext, config: SwitchyardConfigInput): Promise<AdminSwitchyard> {
  const lb = await startWithAdmin(config, { events: { statsIntervalMs: 250 } });
  t.after(() => lb.close());
  return lb;
}

const idOf = (o: Origin): string => `127.0.0.1:${o.port}`;

/** The table row of an endpoint, split into its columns. */
function rowOf(stdout: string, endpoint: string): string[] {
  const line = stdout.split('\n').find((l) => l.includes(` ${endpoint} `));
  assert.ok(line !== undefined, `no row for ${endpoint} in:\n${stdout}`);
  return line.trim().split(/\s{2,}/);
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('switchyard status prints every endpoint with its state, health, weight, in-flight, rate, errors and p99', async (t) => {
  const [a, b] = await Promise.all([origin(t, 'a'), origin(t, 'b')]);
  const lb = await balancer(
    t,
    adminConfigWith([a.url, b.url], { healthCheck: { http: { path: '/' }, intervalMs: 500 } }),
  );
  // Traffic flows while the command runs: rates cover the last seconds only.
  let sending = true;
  const load = (async () => {
    while (sending) await send(lb.url('/'));
  })();
  t.after(async () => {
    sending = false;
    await load;
  });
  assert.equal(
    (await lb.api('PUT', `/api/services/app/endpoints/${idOf(b)}/state`, { body: { state: 'drain' } })).status,
    200,
  );
  assert.equal(
    (await lb.api('PUT', `/api/services/app/endpoints/${idOf(a)}/weight`, { body: { weight: 3 } })).status,
    200,
  );
  await waitFor(
    async () => {
      const reply = await lb.api('GET', '/api/services/app', { token: readToken });
      const endpoints = (reply.json as { endpoints: { id: string; requestRate: number }[] }).endpoints;
      return endpoints.find((e) => e.id === idOf(a))!.requestRate > 0;
    },
    10_000,
    'a request rate for a',
  );

  const { code, stdout, stderr } = await runCli(['status', '--admin', lb.adminBase, '--token', readToken]);
  // Stop the load while the balancer still runs: a request cut by the teardown would reject unobserved.
  sending = false;
  await load;
  assert.equal(code, 0, stderr);
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, new RegExp(`^Switchyard at ${lb.adminBase}: 1 service, 1/2 endpoints ready and up`));
  assert.deepEqual(lines[1]!.trim().split(/\s{2,}/), [
    'SERVICE',
    'ENDPOINT',
    'STATE',
    'HEALTH',
    'WEIGHT',
    'IN-FLIGHT',
    'REQ/S',
    'ERRORS',
    'P99',
    'LAST CHECK',
  ]);
  assert.equal(lines.length, 4, 'a summary, the header and one row per endpoint');
  const [service, id, state, health, weight, inFlight, rate, errors, p99, check] = rowOf(stdout, idOf(a));
  assert.deepEqual([service, id, state, health, weight], ['app', idOf(a), 'ready', 'up', '3']);
  // The load loop sends one request at a time, so the snapshot may catch it in flight.
  assert.ok(inFlight === '0' || inFlight === '1', `in-flight ${inFlight}`);
  assert.ok(Number(rate) > 0, `rate ${rate}`);
  assert.equal(errors, '0.0%');
  assert.match(p99!, /^\d+(\.\d)? ms$/);
  assert.match(check!, /^HTTP 200 \(\d+ s ago\)$/);
  assert.deepEqual(rowOf(stdout, idOf(b)).slice(0, 5), ['app', idOf(b), 'drain', 'up', '1']);
});

test('the token can come from SWITCHYARD_ADMIN_TOKEN', async (t) => {
  const a = await origin(t, 'a');
  const lb = await balancer(t, adminConfigWith([a.url]));
  const { code, stdout, stderr } = await runCli(['status', '--admin', lb.adminBase], {
    SWITCHYARD_ADMIN_TOKEN: adminToken,
  });
  assert.equal(code, 0, stderr);
  assert.deepEqual(rowOf(stdout, idOf(a)).slice(0, 4), ['app', idOf(a), 'ready', 'up']);
});

test('switchyard status --watch prints a fresh table at every stats event until interrupted', async (t) => {
  const a = await origin(t, 'a');
  const lb = await balancer(t, adminConfigWith([a.url]));
  const cli = spawnCli(['status', '--admin', lb.adminBase, '--token', readToken, '--watch']);
  t.after(() => cli.child.kill('SIGKILL'));
  const tables = (): number => cli.stdout.filter((line) => line.startsWith('SERVICE')).length;
  await waitFor(() => tables() >= 2, 30_000, 'two tables');
  // The later table sees what changed in between.
  assert.equal(
    (await lb.api('PUT', `/api/services/app/endpoints/${idOf(a)}/state`, { body: { state: 'maint' } })).status,
    200,
  );
  await waitFor(() => cli.stdout.some((line) => line.includes(idOf(a)) && /\smaint\s/.test(line)), 30_000, 'maint');
  cli.child.kill('SIGINT');
  assert.equal(await cli.exited, 0, cli.stderr());
});

test('an unreachable admin API or a refused token exits 1 with a clear message', async (t) => {
  const port = await closedPort();
  const unreachable = await runCli(['status', '--admin', `http://127.0.0.1:${port}`, '--token', readToken]);
  assert.equal(unreachable.code, 1);
  assert.equal(unreachable.stdout, '');
  assert.match(
    unreachable.stderr,
    new RegExp(`^switchyard status: cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED\\n$`),
  );

  const a = await origin(t, 'a');
  const lb = await balancer(t, adminConfigWith([a.url]));
  const refused = await runCli(['status', '--admin', lb.adminBase, '--token', 'wrong']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refused the request \(401 Unauthorized\): check the token/);
  const missing = await runCli(['status', '--admin', lb.adminBase], { SWITCHYARD_ADMIN_TOKEN: '' });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\(401 Unauthorized\): pass --token or set SWITCHYARD_ADMIN_TOKEN/);
});
