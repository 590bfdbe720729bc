import assert from 'node:assert/strict';
import autocannon from 'autocannon';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer as createHttpServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import { createSwitchyard } from '../../src/main.js';
import { bodyOf } from './helpers/http.js';
import { configWith, startOrigin } from './helpers/origin.js';
import { spawnSwitchyard, startSwitchyard } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';
import { freePort } from './helpers/ports.js';

/** Starts a GET that the origin holds until `release()`; resolves with the answer's body. */
function slowGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('a listener moved to another port: the new one opens first, a request in flight on the old one finishes', async (t) => {
  const held: (() => void)[] = [];
  const origin = await startOrigin('a', (req, res) => {
    if (req.url === '/slow') held.push(() => res.end('slow done'));
    else res.end('a');
  });
  t.after(() => origin.close());
  const config = configWith([origin.url]);
  const lb = await startSwitchyard(config);
  t.after(() => lb.close());
  const oldPort = lb.port();
  const inFlight = slowGet(oldPort, '/slow');
  await waitFor(() => held.length === 1, 5_000, 'the slow request to reach the origin');
  const newPort = await freePort();
  await lb.apply(configWith([origin.url], {}, { address: `127.0.0.1:${newPort}` }));
  assert.equal(lb.port(), newPort);
  assert.equal(await bodyOf(`http://127.0.0.1:${newPort}/`), 'a', 'the new address answers');
  // The old socket no longer accepts new connections…
  const refused = connect({ host: '127.0.0.1', port: oldPort });
  const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNREFUSED');
  // …but the request it had in flight completes.
  held[0]!();
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
});

test('a listener replaced on the same port (new socket options): a request in flight finishes, new ones are served', async (t) => {
  const held: (() => void)[] = [];
  const origin = await startOrigin('a', (req, res) => {
    if (req.url === '/slow') held.push(() => res.end('slow done'));
    else res.end('a');
  });
  t.after(() => origin.close());
  const port = await freePort();
  const lb = await startSwitchyard(configWith([origin.url], {}, { address: `127.0.0.1:${port}` }));
  t.after(() => lb.close());
  const inFlight = slowGet(port, '/slow');
  await waitFor(() => held.length === 1, 5_000, 'the slow request to reach the origin');
  // A different header size limit needs a new server (Node fixes maxHeaderSize at creation).
  await lb.apply(configWith([origin.url], {}, { address: `127.0.0.1:${port}`, limits: { headerBytes: 32_768 } }));
  for (let i = 0; i < 3; i++) assert.equal(await bodyOf(`http://127.0.0.1:${port}/`), 'a');
  held[0]!();
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
});

test('a removed listener stops accepting and lets its request in flight finish', async (t) => {
  const held: (() => void)[] = [];
  const origin = await startOrigin('a', (req, res) => {
    if (req.url === '/slow') held.push(() => res.end('slow done'));
    else res.end('a');
  });
  t.after(() => origin.close());
  const two = configWith([origin.url]);
  two.listeners.push({ name: 'second', protocol: 'http', address: '127.0.0.1:0' });
  const lb = await startSwitchyard(two);
  t.after(() => lb.close());
  const secondPort = lb.port('second');
  const inFlight = slowGet(secondPort, '/slow');
  await waitFor(() => held.length === 1, 5_000, 'the slow request to reach the origin');
  await lb.apply(configWith([origin.url]));
  const refused = connect({ host: '127.0.0.1', port: secondPort });
  const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNREFUSED');
  await sleep(100);
  held[0]!();
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
  assert.equal(await bodyOf(lb.url('/')), 'a', 'the remaining listener is untouched');
});

