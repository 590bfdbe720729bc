import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdAcmeFleet } from '../../src/control/acme/acme-fleet.js';
import { createSwitchyard } from '../../src/main.js';
import { callApi, capturedLogger } from './helpers/admin.js';
import { servedCertificate, startAcmeBalancer } from './helpers/acme-balancer.js';
import { startEtcdCluster } from './helpers/etcd.js';
import { startPebble } from './helpers/pebble.js';
import { freePort } from './helpers/ports.js';
import { waitFor } from './helpers/wait.js';

const fleetKey = 'a passphrase every node of this fleet shares';
const prefix = '/switchyard/acme-test/';

/**
 * One node of the fleet: its own storage, http and https listeners, and admin API; the ACME fleet on the test's
 * etcd (what `registry.store: etcd` builds from the registry settings).
 */
async function startNode(
  t: TestContext,
  name: string,
  ports: { http: number; https: number },
  pebble: { directory: string; directoryCa: string },
  endpoints: readonly string[],
) {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-acme-${name}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const captured = capturedLogger();
  const client = new Etcd3({ hosts: [...endpoints] });
  const fleet = new EtcdAcmeFleet(client, prefix, fleetKey, captured.logger, true);
  const lb = await createSwitchyard(
    {
      admin: { address: '127.0.0.1:0' },
      registry: { store: 'memory' },
      acme: {
        directory: pebble.directory,
        directoryCa: pebble.directoryCa,
        agreeToTerms: true,
        storage: dir,
        fleetKey,
      },
      listeners: [
        { name: 'web', protocol: 'http', address: `127.0.0.1:${ports.http}` },
        {
          name: 'websecure',
          protocol: 'https',
          address: `127.0.0.1:${ports.https}`,
          tls: { acme: { domains: ['fleet.acme.test'] } },
        },
      ],
      routes: [{ match: {}, respond: { status: 200, body: name } }],
    },
    { logger: captured.logger, acmeFleet: fleet },
  );
  t.after(() => lb.close(1_000));
  const admin = `http://127.0.0.1:${lb.address('admin').port}`;
  return { lb, admin, logs: captured.lines, https: ports.https };
}

test('on an etcd fleet one node orders, every node serves the certificate (its key encrypted in etcd), and a node that did not order answers the challenge', async (t) => {
  const etcd = await startEtcdCluster({ size: 1 });
  t.after(() => etcd.close());
  const [httpA, httpsA, httpB, httpsB] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // The CA validates against node A only, as a DNS name points at one node of a fleet.
  const pebble = await startPebble({ httpPort: httpA, tlsPort: httpsA });
  t.after(() => pebble.close());
  const [a, b] = await Promise.all([
    startNode(t, 'a', { http: httpA, https: httpsA }, pebble, etcd.endpoints),
    startNode(t, 'b', { http: httpB, https: httpsB }, pebble, etcd.endpoints),
  ]);
  const root = await pebble.root();
  const [certA, certB] = await Promise.all(
    [a, b].map((node) =>
      waitFor(() => servedCertificate(node.https, 'fleet.acme.test', root), 60_000, 'an issued certificate', 200),
    ),
  );
  assert.equal(certA!.serialNumber, certB!.serialNumber);
  const issued = [a, b].flatMap((n) => n.logs().filter((l) => l['msg'] === 'ACME certificate issued and served'));
  assert.equal(issued.length, 1, 'one order for the fleet');
  // In etcd: the chain and an AES-GCM-sealed key, never a PEM private key.
  const stored = await etcd.etcdctl(['get', '--prefix', `${prefix}acme/certificates/`]);
  assert.match(stored, /BEGIN CERTIFICATE/);
  assert.match(stored, /aes-256-gcm/);
  assert.doesNotMatch(stored, /PRIVATE KEY/);

  // B renews (the API): the CA validates at A, which answers B's token from etcd; A then serves B's new certificate.
  const states = (await callApi(b.admin, 'GET', '/api/acme', { token: null })).json as {
    certificates: { id: string }[];
  };
  const id = states.certificates[0]!.id;
  assert.equal((await callApi(b.admin, 'POST', `/api/acme/certificates/${id}/renew`, { token: null })).status, 202);
  const renewed = await waitFor(
    async () => {
      const cert = await servedCertificate(a.https, 'fleet.acme.test', root);
      return cert.serialNumber !== certA!.serialNumber && cert;
    },
    60_000,
    'node A serving the certificate B renewed',
    200,
  );
  assert.equal((await servedCertificate(b.https, 'fleet.acme.test', root)).serialNumber, renewed.serialNumber);
  assert.ok(a.logs().some((l) => l['msg'] === 'serving the certificate another node obtained'));
});

test('registry.store etcd in the config file is all it takes: two switchyard processes share one certificate', async (t) => {
  const etcd = await startEtcdCluster({ size: 1 });
  t.after(() => etcd.close());
  const [httpA, httpsA, httpB, httpsB] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const pebble = await startPebble({ httpPort: httpA, tlsPort: httpsA });
  t.after(() => pebble.close());
  const node = async (name: string, http: number, https: number) => {
    const dir = await mkdtemp(join(tmpdir(), `switchyard-acme-cli-${name}-`));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const lb = await startAcmeBalancer({
      node: { name },
      registry: { store: 'etcd', etcd: { endpoints: etcd.endpoints, prefix: '/switchyard/acme-cli/' } },
      acme: {
        directory: pebble.directory,
        directoryCa: pebble.directoryCa,
        agreeToTerms: true,
        storage: dir,
        fleetKey,
      },
      listeners: [
        { name: 'web', protocol: 'http', address: `127.0.0.1:${http}` },
        {
          name: 'websecure',
          protocol: 'https',
          address: `127.0.0.1:${https}`,
          tls: { acme: { domains: ['cli.acme.test'] } },
        },
      ],
      routes: [{ match: {}, respond: { status: 200, body: name } }],
    });
    t.after(() => lb.stop());
    return lb;
  };
  const [a, b] = await Promise.all([node('a', httpA, httpsA), node('b', httpB, httpsB)]);
  const root = await pebble.root();
  const [certA, certB] = await Promise.all(
    [httpsA, httpsB].map((port) =>
      waitFor(() => servedCertificate(port, 'cli.acme.test', root), 60_000, 'an issued certificate', 200),
    ),
  );
  assert.equal(certA!.serialNumber, certB!.serialNumber);
  const orders = [a, b].flatMap((lb) => lb.logs.filter((l) => l.msg === 'ACME certificate issued and served'));
  assert.equal(orders.length, 1);
  assert.doesNotMatch(await etcd.etcdctl(['get', '--prefix', '/switchyard/acme-cli/']), /PRIVATE KEY/);
  // The registry store's watch on the same prefix read the ACME keys without complaint.
  for (const lb of [a, b]) assert.ok(!lb.logs.some((l) => l.msg === 'etcd key with a value that is not JSON: ignored'));
});
