import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { followEvents, percentile, startFleetNode, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { waitFor } from './helpers/wait.js';

let etcd: EtcdCluster;
let a: FleetNode;
let b: FleetNode;

before(async () => {
  etcd = await startEtcdCluster();
  const prefix = uniquePrefix('convergence');
  [a, b] = await Promise.all([
    startFleetNode('lb-a', { endpoints: etcd.endpoints, prefix }),
    startFleetNode('lb-b', { endpoints: etcd.endpoints, prefix }),
  ]);
});
after(async () => {
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await etcd?.close();
});

const endpointIds = async (node: FleetNode): Promise<string[]> =>
  ((await node.api('GET', '/api/services/app')).json as { endpoints: { id: string }[] }).endpoints.map((e) => e.id);

test('a change made through node A takes effect on node B quickly (p50/p99 over 200 changes)', async () => {
  const events = await followEvents(b);
  const latencies: number[] = [];
  const kinds = { register: 0, weight: 0, drain: 0, deregister: 0 };
  for (let i = 0; i < 200; i++) {
    const id = `ep-${i % 20}`;
    const step = Math.floor(i / 20) % 4;
    const started = performance.now();
    let waiting;
    if (step === 0) {
      waiting = events.next((e) => e['type'] === 'endpoint-added' && e['endpoint'] === id);
      const reply = await a.api('POST', '/api/services/app/endpoints', {
        body: { id, url: `http://127.0.0.1:${20_000 + (i % 20)}`, ttlSeconds: 30 },
      });
      assert.equal(reply.status, 201, reply.body);
      kinds.register++;
    } else if (step === 1) {
      waiting = events.next((e) => e['type'] === 'weight' && e['endpoint'] === id);
      assert.equal(
        (await a.api('PUT', `/api/services/app/endpoints/${id}/weight`, { body: { weight: 5 } })).status,
        200,
      );
      kinds.weight++;
    } else if (step === 2) {
      waiting = events.next((e) => e['type'] === 'state' && e['endpoint'] === id && e['to'] === 'drain');
      const reply = await a.api('PUT', `/api/services/app/endpoints/${id}/state`, { body: { state: 'drain' } });
      assert.equal(reply.status, 200);
      kinds.drain++;
    } else {
      waiting = events.next((e) => e['type'] === 'endpoint-removed' && e['endpoint'] === id);
      assert.equal((await a.api('DELETE', `/api/services/app/endpoints/${id}`)).status, 204);
      kinds.deregister++;
    }
    const { receivedAt } = await waiting;
    latencies.push(receivedAt - started);
  }
  events.close();
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(
    `# convergence A -> B over ${latencies.length} changes (${JSON.stringify(kinds)}): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
  );
  // The target (p99 <= 100 ms on an idle loopback) is for the note; a loaded CI machine gets room.
  assert.ok(p99 < 2_000, `p99 ${p99} ms`);
});

test('an expired lease removes the endpoint from every node within TTL + 1 s, and a heartbeat to any node renews it', async () => {
  const ttlSeconds = 2;
  // Kept alive by heartbeats sent to B although it registered through A.
  assert.equal(
    (
      await a.api('POST', '/api/services/app/endpoints', {
        body: { id: 'kept', url: 'http://127.0.0.1:21001', ttlSeconds },
      })
    ).status,
    201,
  );
  const registered = Date.now();
  const reply = await a.api('POST', '/api/services/app/endpoints', {
    body: { id: 'lapsing', url: 'http://127.0.0.1:21000', ttlSeconds },
  });
  assert.equal(reply.status, 201);
  const expiresAt = Date.now() + ttlSeconds * 1000;
  await waitFor(async () => (await endpointIds(b)).includes('lapsing'), 5_000, 'the registration on B');
  const beating = setInterval(() => void b.api('PUT', '/api/services/app/endpoints/kept/heartbeat', { body: {} }), 500);
  try {
    const gone = await Promise.all(
      [a, b].map(async (node) => {
        await waitFor(
          async () => !(await endpointIds(node)).includes('lapsing'),
          10_000,
          `lapsing gone on ${node.name}`,
          20,
        );
        return Date.now() - expiresAt;
      }),
    );
    console.log(`# lease expiry (TTL ${ttlSeconds} s) to removal: ${gone.map((ms) => `${ms} ms`).join(', ')} (A, B)`);
    // The aim is TTL + 1 s (measured: well under it); a loaded CI machine gets another 1.5 s.
    for (const ms of gone) assert.ok(ms <= 1_000 + 1_500, `removed ${ms} ms after the lease ended`);
    assert.ok(Date.now() - registered > ttlSeconds * 1000);
    for (const node of [a, b]) assert.ok((await endpointIds(node)).includes('kept'), `kept is still on ${node.name}`);
  } finally {
    clearInterval(beating);
  }
});
