import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createTestCa } from './helpers/certs.js';
import { echoClient, startGrpcOrigin, type EchoClient, type GrpcOrigin } from './helpers/grpc.js';
import { freePort } from './helpers/ports.js';
import { adminToken, callApi, readToken } from './helpers/admin.js';
import { parseExposition } from './helpers/prometheus.js';
import { waitFor } from './helpers/wait.js';
import { startSwitchyard, type TestSwitchyard } from './helpers/switchyard.js';

/** The two kinds of instance: grpc-js over h2c, and grpc-js over TLS (certificate for greeter.internal). */
type InstanceKind = 'h2c' | 'h2';
/** The two HTTP/2 listeners: `https` (h2 by ALPN) and `http` with `http2: true` (h2c with prior knowledge). */
type ListenerKind = 'tls' | 'h2c';

interface Bench {
  readonly lb: TestSwitchyard;
  readonly caCert: string;
  readonly origins: Record<InstanceKind, GrpcOrigin>;
  client(listener: ListenerKind, instance: InstanceKind | 'none' | 'down' | 'limited'): EchoClient;
}

/**
 * One balancer with both listeners, routing by authority: `h2c.grpc` to the h2c instance, `h2.grpc` to the TLS
 * instance (re-encrypted, verified as greeter.internal), `none.grpc` to a service with no endpoint, `down.grpc` to an
 * endpoint that refuses connections.
 */
async function bench(t: TestContext, service: Record<string, unknown> = {}): Promise<Bench> {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const lbCert = await ca.issue(['lb.test']);
  const instanceCert = await ca.issue(['greeter.internal']);
  const origins = {
    h2c: await startGrpcOrigin('h2c-instance'),
    h2: await startGrpcOrigin('h2-instance', instanceCert),
  };
  t.after(() => Promise.all([origins.h2c.close(), origins.h2.close()]));
  const closed = await freePort();
  const common = { upstreamProtocol: 'http2' as const, ...service };
  const lb = await startSwitchyard({
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [
      {
        name: 'tls',
        protocol: 'https',
        address: '127.0.0.1:0',
        tls: { certificates: [{ cert: lbCert.certFile, key: lbCert.keyFile }] },
      },
      { name: 'h2c', protocol: 'http', address: '127.0.0.1:0', http2: true },
    ],
    routes: [
      { match: { host: 'h2c.grpc' }, service: 'h2c' },
      { match: { host: 'h2.grpc' }, service: 'h2' },
      { match: { host: 'none.grpc' }, service: 'none' },
      { match: { host: 'down.grpc' }, service: 'down' },
      { match: { host: 'limited.grpc' }, service: 'h2c', rateLimit: { requestsPerSecond: 0.01, burst: 1 } },
    ],
    services: {
      h2c: { ...common, endpoints: [{ url: origins.h2c.url }] },
      h2: {
        ...common,
        endpoints: [{ url: origins.h2.url }],
        upstreamTls: { ca: ca.certFile, servername: 'greeter.internal' },
      },
      none: { ...common, endpoints: [] },
      down: { ...common, endpoints: [{ url: `http://127.0.0.1:${closed}` }] },
    },
  });
  t.after(() => lb.close());
  const clients: EchoClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  return {
    lb,
    caCert: ca.cert,
    origins,
    client(listener, instance) {
      const authority = `${instance}.grpc`;
      const target = `127.0.0.1:${lb.port(listener)}`;
      const client =
        listener === 'tls'
          ? echoClient(target, { ca: ca.cert, servername: 'lb.test' }, { 'grpc.default_authority': authority })
          : echoClient(target, undefined, { 'grpc.default_authority': authority });
      clients.push(client);
      return client;
    },
  };
}

const listeners: readonly ListenerKind[] = ['tls', 'h2c'];
const instances: readonly InstanceKind[] = ['h2c', 'h2'];

