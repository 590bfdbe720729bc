import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { healthCheckSchema } from '../../config/service-schema.js';
import { HttpProbe, maxBodyBytes, type HttpCheckConfig } from './http-probe.js';
import { createProbe } from './create-probe.js';
import type { ProbeResult } from './probe.js';
import { TcpProbe } from './tcp-probe.js';

interface Seen {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly remotePort: number | undefined;
}

/** A real origin on 127.0.0.1:0 whose answer the test changes between checks. */
interface Origin {
  readonly url: string;
  readonly port: number;
  readonly seen: Seen[];
  status: number;
  body: string;
  /** Replaces the default answer when set. */
  handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  openConnections(): Promise<number>;
  close(): Promise<void>;
}

async function startOrigin(t: TestContext): Promise<Origin> {
  const server = createServer((req, res) => {
    origin.seen.push({ method: req.method, path: req.url, headers: req.headers, remotePort: req.socket.remotePort });
    if (origin.handler !== undefined) return origin.handler(req, res);
    res.writeHead(origin.status, { 'content-type': 'text/plain' });
    res.end(origin.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin: Origin = {
    url: `http://127.0.0.1:${port}`,
    port,
    seen: [],
    status: 200,
    body: 'ok',
    handler: undefined,
    openConnections: () =>
      new Promise((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n)))),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  t.after(() => origin.close());
  return origin;
}

/** A port that refuses connections: listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const httpCheck = (http: Record<string, unknown> = {}): HttpCheckConfig => {
  const parsed = healthCheckSchema.parse({ http }).http;
  assert.ok(parsed);
  return parsed;
};

const probeOnce = (probe: { check: HttpProbe['check'] }, url: string, signal?: AbortSignal): Promise<ProbeResult> =>
  probe.check({ id: 'a', url }, signal ?? AbortSignal.timeout(5_000));

test('a status inside the default range 200-399 passes; a 5xx fails with the status as detail', async (t) => {
  const origin = await startOrigin(t);
  const probe = new HttpProbe(httpCheck());
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: true, detail: 'HTTP 200' });
  origin.status = 301;
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: true, detail: 'HTTP 301' });
  origin.status = 503;
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: false, detail: 'HTTP 503' });
  origin.status = 404;
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: false, detail: 'HTTP 404' });
});

test('a single expected status passes only that status', async (t) => {
  const origin = await startOrigin(t);
  const probe = new HttpProbe(httpCheck({ expectStatus: '204' }));
  origin.status = 204;
  assert.equal((await probeOnce(probe, origin.url)).ok, true);
  origin.status = 200;
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: false, detail: 'HTTP 200' });
});

test('the configured method and path are requested, on a fresh connection that is closed afterwards', async (t) => {
  const origin = await startOrigin(t);
  const probe = new HttpProbe(httpCheck({ path: '/ready?deep=1', method: 'HEAD' }));
  await probeOnce(probe, origin.url);
  await probeOnce(probe, `${origin.url}/`);
  assert.equal(origin.seen.length, 2);
  for (const seen of origin.seen) {
    assert.equal(seen.method, 'HEAD');
    assert.equal(seen.path, '/ready?deep=1');
    assert.equal(seen.headers.connection, 'close');
  }
  assert.notEqual(origin.seen[0]?.remotePort, origin.seen[1]?.remotePort);
  await waitFor(async () => (await origin.openConnections()) === 0, 'the origin to see every check connection close');
});

test('Host is the configured host, or the endpoint host:port when none is configured', async (t) => {
  const origin = await startOrigin(t);
  await probeOnce(new HttpProbe(httpCheck({ host: 'health.example.com' })), origin.url);
  await probeOnce(new HttpProbe(httpCheck()), origin.url);
  assert.equal(origin.seen[0]?.headers.host, 'health.example.com');
  assert.equal(origin.seen[1]?.headers.host, `127.0.0.1:${origin.port}`);
});

test('bodyContains passes when the body holds the text and fails with "body lacks" when it does not', async (t) => {
  const origin = await startOrigin(t);
  const probe = new HttpProbe(httpCheck({ bodyContains: 'ok' }));
  origin.body = '{"status":"ok"}';
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: true, detail: 'HTTP 200' });
  origin.body = '{"status":"degraded"}';
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: false, detail: 'body lacks "ok"' });
  origin.status = 500;
  origin.body = 'ok';
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: false, detail: 'HTTP 500' });
});

test('bodyContains finds text split across chunks and passes without waiting for a body that never ends', async (t) => {
  const origin = await startOrigin(t);
  const probe = new HttpProbe(httpCheck({ bodyContains: 'healthy' }));
  origin.handler = (_req, res) => {
    res.writeHead(200);
    res.write('status: heal');
    setTimeout(() => res.write('thy, and the body goes on'), 20);
  };
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: true, detail: 'HTTP 200' });
  await waitFor(async () => (await origin.openConnections()) === 0, 'the endless response to be cut off');
});

test('bodyContains reads only the first 64 KiB of the body', async (t) => {
  const origin = await startOrigin(t);
  const probe = new HttpProbe(httpCheck({ bodyContains: 'ok' }));
  origin.body = 'x'.repeat(maxBodyBytes - 2) + 'ok';
  assert.equal((await probeOnce(probe, origin.url)).ok, true);
  origin.body = 'x'.repeat(maxBodyBytes - 1) + 'ok';
  assert.deepEqual(await probeOnce(probe, origin.url), { ok: false, detail: 'body lacks "ok"' });
});

test('a refused connection fails with the syscall and error code', async () => {
  const port = await closedPort();
  const result = await probeOnce(new HttpProbe(httpCheck()), `http://127.0.0.1:${port}`);
  assert.deepEqual(result, { ok: false, detail: 'connect ECONNREFUSED' });
});

test('an aborted check fails with the abort reason and closes its connection to a hanging origin', async (t) => {
  const origin = await startOrigin(t);
  origin.handler = () => {}; // never answers
  const controller = new AbortController();
  const pending = probeOnce(new HttpProbe(httpCheck()), origin.url, controller.signal);
  await waitFor(() => origin.seen.length === 1, 'the check to reach the origin');
  controller.abort(new Error('timeout after 50 ms'));
  assert.deepEqual(await pending, { ok: false, detail: 'timeout after 50 ms' });
  await waitFor(async () => (await origin.openConnections()) === 0, 'the hung connection to close');
});

test('the TCP probe passes when the port accepts and closes the connection at once', async (t) => {
  const origin = await startOrigin(t);
  assert.deepEqual(await new TcpProbe().check({ id: 'a', url: origin.url }, AbortSignal.timeout(5_000)), {
    ok: true,
    detail: 'TCP connected',
  });
  await waitFor(async () => (await origin.openConnections()) === 0, 'the TCP check connection to close');
  assert.equal(origin.seen.length, 0, 'no request is sent');
});

test('the TCP probe fails on a closed port', async () => {
  const port = await closedPort();
  const result = await new TcpProbe().check({ id: 'a', url: `http://127.0.0.1:${port}` }, AbortSignal.timeout(5_000));
  assert.deepEqual(result, { ok: false, detail: 'connect ECONNREFUSED' });
});

test('createProbe builds an HTTP probe for an http check and a TCP probe for a tcp check', () => {
  assert.ok(createProbe(healthCheckSchema.parse({ http: {} })) instanceof HttpProbe);
  assert.ok(createProbe(healthCheckSchema.parse({ tcp: {} })) instanceof TcpProbe);
});
