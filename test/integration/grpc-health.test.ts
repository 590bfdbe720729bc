import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { healthCheckSchema } from '../../src/config/service-schema.js';
import { GrpcProbe } from '../../src/control/health/grpc-probe.js';
import { createTestCa } from './helpers/certs.js';
import { echoClient, startGrpcOrigin } from './helpers/grpc.js';
import { configWith } from './helpers/origin.js';
import { startSwitchyard } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';
import { freePort } from './helpers/ports.js';

const probeFor = (grpc: Record<string, unknown> = {}, tls?: ConstructorParameters<typeof GrpcProbe>[1]) =>
  new GrpcProbe(healthCheckSchema.parse({ grpc }).grpc!, tls);

const check = (probe: GrpcProbe, url: string, signal = AbortSignal.timeout(10_000)) =>
  probe.check({ id: 'e', url }, signal);

test('the gRPC probe passes on SERVING for the whole instance and fails on NOT_SERVING for a named service', async (t) => {
  const origin = await startGrpcOrigin('g');
  t.after(() => origin.close());
  assert.deepEqual(await check(probeFor(), origin.url), { ok: true, detail: 'SERVING' });
  origin.setHealth('switchyard.test.Echo', 'NOT_SERVING');
  assert.deepEqual(await check(probeFor({ service: 'switchyard.test.Echo' }), origin.url), {
    ok: false,
    detail: 'NOT_SERVING',
  });
  origin.setHealth('switchyard.test.Echo', 'SERVING');
  assert.equal((await check(probeFor({ service: 'switchyard.test.Echo' }), origin.url)).ok, true);
  assert.deepEqual(origin.calls, ['Check', 'Check', 'Check']);
});

test('an unknown service name fails with its gRPC status and message', async (t) => {
  const origin = await startGrpcOrigin('g');
  t.after(() => origin.close());
  assert.deepEqual(await check(probeFor({ service: 'nope' }), origin.url), {
    ok: false,
    detail: 'grpc-status 5: unknown service',
  });
});

test('h2 over TLS: the probe verifies the instance against the given CA and name', async (t) => {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const cert = await ca.issue(['health.internal']);
  const origin = await startGrpcOrigin('tls', cert);
  t.after(() => origin.close());
  const good = probeFor({}, { ca: ca.cert, servername: 'health.internal' });
  assert.deepEqual(await check(good, origin.url), { ok: true, detail: 'SERVING' });
  const wrongName = await check(probeFor({}, { ca: ca.cert }), origin.url);
  assert.equal(wrongName.ok, false);
  assert.match(wrongName.detail, /altnames|ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('a refused connection, an HTTP/1.1-only instance and an aborted check all fail with a reason', async (t) => {
  const port = await freePort();
  const refused = await check(probeFor(), `http://127.0.0.1:${port}`);
  assert.equal(refused.ok, false);
  assert.match(refused.detail, /ECONNREFUSED/);
  const h1 = createServer((_req, res) => res.end('not grpc'));
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
  t.after(() => h1.close());
  const notH2 = await check(probeFor(), `http://127.0.0.1:${(h1.address() as AddressInfo).port}`);
  assert.equal(notH2.ok, false);
  const origin = await startGrpcOrigin('g');
  t.after(() => origin.close());
  const controller = new AbortController();
  controller.abort(new Error('timeout after 1 ms'));
  assert.deepEqual(await check(probeFor(), origin.url, controller.signal), { ok: false, detail: 'timeout after 1 ms' });
});

test('healthCheck.grpc through the balancer: an instance reporting NOT_SERVING gets no calls until it serves again', async (t) => {
  const [a, b] = await Promise.all([startGrpcOrigin('a'), startGrpcOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const service = 'switchyard.test.Echo';
  a.setHealth(service, 'SERVING');
  b.setHealth(service, 'NOT_SERVING');
  const lb = await startSwitchyard(
    configWith(
      [a.url, b.url],
      {
        upstreamProtocol: 'http2',
        healthCheck: { grpc: { service }, intervalMs: 100, timeoutMs: 2_000, rise: 1, fall: 1 },
        slowStartMs: 0, // back at full weight at once, so ten calls find it
      },
      { http2: true },
    ),
  );
  t.after(() => lb.close());
  const client = echoClient(`127.0.0.1:${lb.port()}`);
  t.after(() => client.close());
  const instances = async (): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add((await client.unary({ text: 'x' })).replies[0]?.instance ?? 'none');
    return seen;
  };
  await waitFor(async () => (await instances()).has('a') && !(await instances()).has('b'), 10_000, 'only a serving');
  b.setHealth(service, 'SERVING');
  await waitFor(async () => (await instances()).has('b'), 10_000, 'b back in rotation');
});
