import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { startFleetNode, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { waitFor } from './helpers/wait.js';

// `workers: 2` with `registry.store: etcd`: the primary owns the control plane and the one etcd watch, the workers
// get snapshots. Node A runs two workers; node B (one process) takes the API calls, so A learns them from etcd.

let etcd: EtcdCluster;
let a: FleetNode;
let b: FleetNode;
let origins: Origin[];

const services = {
  app: { endpoints: [], slowStartMs: 0, healthCheck: { http: { path: '/health' }, intervalMs: 200, rise: 1, fall: 2 } },
};

before(async () => {
  etcd = await startEtcdCluster({ size: 1 });
  const prefix = uniquePrefix('workers');
  origins = await Promise.all(['o1', 'o2'].map((name) => startOrigin(name)));
  [a, b] = await Promise.all([
    startFleetNode('lb-a', { endpoints: etcd.endpoints, prefix, services, top: { workers: 2 } }),
    startFleetNode('lb-b', { endpoints: etcd.endpoints, prefix, services }),
  ]);
});
after(async () => {
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await Promise.all((origins ?? []).map((o) => o.close()));
  await etcd?.close();
});

/** One GET on a fresh connection (`Connection: close`: cluster's round-robin spreads connections over workers). */
function get(port: number): Promise<{ status: number; origin: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, origin: res.headers['x-origin'] as string }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

interface WorkerJson {
  readonly pid: number;
  readonly requests: number;
}
const workersOf = async (node: FleetNode): Promise<WorkerJson[]> =>
  ((await node.api('GET', '/api/overview')).json as { workers: WorkerJson[] }).workers;

test('with workers: 2 and etcd, registrations through another node reach both workers, traffic spreads, and a drain through that node applies on every worker', async () => {
  for (const origin of origins) {
    const reply = await b.api('POST', '/api/services/app/endpoints', {
      body: { id: origin.name, url: origin.url, ttlSeconds: 30 },
    });
    assert.equal(reply.status, 201, reply.body);
  }
  // Both workers answer from both origins: every worker got the snapshot with the registrations A heard from etcd.
  const seen = new Map<string, number>();
  await waitFor(
    async () => {
      const reply = await get(a.webPort);
      if (reply.status === 200 && reply.origin !== undefined) seen.set(reply.origin, (seen.get(reply.origin) ?? 0) + 1);
      return seen.size === 2;
    },
    20_000,
    'A serving from both origins',
    20,
  );
  for (let i = 0; i < 40; i++) {
    const reply = await get(a.webPort);
    assert.equal(reply.status, 200);
    seen.set(reply.origin!, (seen.get(reply.origin!) ?? 0) + 1);
  }
  const workers = await waitFor(
    async () => {
      const list = await workersOf(a);
      return list.length === 2 && list.every((w) => w.requests > 0) && list;
    },
    10_000,
    'both workers of A serving',
  );
  assert.equal(new Set(workers.map((w) => w.pid)).size, 2);
  assert.ok(!workers.some((w) => w.pid === a.child.pid), 'the workers are not the primary');
  assert.ok((seen.get('o1') ?? 0) > 5 && (seen.get('o2') ?? 0) > 5, `spread: ${JSON.stringify([...seen])}`);

  // A drain through B: etcd, A's watch in the primary, a snapshot to each worker.
  const drainedAt = performance.now();
  assert.equal((await b.api('PUT', '/api/services/app/endpoints/o1/state', { body: { state: 'drain' } })).status, 200);
  let clean = 0;
  await waitFor(
    async () => {
      const reply = await get(a.webPort);
      assert.equal(reply.status, 200);
      clean = reply.origin === 'o2' ? clean + 1 : 0;
      // Twenty fresh connections in a row (spread over both workers) reach o2 only.
      return clean >= 20;
    },
    10_000,
    'the drain applied on every worker of A',
    5,
  );
  const appliedMs = performance.now() - drainedAt;
  const after = await workersOf(a);
  assert.equal(after.length, 2);
  console.log(
    `# workers: 2 on etcd: spread ${JSON.stringify(Object.fromEntries(seen))} over workers ${JSON.stringify(after.map((w) => w.requests))}; drain through B applied on A's workers within ${Math.round(appliedMs)} ms (20 clean requests included)`,
  );
  // The primary's admin API writes to etcd too: a heartbeat through A renews a lease B granted.
  assert.equal((await a.api('PUT', '/api/services/app/endpoints/o2/heartbeat', { body: {} })).status, 200);
  // The primary's view agrees.
  const { endpoints } = (await a.api('GET', '/api/services/app')).json as {
    endpoints: { id: string; state: string }[];
  };
  assert.deepEqual(endpoints.map((e) => `${e.id}:${e.state}`).sort(), ['o1:drain', 'o2:ready']);
});
