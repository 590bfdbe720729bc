import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { test, type TestContext } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { callApi } from './helpers/admin.js';
import {
  isSelfSigned,
  servedCertificate,
  startAcmeBalancer,
  waitForIssued,
  type AcmeBalancer,
} from './helpers/acme-balancer.js';
import { send } from './helpers/http.js';
import { startPebble, type Pebble, type PebbleOptions } from './helpers/pebble.js';
import { freePort } from './helpers/ports.js';
import { waitFor } from './helpers/wait.js';
import { createSwitchyard } from '../../src/main.js';

const domains = ['www.acme.test', 'acme.test'];

async function pebbleFor(t: TestContext, options: PebbleOptions): Promise<Pebble> {
  const pebble = await startPebble(options);
  t.after(() => pebble.close());
  return pebble;
}

async function storageDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-acme-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'acme');
}

/** A balancer with an http listener (HTTP-01) and an https listener with `tls.acme`, answering 200 "routed". */
async function balancerFor(
  t: TestContext,
  pebble: { directory: string; directoryCa: string },
  ports: { http?: number; https: number },
  storage: string,
  acme: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Promise<AcmeBalancer> {
  const listeners: Record<string, unknown>[] = [
    { name: 'websecure', protocol: 'https', address: `127.0.0.1:${ports.https}`, tls: { acme: { domains } } },
  ];
  if (ports.http !== undefined)
    listeners.unshift({ name: 'web', protocol: 'http', address: `127.0.0.1:${ports.http}` });
  const lb = await startAcmeBalancer({
    acme: {
      directory: pebble.directory,
      directoryCa: pebble.directoryCa,
      email: 'ops@example.com',
      agreeToTerms: true,
      storage,
      backoff: { minMs: 500, maxMs: 2_000 },
      ...acme,
    },
    listeners,
    routes: [{ match: {}, respond: { status: 200, body: 'routed' } }],
    ...top,
  });
  t.after(() => lb.stop());
  return lb;
}

test('an https listener with tls.acme starts on a logged stand-in, then serves the certificate Pebble issued over HTTP-01', async (t) => {
  const [http, https] = [await freePort(), await freePort()];
  const pebble = await pebbleFor(t, { httpPort: http, tlsPort: https });
  const storage = await storageDir(t);
  const lb = await balancerFor(t, pebble, { http, https }, storage);
  await lb.waitForLog('serving a self-signed certificate while the first ACME order runs');
  const cert = await waitForIssued(https, 'www.acme.test', () => pebble.root());
  const servedAt = Date.now();
  const listening = lb.logs.find((l) => l.msg === 'listening' && l['listener'] === 'websecure');
  t.diagnostic(
    `start to a served ACME certificate: ${servedAt - Number(listening?.['time'])} ms after the listener opened, ` +
      `${servedAt - lb.startedAt} ms after the process was spawned`,
  );
  assert.equal(isSelfSigned(cert), false);
  assert.match(cert.subjectaltname ?? '', /DNS:www\.acme\.test/);
  assert.match(cert.subjectaltname ?? '', /DNS:acme\.test/);
  // The other name of the certificate is served too.
  await servedCertificate(https, 'acme.test', await pebble.root());

  const [state] = await lb.certificates();
  assert.equal(state?.state, 'valid');
  assert.equal(state?.lastError, null);
  assert.equal(state?.serial, cert.serialNumber);
  // Renewal is planned at two thirds of the lifetime (Pebble's default lifetime is five years).
  const from = Date.parse(state.validFrom);
  const until = Date.parse(state.validUntil);
  const renewal = Date.parse(state.nextAttemptAt!);
  assert.ok(Math.abs(renewal - (from + ((until - from) * 2) / 3)) < 5_000, `renewal at ${state.nextAttemptAt}`);

  // Routing is untouched: a token nobody waits for is an ordinary request.
  const stray = await send(`http://127.0.0.1:${http}/.well-known/acme-challenge/not-awaited`);
  assert.equal(stray.body, 'routed');

  // Keys and certificates are owner-only.
  for (const file of ['account.key', `certificates/${state.id}/key.pem`, `certificates/${state.id}/cert.pem`])
    assert.equal((await stat(join(storage, file))).mode & 0o777, 0o600, file);
  assert.equal((await stat(storage)).mode & 0o777, 0o700);

  const metrics = (await callApi(lb.admin, 'GET', '/metrics', { token: null })).body;
  const expiry = `${Math.round(until / 1000)}`;
  assert.match(
    metrics,
    new RegExp(`switchyard_acme_certificate_expiry_timestamp_seconds\\{domain="www.acme.test"\\} ${expiry}`),
  );
  assert.match(
    metrics,
    new RegExp(
      `switchyard_tls_certificate_expiry_timestamp_seconds\\{listener="websecure",certificate="www.acme.test"\\} ${expiry}`,
    ),
  );

  // A restart with the CA away serves the stored certificate at once and orders nothing.
  await lb.stop();
  await pebble.stop();
  const again = await balancerFor(t, pebble, { http, https }, storage);
  await again.waitForLog('serving the stored certificate');
  const stored = await servedCertificate(https, 'www.acme.test');
  assert.equal(stored.serialNumber, cert.serialNumber);
  const [restarted] = await again.certificates();
  assert.equal(restarted?.state, 'valid');
  assert.equal(restarted?.ordering, false);
  assert.equal(restarted?.lastError, null);
});

test('TLS-ALPN-01: with no http listener the https listener answers the challenge itself (acme-tls/1)', async (t) => {
  const [http, https] = [await freePort(), await freePort()];
  const pebble = await pebbleFor(t, { httpPort: http, tlsPort: https });
  const lb = await balancerFor(t, pebble, { https }, await storageDir(t));
  const cert = await waitForIssued(https, 'www.acme.test', () => pebble.root());
  assert.equal(isSelfSigned(cert), false);
  const [state] = await lb.certificates();
  assert.equal(state?.state, 'valid');
  // Ordinary clients still get h2 / http/1.1 by ALPN, and are routed.
  const root = await pebble.root();
  for (const alpn of [['h2', 'http/1.1'], ['http/1.1']]) {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect(
        { host: '127.0.0.1', port: https, servername: 'www.acme.test', ca: root, ALPNProtocols: alpn },
        () => resolve(s),
      );
      s.on('error', reject);
    });
    assert.equal(socket.alpnProtocol, alpn[0]);
    socket.destroy();
  }
  const reply = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: https, servername: 'www.acme.test', ca: root, path: '/' },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(reply, 'routed');
});