test('10 reloads under load alternating services and routes, one invalid among them: no failed request, each in effect within a second', async (t) => {
  const [a, b] = [await startOrigin('a'), await startOrigin('b')];
  t.after(() => Promise.all([a.close(), b.close()]));
  /** Config `i`: `/` goes to service a on even reloads and b on odd ones; odd ones also add a route `/extra`. */
  const configFor = (i: number): SwitchyardConfigInput => ({
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ name: 'web', protocol: 'http', address: `127.0.0.1:${port}` }],
    routes: [
      ...(i % 2 === 1 ? [{ name: 'extra', match: { path: { prefix: '/extra' } }, service: 'a' }] : []),
      { name: 'main', match: { path: { prefix: '/' } }, service: i % 2 === 0 ? 'a' : 'b' },
    ],
    services: {
      a: { endpoints: [{ url: a.url }] },
      b: { endpoints: [{ url: b.url }] },
      ...(i % 2 === 1 ? { spare: { endpoints: [{ url: a.url }] } } : {}),
    },
  });
  const port = await freePort();
  let next: SwitchyardConfigInput = configFor(0);
  const lb = await createSwitchyard(configFor(0), { reload: () => Promise.resolve(next) });
  t.after(() => lb.close(2_000));
  const load = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 8, duration: 8 });
  await sleep(500);
  for (let i = 1; i <= 10; i++) {
    if (i === 5) {
      // An invalid file changes nothing: the reload is refused with its problems and traffic goes on as before.
      next = { ...configFor(i), routes: [{ match: { path: { prefix: '/' } }, service: 'nope' }] };
      await assert.rejects(lb.reload(), /unknown service "nope"/);
      assert.equal(await bodyOf(`http://127.0.0.1:${port}/`), 'a', 'the running config stays');
      continue;
    }
    next = configFor(i);
    const reloadedAt = Date.now();
    await lb.reload();
    const expected = i % 2 === 0 ? 'a' : 'b';
    await waitFor(async () => (await bodyOf(`http://127.0.0.1:${port}/`)) === expected, 1_000, `reload ${i} in effect`);
    assert.ok(Date.now() - reloadedAt < 1_000);
    await sleep(300);
  }
  const result = await load;
  t.diagnostic(`${result.requests.total} requests, ${result.non2xx} non-2xx, ${result.errors} errors`);
  assert.ok(result.requests.total > 500, 'the load ran');
  assert.equal(result.errors, 0);
  assert.equal(result.timeouts, 0);
  assert.equal(result.non2xx, 0);
});

test('50 open WebSocket sessions survive 5 reloads that keep their route and service', async (t) => {
  const server = createHttpServer((_req, res) => res.end('ws origin'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.close();
  });
  const originUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const configFor = (i: number): SwitchyardConfigInput => ({
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0' }],
    routes: [
      { name: 'ws', match: { path: { prefix: '/' } }, service: 'app', websocket: true },
      ...(i % 2 === 1 ? [{ name: `extra${i}`, match: { path: { prefix: `/extra${i}` } }, service: 'app' }] : []),
    ],
    services: { app: { endpoints: [{ url: originUrl }], timeouts: { connectMs: 1_000 + i } } },
  });
  const lb = await startSwitchyard(configFor(0));
  t.after(() => lb.close(500));
  const sessions = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${lb.port()}/chat`);
      ws.on('error', () => undefined);
      await once(ws, 'open');
      return ws;
    }),
  );
  t.after(() => sessions.forEach((ws) => ws.terminate()));
  for (let i = 1; i <= 5; i++) {
    await lb.apply(configFor(i));
    await Promise.all(
      sessions.map(async (ws, n) => {
        const reply = once(ws, 'message');
        ws.send(`reload ${i} session ${n}`);
        const [data] = (await reply) as [Buffer];
        assert.equal(data.toString(), `reload ${i} session ${n}`);
      }),
    );
  }
  assert.ok(sessions.every((ws) => ws.readyState === WebSocket.OPEN));
});

test('SIGTERM with 100 slow requests in flight: all complete, new connections are refused, exit 0', async (t) => {
  let seen = 0;
  const origin = await startOrigin('a', (_req, res) => {
    seen++;
    setTimeout(() => res.end('finished'), 1_500);
  });
  t.after(() => origin.close());
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-sigterm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'switchyard.yaml');
  await writeFile(
    file,
    [
      'admin: { enabled: false }',
      'registry: { store: memory }',
      'listeners: [ { name: web, protocol: http, address: "127.0.0.1:0" } ]',
      'routes: [ { match: { path: { prefix: / } }, service: app } ]',
      `services: { app: { endpoints: [ { url: "${origin.url}" } ] } }`,
      '',
    ].join('\n'),
  );
  const lb = await spawnSwitchyard(['start', '-c', file, '--log-level', 'info']);
  t.after(() => lb.stop('SIGKILL'));
  const agent = new Agent({ keepAlive: false, maxSockets: 200 });
  const requests = Array.from(
    { length: 100 },
    (_, i) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: lb.port, path: `/slow/${i}`, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      }),
  );
  await waitFor(() => seen === 100, 10_000, 'all 100 requests to reach the origin');
  const exited = lb.stop('SIGTERM');
  await sleep(200);
  const late = connect({ host: '127.0.0.1', port: lb.port });
  const [error] = (await once(late, 'error')) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNREFUSED', 'the listener stopped accepting');
  const answers = await Promise.all(requests);
  assert.ok(
    answers.every((a) => a.status === 200 && a.body === 'finished'),
    'every request in flight completed',
  );
  assert.equal(await exited, 0);
});
