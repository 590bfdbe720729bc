import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminToken } from './helpers/admin.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { metricValue, startFleetNode, startLoad, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { send } from './helpers/http.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { runCli } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';

let etcd: EtcdCluster;
let nodes: FleetNode[];
let origins: Origin[];

const services = {
  app: { endpoints: [], stickiness: { cookie: { name: 'sy_sticky', ttl: '1h' } } },
  hashed: { endpoints: [], algorithm: 'consistent-hash', balancing: { hashKey: { source: 'header', name: 'x-user' } } },
};
const routes = [
  { name: 'hashed', match: { path: { prefix: '/hashed' } }, service: 'hashed' },
  { name: 'app', match: { path: { prefix: '/' } }, service: 'app' },
];
// Every node signs stickiness keys with the same secret, so any node honours the others' keys.
const top = { stickinessSecrets: [{ id: 'k1', secret: 'a-shared-secret-of-the-fleet' }] };

before(async () => {
  etcd = await startEtcdCluster();
  const prefix = uniquePrefix('nodes');
  origins = await Promise.all(['o1', 'o2', 'o3'].map((name) => startOrigin(name)));
  nodes = await Promise.all(
    ['lb-a', 'lb-b', 'lb-c'].map((name) =>
      startFleetNode(name, { endpoints: etcd.endpoints, prefix, services, routes, top }),
    ),
  );
  for (const service of ['app', 'hashed']) {
    for (const origin of origins) {
      const reply = await nodes[0]!.api('POST', `/api/services/${service}/endpoints`, {
        body: { id: origin.name, url: origin.url, ttlSeconds: 120 },
      });
      assert.equal(reply.status, 201);
    }
  }
  for (const node of nodes) {
    await waitFor(
      async () =>
        ((await node.api('GET', '/api/services/hashed')).json as { endpoints: unknown[] }).endpoints.length === 3,
      10_000,
      `3 endpoints on ${node.name}`,
    );
  }
});
after(async () => {
  await Promise.all((nodes ?? []).map((n) => n.stop('SIGKILL')));
  await Promise.all((origins ?? []).map((o) => o.close()));
  await etcd?.close();
});

interface NodesBody {
  registry: { up: boolean; revision: number };
  nodes: {
    name: string;
    version: string;
    configHash: string;
    revision: number;
    behind: boolean;
    self: boolean;
    adminAddress: string;
  }[];
}

test('every node lists the whole fleet with version, config hash and registry revision; status --fleet shows it', async () => {
  const [a, b] = nodes as [FleetNode, FleetNode];
  const body = await waitFor(
    async () => {
      const reply = (await b.api('GET', '/api/nodes')).json as NodesBody;
      return reply.nodes.length === 3 && reply.nodes.every((n) => !n.behind) ? reply : undefined;
    },
    10_000,
    'three nodes, none behind',
  );
  assert.deepEqual(
    body.nodes.map((n) => [n.name, n.self]),
    [
      ['lb-b', true],
      ['lb-a', false],
      ['lb-c', false],
    ],
  );
  assert.equal(new Set(body.nodes.map((n) => n.configHash)).size, 1, 'the same routes and services everywhere');
  assert.ok(body.nodes.every((n) => n.revision > 0 && n.version !== ''));
  assert.equal(body.nodes.find((n) => n.name === 'lb-a')?.adminAddress, new URL(a.adminBase).host);
  assert.equal(await metricValue(b, 'switchyard_fleet_nodes'), 3);

  const status = await runCli(['status', '--fleet', '--admin', b.adminBase, '--token', adminToken]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^Fleet seen from .*: 3 nodes, etcd reachable, revision \d+/);
  for (const name of ['*lb-b', ' lb-a', ' lb-c'])
    assert.match(status.stdout, new RegExp(`^${name.replace('*', '\\*')} `, 'm'));
  assert.doesNotMatch(status.stdout, /behind|DIFFERS|DOWN/);
});

test('a stickiness key issued by one node is honoured by every other, and hashing picks the same endpoint everywhere', async () => {
  const first = await send(nodes[0]!.url('/'));
  const key = first.headers['x-sticky-key'];
  assert.equal(typeof key, 'string');
  for (const node of nodes) {
    for (let i = 0; i < 5; i++) {
      const reply = await send(node.url('/'), { headers: { 'x-sticky-key': String(key) } });
      assert.equal(reply.body, first.body, `${node.name} sent the sticky client elsewhere`);
    }
  }
  for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
    const answers = await Promise.all(
      nodes.map(async (node) => (await send(node.url('/hashed'), { headers: { 'x-user': user } })).body),
    );
    assert.equal(new Set(answers).size, 1, `${user} went to ${answers.join(', ')}`);
  }
});

test('kill -9 of one of three nodes under load: the others lose nothing, and it leaves the list within its lease', async () => {
  const [a, b, c] = nodes as [FleetNode, FleetNode, FleetNode];
  const load = startLoad([b.url('/'), c.url('/'), b.url('/hashed'), c.url('/hashed')]);
  await sleep(500);
  const killed = Date.now();
  await a.stop('SIGKILL');
  await sleep(1_500);
  const result = await load.stop();
  console.log(
    `# one of three nodes killed under load: ${result.ok} requests answered by the others, ${result.failures.length} failed`,
  );
  assert.deepEqual(result.failures, []);
  assert.ok(result.ok > 50, `only ${result.ok} requests`);
  await waitFor(
    async () => !((await b.api('GET', '/api/nodes')).json as NodesBody).nodes.some((n) => n.name === 'lb-a'),
    15_000,
    'lb-a gone from the list',
    100,
  );
  const goneAfterMs = Date.now() - killed;
  console.log(`# a killed node left the nodes list ${goneAfterMs} ms after kill -9 (lease 5 s)`);
  assert.ok(goneAfterMs < 5_000 + 1_000 + 3_000, `${goneAfterMs} ms`);
  // Its registrations stay (they belong to the instances, not to the node that took them).
  assert.equal(((await b.api('GET', '/api/services/app')).json as { endpoints: unknown[] }).endpoints.length, 3);
});
