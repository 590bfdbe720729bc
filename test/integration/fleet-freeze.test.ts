import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { metricValue, startFleetNode, startLoad, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { sleep, waitFor } from './helpers/wait.js';

// etcd FROZEN (SIGSTOP of every member: a stalled leader, a partition), not killed: connections stay open and
// nothing answers. Every API call that needs the store must answer 503 within its deadline, not hang.

let etcd: EtcdCluster;
let a: FleetNode;
let b: FleetNode;
let origins: Origin[];
const requestTimeoutMs = 1_000;

const services = {
  // No slow start: the endpoints take their whole weight at once.
  app: {
    endpoints: [],
    slowStartMs: 0,
    healthCheck: { http: { path: '/health' }, intervalMs: 200, timeoutMs: 500, rise: 1, fall: 2 },
  },
};

before(async () => {
  etcd = await startEtcdCluster();
  const prefix = uniquePrefix('freeze');
  origins = await Promise.all(['o1', 'o2', 'o3', 'during', 'after'].map((name) => startOrigin(name)));
  const options = { endpoints: etcd.endpoints, prefix, services, etcd: { requestTimeoutMs } };
  [a, b] = await Promise.all([startFleetNode('lb-a', options), startFleetNode('lb-b', options)]);
  for (const origin of origins.slice(0, 3)) {
    const reply = await a.api('POST', '/api/services/app/endpoints', {
      body: { id: origin.name, url: origin.url, ttlSeconds: 30 },
    });
    assert.equal(reply.status, 201, reply.body);
  }
  for (const node of [a, b]) {
    await waitFor(
      async () => {
        const { endpoints } = (await node.api('GET', '/api/services/app')).json as { endpoints: { health: string }[] };
        return endpoints.length === 3 && endpoints.every((e) => e.health === 'up');
      },
      10_000,
      `both endpoints up on ${node.name}`,
    );
  }
});
after(async () => {
  await etcd?.thawAll().catch(() => undefined);
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await Promise.all((origins ?? []).map((o) => o.close()));
  await etcd?.close();
});

const lastCheckOf = async (node: FleetNode): Promise<string | undefined> =>
  ((await node.api('GET', '/api/services/app')).json as { endpoints: { lastCheck: { at: string } | null }[] })
    .endpoints[0]?.lastCheck?.at;

test('with every etcd member frozen (SIGSTOP), the API answers 503 registry_unavailable within its deadline, traffic and health checks go on, and after SIGCONT the nodes resync with no registration lost', async () => {
  for (const node of [a, b])
    await waitFor(async () => (await fetch(node.url('/'))).status === 200, 20_000, `${node.name} serves`, 50);
  const load = startLoad([a.url('/'), b.url('/')], 2);
  await sleep(500);
  await etcd.freezeAll();
  const frozenAt = performance.now();
  const calls: [string, string, string, Record<string, unknown>][] = [
    ['register', 'POST', '/api/services/app/endpoints', { id: 'during', url: origins[3]!.url, ttlSeconds: 5 }],
    ['heartbeat', 'PUT', '/api/services/app/endpoints/o1/heartbeat', {}],
    ['heartbeat with load', 'PUT', '/api/services/app/endpoints/o1/heartbeat', { load: 3 }],
    ['state', 'PUT', '/api/services/app/endpoints/o1/state', { state: 'drain' }],
    ['weight', 'PUT', '/api/services/app/endpoints/o2/weight', { weight: 7 }],
  ];
  const timings: string[] = [];
  let slowest = 0;
  for (const node of [a, b]) {
    for (const [what, method, path, body] of calls) {
      const started = performance.now();
      const reply = await node.api(method, path, { body });
      const elapsed = performance.now() - started;
      slowest = Math.max(slowest, elapsed);
      timings.push(`${node.name} ${what} ${Math.round(elapsed)} ms`);
      assert.equal(reply.status, 503, `${what} on ${node.name}: ${reply.status} ${reply.body}`);
      assert.equal((reply.json as { code: string }).code, 'registry_unavailable');
      assert.ok(Number(reply.headers['retry-after']) >= 1, `${what}: Retry-After`);
      // The deadline is 1 s; a loaded machine gets room, a call without a deadline would hang far longer.
      assert.ok(elapsed < 5_000, `${what} on ${node.name} took ${Math.round(elapsed)} ms`);
    }
  }
  const deregister = await a.api('DELETE', '/api/services/app/endpoints/o3');
  assert.equal(deregister.status, 503, deregister.body);
  console.log(`# etcd frozen, time to 503 (deadline ${requestTimeoutMs} ms): ${timings.join(', ')}`);

  // Nothing was half-applied: this node's view is unchanged.
  const view = (await a.api('GET', '/api/services/app')).json as {
    endpoints: { id: string; state: string; weight: number }[];
  };
  assert.deepEqual(view.endpoints.map((e) => [e.id, e.state, e.weight]).sort(), [
    ['o1', 'ready', 1],
    ['o2', 'ready', 1],
    ['o3', 'ready', 1],
  ]);
  // A timed-out call marks the store unavailable; health checks go on; readiness stays.
  await waitFor(async () => (await metricValue(a, 'switchyard_registry_up')) === 0, 10_000, 'A sees etcd stalled');
  const checked = await lastCheckOf(a);
  await waitFor(async () => (await lastCheckOf(a)) !== checked, 10_000, 'a health check while etcd is frozen');
  assert.equal((await a.api('GET', '/ready')).status, 200);
  const frozenMs = performance.now() - frozenAt;

  await etcd.thawAll();
  const thawedAt = performance.now();
  await Promise.all(
    [a, b].map((node) =>
      waitFor(
        async () => (await metricValue(node, 'switchyard_registry_up')) === 1,
        20_000,
        `${node.name} resynced`,
        50,
      ),
    ),
  );
  const upAfterMs = performance.now() - thawedAt;
  // The watch goes on: a registration through A after the thaw reaches B.
  const registered = await waitFor(
    async () => {
      const reply = await a.api('POST', '/api/services/app/endpoints', {
        body: { id: 'after', url: origins[4]!.url, ttlSeconds: 30 },
      });
      return reply.status === 201 && reply;
    },
    20_000,
    'a registration after the thaw',
    200,
  );
  assert.ok(registered);
  await waitFor(
    async () =>
      ((await b.api('GET', '/api/services/app')).json as { endpoints: { id: string }[] }).endpoints.some(
        (e) => e.id === 'after',
      ),
    10_000,
    'B sees the registration made through A after the thaw',
    50,
  );
  const seenAfterMs = performance.now() - thawedAt;
  console.log(
    `# etcd frozen ${Math.round(frozenMs)} ms; after SIGCONT: registry up again in ${Math.round(upAfterMs)} ms, a new registration through A seen by B after ${Math.round(seenAfterMs)} ms`,
  );

  // A write that timed out may still land after the thaw (etcd had it queued): the watch is the truth, and both
  // nodes agree. Frozen for less than the 30 s TTL, no lease ran out: o1 and o2 are still registered.
  const views = await Promise.all(
    [a, b].map(async (node) => {
      const { endpoints } = (await node.api('GET', '/api/services/app')).json as {
        endpoints: { id: string; state: string; weight: number }[];
      };
      assert.equal(node.child.exitCode, null, `${node.name} is still running`);
      assert.ok(!node.logs.some((line) => /unhandled|uncaught/i.test(line)), `${node.name}: no unhandled rejection`);
      return endpoints.map((e) => `${e.id}:${e.state}:${e.weight}`).sort();
    }),
  );
  await waitFor(
    async () => {
      const [viewA, viewB] = await Promise.all(
        [a, b].map(async (node) =>
          (
            (await node.api('GET', '/api/services/app')).json as {
              endpoints: { id: string; state: string; weight: number }[];
            }
          ).endpoints
            .map((e) => `${e.id}:${e.state}:${e.weight}`)
            .sort()
            .join(' '),
        ),
      );
      return viewA === viewB;
    },
    10_000,
    'both nodes agree after the thaw',
  );
  console.log(`# after the thaw (late writes included): ${views[0]!.join(' ')}`);
  const result = await load.stop();
  console.log(`# ${result.ok} requests answered, ${result.failures.length} failed`);
  assert.deepEqual(result.failures, []);
  assert.ok(result.ok > 20, `only ${result.ok} requests`);
  for (const id of ['o1', 'o2', 'after'])
    assert.ok(
      views[0]!.some((v) => v.startsWith(`${id}:`)),
      `${id} kept`,
    );
  // Both nodes are announced again (their 5 s announcement lease may have run out during the freeze).
  await waitFor(
    async () => ((await a.api('GET', '/api/nodes')).json as { nodes: unknown[] }).nodes.length === 2,
    15_000,
    'both nodes announced after the thaw',
    100,
  );
  // The heartbeat renews the leases granted before the freeze.
  for (const origin of origins.slice(0, 2))
    assert.equal(
      (await b.api('PUT', `/api/services/app/endpoints/${origin.name}/heartbeat`, { body: {} })).status,
      200,
    );
});
