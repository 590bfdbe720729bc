import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { metricValue, startFleetNode, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { send } from './helpers/http.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { waitFor } from './helpers/wait.js';

let etcd: EtcdCluster;
let a: FleetNode;
let b: FleetNode;
let origins: Origin[];

const holdMs = 4_000;
const services = {
  app: { endpoints: [], healthCheck: { http: { path: '/health' }, intervalMs: 300, timeoutMs: 500, rise: 1, fall: 2 } },
};

before(async () => {
  etcd = await startEtcdCluster();
  const prefix = uniquePrefix('preservation');
  origins = await Promise.all(['o1', 'o2', 'o3', 'o4'].map((name) => startOrigin(name)));
  const registry = { selfPreservation: { maxLossPercent: 50, windowMs: 10_000, holdMs } };
  [a, b] = await Promise.all([
    startFleetNode('lb-a', { endpoints: etcd.endpoints, prefix, services, registry }),
    startFleetNode('lb-b', { endpoints: etcd.endpoints, prefix, services, registry }),
  ]);
});
after(async () => {
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await Promise.all((origins ?? []).map((o) => o.close()));
  await etcd?.close();
});

const endpointsOf = async (node: FleetNode) =>
  (
    (await node.api('GET', '/api/services/app')).json as {
      endpoints: { id: string; lastCheck: { at: string } | null }[];
    }
  ).endpoints;

test('when most leases of a service expire at once, every node keeps its endpoints for holdMs (self-preservation)', async () => {
  // Four instances whose heartbeats all stop at once (what a stalled etcd leader revoking every lease looks like).
  for (const origin of origins) {
    const reply = await a.api('POST', '/api/services/app/endpoints', {
      body: { id: origin.name, url: origin.url, ttlSeconds: 2 },
    });
    assert.equal(reply.status, 201);
  }
  await waitFor(async () => (await endpointsOf(b)).length === 4, 5_000, 'four endpoints on B');
  for (const node of [a, b]) {
    await waitFor(
      async () => (await metricValue(node, 'switchyard_self_preservation_active', 'service="app"')) === 1,
      10_000,
      `self-preservation on ${node.name}`,
      50,
    );
  }
  const activated = Date.now();
  for (const node of [a, b]) {
    const kept = await endpointsOf(node);
    assert.deepEqual(kept.map((e) => e.id).sort(), ['o1', 'o2', 'o3', 'o4'], `${node.name} kept them all`);
    assert.ok(
      node.logs.some((line) => line.includes('self-preservation')),
      `${node.name} logged it`,
    );
    for (let i = 0; i < 8; i++) assert.equal((await send(node.url('/'))).status, 200);
  }
  // Still health-checked while held.
  const checkedAt = (await endpointsOf(a))[0]?.lastCheck?.at;
  await waitFor(async () => (await endpointsOf(a))[0]?.lastCheck?.at !== checkedAt, 3_000, 'a newer check');

  // An instance that comes back registers again and stays after the hold.
  // (200: the node still holds it, so this is a re-registration.)
  const again = await b.api('POST', '/api/services/app/endpoints', {
    body: { id: 'o1', url: origins[0]!.url, ttlSeconds: 30 },
  });
  assert.equal(again.status, 200, again.body);
  for (const node of [a, b]) {
    await waitFor(
      async () => (await endpointsOf(node)).length === 1,
      holdMs + 5_000,
      `the hold ends on ${node.name}`,
      100,
    );
    assert.deepEqual(
      (await endpointsOf(node)).map((e) => e.id),
      ['o1'],
    );
    assert.equal(await metricValue(node, 'switchyard_self_preservation_active', 'service="app"'), 0);
  }
  const heldMs = Date.now() - activated;
  console.log(`# self-preservation kept 4 expired endpoints for ${heldMs} ms (holdMs ${holdMs})`);
  assert.ok(heldMs >= holdMs - 1_000, `held only ${heldMs} ms`);
});