test('a failing challenge keeps the stand-in, shows the CA’s reason in /api/acme and is retried with back-off', async (t) => {
  const [http, https, nothing] = [await freePort(), await freePort(), await freePort()];
  // Pebble validates HTTP-01 on a port where nothing listens.
  const pebble = await pebbleFor(t, { httpPort: nothing, tlsPort: https });
  const lb = await balancerFor(t, pebble, { http, https }, await storageDir(t));
  const failed = await waitFor(
    async () => (await lb.certificates()).find((c) => c.failures >= 2),
    60_000,
    'two failed orders',
    200,
  );
  assert.equal(failed.state, 'self-signed');
  assert.ok(failed.lastError !== null);
  assert.match(failed.lastError.message, /refused|connect|timeout|fetching/i);
  assert.ok(failed.nextAttemptAt !== null && Date.parse(failed.nextAttemptAt) > Date.parse(failed.lastError.at));
  assert.ok(lb.logs.some((l) => l.msg === 'ACME order failed; the served certificate stays'));
  const cert = await servedCertificate(https, 'www.acme.test');
  assert.equal(isSelfSigned(cert), true);
  // Traffic is served on the stand-in meanwhile.
  assert.equal((await send(`http://127.0.0.1:${http}/`)).body, 'routed');
});

test('the CA down at start: the stand-in is served and the order succeeds once the CA answers', async (t) => {
  const [http, https] = [await freePort(), await freePort()];
  const pebble = await pebbleFor(t, { httpPort: http, tlsPort: https, deferStart: true });
  const lb = await balancerFor(t, pebble, { http, https }, await storageDir(t));
  const failed = await waitFor(
    async () => (await lb.certificates()).find((c) => c.lastError !== null),
    60_000,
    'a failed order',
    200,
  );
  assert.equal(failed.state, 'self-signed');
  assert.equal(isSelfSigned(await servedCertificate(https, 'www.acme.test')), true);
  await pebble.start();
  const cert = await waitForIssued(https, 'www.acme.test', () => pebble.root());
  assert.equal(isSelfSigned(cert), false);
  const [state] = await lb.certificates();
  assert.equal(state?.lastError, null);
  assert.equal(state?.failures, 0);
});

