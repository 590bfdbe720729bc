import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createEtcdClient } from '../../src/control/registry/etcd-client.js';
import { pushSharedConfig } from '../../src/cli/push.js';
import { etcdSchema } from '../../src/config/registry-schema.js';
import { adminToken } from './helpers/admin.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { fleetConfig, startFleetNode, startLoad, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { bodyOf } from './helpers/http.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { runCli } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

const user = { user: 'switchyard', password: 'etcd-password-of-the-fleet', prefix: '/switchyard-test/' };
const stickinessSecret = 'stickiness-secret-never-in-etcd';
const readToken = 'read-token-never-in-etcd';
let etcd: EtcdCluster;
let dir: string;
let prefix: string;
let a: FleetNode;
let b: FleetNode;
let fileOrigin: Origin;
let sharedOrigin: Origin;

const etcdKeys = (): Record<string, unknown> => ({
  username: user.user,
  password: '${ETCD_PASSWORD}',
  sharedConfig: true,
});
const env = { ETCD_PASSWORD: user.password };

before(async () => {
  etcd = await startEtcdCluster({ auth: user });
  dir = await mkdtemp(join(tmpdir(), 'switchyard-push-'));
  prefix = uniquePrefix('config');
  [fileOrigin, sharedOrigin] = await Promise.all([startOrigin('from-file'), startOrigin('shared')]);
  const common = {
    endpoints: etcd.endpoints,
    prefix,
    etcd: etcdKeys(),
    env,
    readToken,
    services: { app: { endpoints: [{ url: fileOrigin.url }] } },
    top: { stickinessSecrets: [{ id: 'k1', secret: stickinessSecret }] },
  };
  const extra = { name: 'extra', protocol: 'http', address: '127.0.0.1:0' };
  [a, b] = await Promise.all([
    startFleetNode('lb-a', { ...common, listeners: [extra] }),
    startFleetNode('lb-b', common),
  ]);
});
after(async () => {
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
  await Promise.all([fileOrigin?.close(), sharedOrigin?.close()]);
  await etcd?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Writes a file for `switchyard push` with these routes and services (listeners web and extra). */
async function pushFile(name: string, routes: unknown[], services: Record<string, unknown>): Promise<string> {
  const config = {
    ...fleetConfig('pusher', 1, 2, { endpoints: etcd.endpoints, prefix, etcd: etcdKeys(), routes, services }),
    listeners: [
      { name: 'web', protocol: 'http', address: '127.0.0.1:0' },
      { name: 'extra', protocol: 'http', address: '127.0.0.1:0' },
    ],
  };
  const file = join(dir, name);
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

interface NodesBody {
  nodes: {
    name: string;
    configHash: string;
    sharedConfigRevision: number | null;
    refused: { revision: number; problems: string[] } | null;
  }[];
}
const nodesOf = async (node: FleetNode) => ((await node.api('GET', '/api/nodes')).json as NodesBody).nodes;

test('switchyard push stores routes and services with a compare-and-swap; every node applies them as a hot reload', async () => {
  // The web listener's port is the node's own (the file may say 0): only routes and services are shared.
  assert.equal(await bodyOf(a.url('/')), 'from-file');
  const file = await pushFile(
    'shared.yaml',
    [{ name: 'shared', match: { path: { prefix: '/' } }, service: 'shared' }],
    {
      shared: { endpoints: [{ url: sharedOrigin.url }] },
    },
  );
  const load = startLoad([a.url('/'), b.url('/')], 2);
  const pushed = await runCli(['push', '-c', file], env);
  assert.equal(pushed.code, 0, pushed.stderr);
  const revision = Number(/revision (\d+)/.exec(pushed.stdout)?.[1]);
  assert.ok(revision > 0, pushed.stdout);
  for (const node of [a, b])
    await waitFor(async () => (await bodyOf(node.url('/'))) === 'shared', 10_000, `shared on ${node.name}`);
  const result = await load.stop();
  assert.deepEqual(result.failures, [], 'the reload dropped nothing');
  const nodes = await nodesOf(a);
  assert.deepEqual(
    nodes.map((n) => [n.name, n.sharedConfigRevision, n.refused]),
    [
      ['lb-a', revision, null],
      ['lb-b', revision, null],
    ],
  );
  assert.equal(new Set(nodes.map((n) => n.configHash)).size, 1);

  // A push from a stale read loses the compare-and-swap.
  const client = createEtcdClient(
    etcdSchema.parse({ endpoints: etcd.endpoints, prefix, username: user.user, password: user.password }),
  );
  try {
    const stale = await pushSharedConfig(client, prefix, { routes: [], services: {} }, revision - 1);
    assert.deepEqual(stale, { ok: false, currentRevision: revision });
  } finally {
    client.close();
  }
});

test('an invalid file is not pushed, and a revision a node cannot apply is refused by that node only', async () => {
  const before = await nodesOf(a);
  const invalid = await pushFile(
    'invalid.yaml',
    [{ name: 'r', match: { path: { prefix: '/' } }, service: 'missing' }],
    {},
  );
  const refused = await runCli(['push', '-c', invalid], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /invalid\.yaml:\d+:\d+ routes\.0\.service: /);
  assert.match(refused.stderr, /nothing was pushed/);

  // Node B has no listener "extra": it refuses, keeps what it runs, and says so in the nodes view.
  const inapplicable = await pushFile(
    'extra-only.yaml',
    [
      { name: 'extra', listeners: ['extra'], match: { path: { prefix: '/' } }, service: 'shared' },
      { name: 'web', listeners: ['web'], match: { path: { prefix: '/' } }, service: 'shared' },
    ],
    { shared: { endpoints: [{ url: sharedOrigin.url }] } },
  );
  const pushed = await runCli(['push', '-c', inapplicable], env);
  assert.equal(pushed.code, 0, pushed.stderr);
  const revision = Number(/revision (\d+)/.exec(pushed.stdout)?.[1]);
  assert.notEqual(revision, before[0]?.sharedConfigRevision);
  const nodes = await waitFor(
    async () => {
      const list = await nodesOf(a);
      return list.find((n) => n.name === 'lb-b')?.refused?.revision === revision &&
        list.find((n) => n.name === 'lb-a')?.sharedConfigRevision === revision
        ? list
        : undefined;
    },
    10_000,
    'lb-b refused, lb-a applied',
  );
  const lbB = nodes.find((n) => n.name === 'lb-b')!;
  assert.equal(lbB.sharedConfigRevision, before[0]?.sharedConfigRevision, 'lb-b runs the previous revision');
  assert.match(lbB.refused!.problems.join('\n'), /extra/);
  assert.equal(await bodyOf(b.url('/')), 'shared', 'lb-b still serves');
  const status = await runCli(['status', '--fleet', '--admin', a.adminBase, '--token', adminToken]);
  assert.match(status.stdout, new RegExp(`lb-b .*revision ${revision}: .*extra`));
  assert.match(status.stdout, /CONFIG DIFFERS/);
});

test('nothing secret is written to etcd: no admin API token, stickiness secret or etcd password', async () => {
  // A registration through one node and its heartbeat through the other, as the etcd user (the lease renewal stream
  // authenticates too).
  const registered = await a.api('POST', '/api/services/shared/endpoints', {
    body: { id: 'leased', url: 'http://127.0.0.1:25000', ttlSeconds: 30, metadata: { zone: 'a' } },
  });
  assert.equal(registered.status, 201, registered.body);
  await waitFor(
    async () => (await b.api('PUT', '/api/services/shared/endpoints/leased/heartbeat', { body: {} })).status === 200,
    5_000,
    'a heartbeat through lb-b',
  );
  const dump = await etcd.etcdctl(['get', prefix, '--prefix']);
  assert.match(dump, /registrations|nodes\/lb-a/);
  for (const secret of [readToken, stickinessSecret, user.password]) assert.ok(!dump.includes(secret), secret);
  assert.doesNotMatch(dump, /"tokens"|"stickinessSecrets"|"password"/);
});

test('a node with a wrong etcd password does not start, and says why', async () => {
  const file = join(dir, 'wrong.yaml');
  const config = fleetConfig('lb-wrong', 1, 2, { endpoints: etcd.endpoints, prefix, etcd: etcdKeys() });
  await writeFile(file, JSON.stringify({ ...config, admin: { enabled: false } }));
  const started = await runCli(['start', '-c', file], { ETCD_PASSWORD: 'not-the-password' });
  assert.equal(started.code, 1);
  assert.match(started.stderr + started.stdout, /cannot start: the registry store cannot be reached: .*auth/i);
});