test('gRPC matrix: unary, server/client streaming and bidi pass through both listeners to both kinds of instance', async (t) => {
  const b = await bench(t);
  for (const listener of listeners) {
    for (const instance of instances) {
      const client = b.client(listener, instance);
      const name = `${instance}-instance`;
      const where = `${listener} listener → ${instance} instance`;

      const unary = await client.unary({ text: 'hello' }, { 'x-test': 'meta' });
      assert.equal(unary.code, 0, `${where} unary: ${unary.details}`);
      assert.deepEqual(
        unary.replies.map((r) => [r.text, r.seenMetadata, r.instance]),
        [['hello', 'meta', name]],
        where,
      );
      assert.equal(unary.trailers['x-trailer'], `done-by-${name}`, `${where}: custom trailer`);

      const server = await client.serverStream({ text: 's', count: 50 });
      assert.equal(server.code, 0, `${where} server streaming: ${server.details}`);
      assert.deepEqual(
        server.replies.map((r) => r.index),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(server.trailers['x-trailer'], `done-by-${name}`);

      const clientStream = await client.clientStream([{ text: 'a' }, { text: 'b' }, { text: 'c' }]);
      assert.equal(clientStream.code, 0, `${where} client streaming: ${clientStream.details}`);
      assert.equal(clientStream.replies[0]?.text, 'a+b+c');

      const bidi = await client.bidi([{ text: 'x' }, { text: 'y' }, { text: 'z' }]);
      assert.equal(bidi.code, 0, `${where} bidi: ${bidi.details}`);
      assert.deepEqual(
        bidi.replies.map((r) => r.text),
        ['x', 'y', 'z'],
      );
      assert.equal(bidi.trailers['x-trailer'], `done-by-${name}`);
    }
  }
  assert.equal(b.origins.h2c.calls.length, 8);
  assert.equal(b.origins.h2.calls.length, 8);
});

test("an instance's gRPC error status, message and trailers reach the client unchanged", async (t) => {
  const b = await bench(t);
  for (const listener of listeners) {
    const client = b.client(listener, 'h2c');
    const unary = await client.unary({ failCode: 9 });
    assert.deepEqual([unary.code, unary.details, unary.trailers['x-failed']], [9, 'asked to fail', 'yes']);
    const stream = await client.serverStream({ count: 3, failCode: 7 });
    assert.deepEqual([stream.code, stream.details, stream.replies.length], [7, 'asked to fail', 3]);
  }
});

test('bidi streaming is interactive through the balancer: each reply comes before the next message is sent', async (t) => {
  const b = await bench(t);
  for (const listener of listeners) {
    const client = b.client(listener, 'h2');
    const call = (client.raw as unknown as Record<string, () => NodeJS.ReadWriteStream>).Bidi!();
    call.on('error', () => undefined);
    const replies: string[] = [];
    for (const text of ['one', 'two', 'three']) {
      const reply = new Promise<string>((resolve) => call.once('data', (r: { text: string }) => resolve(r.text)));
      call.write({ text } as never);
      replies.push(await reply);
    }
    call.end();
    assert.deepEqual(replies, ['one', 'two', 'three']);
  }
});

test('large messages keep flowing both ways under HTTP/2 flow control (1 MiB each way, 8 calls at once)', async (t) => {
  const b = await bench(t);
  const payload = Buffer.alloc(1024 * 1024, 7);
  for (const listener of listeners) {
    const client = b.client(listener, 'h2c');
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => client.unary({ text: 'big', payload })));
    for (const outcome of outcomes) {
      assert.equal(outcome.code, 0, outcome.details);
      assert.equal(outcome.replies[0]?.payload.length, payload.length);
    }
    const streamed = await client.clientStream(Array.from({ length: 16 }, () => ({ text: 'p', payload })));
    assert.equal(streamed.code, 0, streamed.details);
    assert.equal(streamed.replies[0]?.index, 16 * payload.length);
  }
});