test('revoking through the admin API revokes at the CA and serves a new certificate', async (t) => {
  const [http, https] = [await freePort(), await freePort()];
  const pebble = await pebbleFor(t, { httpPort: http, tlsPort: https });
  const lb = await balancerFor(t, pebble, { http, https }, await storageDir(t));
  const first = await waitForIssued(https, 'www.acme.test', () => pebble.root());
  const [state] = await lb.certificates();
  const reply = await callApi(lb.admin, 'POST', `/api/acme/certificates/${state!.id}/revoke`, { token: null });
  assert.equal(reply.status, 202);
  assert.equal(await pebble.status(first.serialNumber), 'Revoked');
  const next = await waitFor(
    async () => {
      const cert = await servedCertificate(https, 'www.acme.test', await pebble.root());
      return cert.serialNumber !== first.serialNumber && cert;
    },
    60_000,
    'a new certificate',
    100,
  );
  assert.equal(await pebble.status(next.serialNumber), 'Valid');
  const unknown = await callApi(lb.admin, 'POST', '/api/acme/certificates/nope/revoke', { token: null });
  assert.equal(unknown.status, 404);
});

test('with workers the challenges and certificates reach every worker (HTTP-01 tokens answered by whichever worker gets the connection)', async (t) => {
  const [http, https] = [await freePort(), await freePort()];
  const pebble = await pebbleFor(t, { httpPort: http, tlsPort: https });
  const lb = await balancerFor(t, pebble, { http, https }, await storageDir(t), {}, { workers: 2 });
  const first = await waitForIssued(https, 'www.acme.test', () => pebble.root());
  // Every handshake, whichever worker takes it, gets the issued certificate.
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) serials.add((await servedCertificate(https, 'www.acme.test')).serialNumber);
  assert.deepEqual([...serials], [first.serialNumber]);
  // A renewal ordered through the API reaches the workers too (tokens on the http listener, then the new certificate).
  const [state] = await lb.certificates();
  assert.equal(
    (await callApi(lb.admin, 'POST', `/api/acme/certificates/${state!.id}/renew`, { token: null })).status,
    202,
  );
  const renewed = await waitFor(
    async () => {
      const cert = await servedCertificate(https, 'www.acme.test', await pebble.root());
      return cert.serialNumber !== first.serialNumber && cert;
    },
    60_000,
    'the renewed certificate on the workers',
    100,
  );
  const after = new Set<string>();
  for (let i = 0; i < 20; i++) after.add((await servedCertificate(https, 'www.acme.test')).serialNumber);
  assert.deepEqual([...after], [renewed.serialNumber]);
});

test('a reload that adds an https listener with tls.acme opens it at once (on the stand-in) and orders its certificate', async (t) => {
  const [http, https] = [await freePort(), await freePort()];
  const pebble = await pebbleFor(t, { httpPort: http, tlsPort: https });
  const storage = await storageDir(t);
  const base = {
    admin: { enabled: false },
    registry: { store: 'memory' as const },
    acme: { directory: pebble.directory, directoryCa: pebble.directoryCa, agreeToTerms: true, storage },
    listeners: [{ name: 'web', protocol: 'http' as const, address: `127.0.0.1:${http}` }],
    routes: [{ match: {}, respond: { status: 200, body: 'routed' } }],
  };
  const lb = await createSwitchyard(base);
  t.after(() => lb.close(1_000));
  await lb.apply({
    ...base,
    listeners: [
      ...base.listeners,
      { name: 'websecure', protocol: 'https', address: `127.0.0.1:${https}`, tls: { acme: { domains } } },
    ],
  });
  const cert = await waitForIssued(https, 'www.acme.test', () => pebble.root());
  assert.equal(isSelfSigned(cert), false);
});
