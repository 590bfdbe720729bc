import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import {
  followEvents,
  metricValue,
  startCuttableProxy,
  startFleetNode,
  uniquePrefix,
  type CuttableProxy,
  type FleetNode,
} from './helpers/fleet.js';
import { send } from './helpers/http.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { waitFor } from './helpers/wait.js';

let etcd: EtcdCluster;
let proxies: CuttableProxy[];
let a: FleetNode;
let b: FleetNode;
let warm: Origin;

const services = { warm: { endpoints: [] }, app: { endpoints: [] } };
const routes = [
  { name: 'warm', match: { path: { prefix: '/warm' } }, service: 'warm' },
  { name: 'app', match: { path: { prefix: '/' } }, service: 'app' },
];

before(async () => {
  etcd = await startEtcdCluster();
  // Node A reaches etcd only through relays the test can cut; node B directly.
  proxies = await Promise.all(etcd.endpoints.map((url) => startCuttableProxy(url)));
  const prefix = uniquePrefix('resync');
  [a, b] = await Promise.all([
    startFleetNode('lb-a', { endpoints: proxies.map((p) => p.url), prefix, services, routes }),
    startFleetNode('lb-b', { endpoints: etcd.endpoints, prefix, services, routes }),
  ]);
  // The origin answers with the client port of the connection the request came on: the same port means the same
  // pooled connection.
  warm = await startOrigin('warm', (req, res) => {
    req.resume();
    res.end(String(req.socket.remotePort));
  });
});
after(async () => {
  if (process.env.FLEET_DEBUG) console.log(a?.logs.filter((l) => !l.includes('"audit"')).join('\n'));
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await Promise.all((proxies ?? []).map((p) => p.close()));
  await warm?.close();
  await etcd?.close();
});

const ids = async (node: FleetNode, service: string): Promise<string[]> =>
  ((await node.api('GET', `/api/services/${service}`)).json as { endpoints: { id: string }[] }).endpoints.map(
    (e) => e.id,
  );

test('a node cut off while the store is compacted re-lists and applies only the difference; its pools stay warm', async () => {
  assert.equal(
    (await b.api('POST', '/api/services/warm/endpoints', { body: { id: 'warm', url: warm.url, ttlSeconds: 60 } }))
      .status,
    201,
  );
  await waitFor(async () => (await ids(a, 'warm')).includes('warm'), 5_000, 'warm on A');
  const before = await send(a.url('/warm'));
  assert.equal(before.status, 200);
  const connection = before.body;

  const events = await followEvents(a);
  for (const proxy of proxies) proxy.cut();
  await waitFor(async () => (await metricValue(a, 'switchyard_registry_up')) === 0, 10_000, 'A sees etcd gone');
  // While A is away: one endpoint joins for good, one joins and leaves (A never needs to hear of it), and the history
  // A would resume from is compacted away.
  for (const [id, port] of [
    ['stays', 22_001],
    ['passes', 22_002],
  ] as const) {
    const reply = await b.api('POST', '/api/services/app/endpoints', {
      body: { id, url: `http://127.0.0.1:${port}`, ttlSeconds: 60 },
    });
    assert.equal(reply.status, 201);
  }
  assert.equal((await b.api('DELETE', '/api/services/app/endpoints/passes')).status, 204);
  await etcd.compact();
  // Served from the last state seen while cut off.
  assert.equal((await send(a.url('/warm'))).status, 200);

  for (const proxy of proxies) proxy.restore();
  await waitFor(
    async () => ((await metricValue(a, 'switchyard_registry_resyncs_total', 'reason="compacted"')) ?? 0) >= 1,
    15_000,
    'A re-listed after the compaction',
    100,
  );
  await waitFor(async () => (await ids(a, 'app')).includes('stays'), 5_000, 'stays on A');
  assert.deepEqual((await ids(a, 'app')).sort(), ['stays']);
  assert.equal(await metricValue(a, 'switchyard_registry_up'), 1);

  // Only the difference: one endpoint added, nothing of the unchanged one removed and added again.
  const membership = events.seen
    .map((e) => e.event)
    .filter((e) => e['type'] === 'endpoint-added' || e['type'] === 'endpoint-removed')
    .map((e) => `${String(e['type'])} ${String(e['endpoint'])}`);
  events.close();
  assert.deepEqual(membership, ['endpoint-added stays']);
  const afterResync = await send(a.url('/warm'));
  assert.equal(afterResync.body, connection, 'the request went over the same pooled connection');
});

test('after etcd restarts, a node resumes its watch from its revision and hears changes again', async () => {
  await etcd.stopAll();
  await waitFor(async () => (await metricValue(b, 'switchyard_registry_up')) === 0, 10_000, 'B sees etcd gone');
  const resumedBefore = (await metricValue(b, 'switchyard_registry_resyncs_total', 'reason="reconnected"')) ?? 0;
  await etcd.startAll();
  await waitFor(async () => (await metricValue(b, 'switchyard_registry_up')) === 1, 20_000, 'B sees etcd back', 100);
  assert.ok(((await metricValue(b, 'switchyard_registry_resyncs_total', 'reason="reconnected"')) ?? 0) > resumedBefore);
  // The registration API works again and the change reaches the other node.
  const reply = await waitFor(
    async () => {
      const r = await a.api('POST', '/api/services/app/endpoints', {
        body: { id: 'after-restart', url: 'http://127.0.0.1:22003', ttlSeconds: 60 },
      });
      return r.status === 201 ? r : undefined;
    },
    20_000,
    'a registration after the restart',
    200,
  );
  assert.equal(reply.status, 201);
  await waitFor(async () => (await ids(b, 'app')).includes('after-restart'), 5_000, 'after-restart on B');
});