test("Switchyard's own failures answer in gRPC: UNAVAILABLE with a grpc-message, not problem+json", async (t) => {
  const b = await bench(t);
  for (const listener of listeners) {
    const none = await b.client(listener, 'none').unary({ text: 'x' });
    assert.equal(none.code, 14, `${listener}: ${none.details}`);
    assert.equal(none.details, 'No endpoint is registered for this service');
    const down = await b.client(listener, 'down').unary({ text: 'x' });
    assert.equal(down.code, 14, `${listener}: ${down.details}`);
    assert.equal(down.details, 'The upstream could not be reached');
  }
  // The rate limit is per client address: one call goes, the next is RESOURCE_EXHAUSTED.
  const limited = b.client('h2c', 'limited');
  assert.equal((await limited.unary({ text: 'first' })).code, 0);
  const refused = await limited.unary({ text: 'second' });
  assert.deepEqual([refused.code, refused.details], [8, 'Too many requests']);
});

test('grpc-timeout bounds the upstream call: a slow instance gives DEADLINE_EXCEEDED from Switchyard', async (t) => {
  const b = await bench(t, { timeouts: { firstByteMs: 60_000 } });
  for (const listener of listeners) {
    const client = b.client(listener, 'h2c');
    const slow = await client.unary({ text: 'late', delayMs: 3_000 }, {}, 300);
    assert.equal(slow.code, 4, `${listener}: ${slow.details}`);
    const fast = await client.unary({ text: 'quick' }, {}, 10_000);
    assert.equal(fast.code, 0);
  }
});

test('the access log has grpc_status and switchyard_grpc_responses_total counts calls by service and status', async (t) => {
  const origin = await startGrpcOrigin('logged');
  t.after(() => origin.close());
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-grpc-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'access.log');
  const closed = await freePort();
  const lb = await startSwitchyard({
    admin: { address: '127.0.0.1:0', tokens: { admin: adminToken, read: readToken } },
    registry: { store: 'memory' },
    accessLog: { enabled: true, path: file },
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0', http2: true }],
    routes: [
      { match: { host: 'down.grpc' }, service: 'down' },
      { match: { path: { prefix: '/' } }, service: 'greeter' },
    ],
    services: {
      greeter: { upstreamProtocol: 'http2', endpoints: [{ url: origin.url }] },
      down: { upstreamProtocol: 'http2', endpoints: [{ url: `http://127.0.0.1:${closed}` }] },
    },
  });
  t.after(() => lb.close());
  const client = echoClient(`127.0.0.1:${lb.port()}`);
  t.after(() => client.close());
  const down = echoClient(`127.0.0.1:${lb.port()}`, undefined, { 'grpc.default_authority': 'down.grpc' });
  t.after(() => down.close());
  assert.equal((await client.unary({ text: 'ok' })).code, 0);
  assert.equal((await client.unary({ failCode: 9 })).code, 9);
  assert.equal((await client.serverStream({ count: 2 })).code, 0);
  assert.equal((await down.unary({ text: 'x' })).code, 14);
  const lines = await waitFor(
    async () => {
      const text = await readFile(file, 'utf8').catch(() => '');
      const parsed = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      return parsed.length >= 4 ? parsed : undefined;
    },
    10_000,
    'four access-log lines',
  );
  assert.deepEqual(
    lines.map((line) => [line.service, line.status, line.grpc_status]),
    [
      ['greeter', 200, 0],
      ['greeter', 200, 9],
      ['greeter', 200, 0],
      ['down', 200, 14],
    ],
  );
  const metrics = await callApi(`http://127.0.0.1:${lb.address('admin').port}`, 'GET', '/metrics', {
    token: readToken,
  });
  const exposition = parseExposition(metrics.body);
  const count = (service: string, status: string) =>
    exposition.value('switchyard_grpc_responses_total', { service, grpc_status: status });
  assert.deepEqual([count('greeter', '0'), count('greeter', '9'), count('down', '14')], [2, 1, 1]);
});
