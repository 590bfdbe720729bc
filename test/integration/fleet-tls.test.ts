import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestCa, type TestCa } from './helpers/certs.js';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { fleetConfig, startFleetNode, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { runCli } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

let ca: TestCa;
let etcd: EtcdCluster;
let files: { certFile: string; keyFile: string };
let node: FleetNode | undefined;
const prefix = uniquePrefix('tls');

before(async () => {
  ca = await createTestCa('Switchyard etcd test CA');
  // One certificate for the members and the node's client identity (its extended key usage allows both).
  files = await ca.issue(['127.0.0.1', 'localhost'], 'etcd');
  etcd = await startEtcdCluster({
    size: 1,
    tls: { certFile: files.certFile, keyFile: files.keyFile, caFile: ca.certFile, clientCert: true },
  });
});
after(async () => {
  await node?.stop('SIGKILL');
  await etcd?.close();
  await ca?.remove();
});

test('a node reaches an etcd that requires TLS client certificates', async () => {
  assert.match(etcd.endpoints[0]!, /^https:/);
  node = await startFleetNode('lb-tls', {
    endpoints: etcd.endpoints,
    prefix,
    etcd: { tls: { ca: ca.certFile, cert: files.certFile, key: files.keyFile } },
  });
  const reply = await node.api('POST', '/api/services/app/endpoints', {
    body: { id: 'tls-1', url: 'http://127.0.0.1:24000', ttlSeconds: 30 },
  });
  assert.equal(reply.status, 201, reply.body);
  const stored = await etcd.etcdctl(['get', `${prefix}registrations/app/tls-1`, '--print-value-only']);
  assert.equal((JSON.parse(stored) as { url: string }).url, 'http://127.0.0.1:24000');
  await waitFor(
    async () => ((await node!.api('GET', '/api/nodes')).json as { registry: { up: boolean } }).registry.up,
    5_000,
    'the store up',
  );
});

test('without a client certificate the node does not start, and says it cannot reach etcd', async () => {
  const file = join(ca.dir, 'no-client-cert.yaml');
  const config = fleetConfig('lb-anonymous', 1, 2, {
    endpoints: etcd.endpoints,
    prefix,
    etcd: { tls: { ca: ca.certFile } },
  });
  await writeFile(file, JSON.stringify({ ...config, admin: { enabled: false } }));
  const started = await runCli(['start', '-c', file]);
  assert.equal(started.code, 1);
  assert.match(started.stderr + started.stdout, /cannot start: the registry store cannot be reached/);
});
