import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { send, bodyOf } from './helpers/http.js';
import { configWith, startOrigin } from './helpers/origin.js';
import { startSwitchyard } from './helpers/switchyard.js';

test('requests go round-robin: a, b, c, a, b, c', async (t) => {
  const origins = await Promise.all(['a', 'b', 'c'].map((name) => startOrigin(name)));
  t.after(() => Promise.all(origins.map((o) => o.close())));
  const lb = await startSwitchyard(configWith(origins.map((o) => o.url)));
  t.after(() => lb.close());
  const seen: string[] = [];
  for (let i = 0; i < 9; i++) seen.push(await bodyOf(lb.url('/')));
  assert.deepEqual(seen, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
});

test('weights 5:1:1 interleave smoothly over real instances', async (t) => {
  const origins = await Promise.all(['a', 'b', 'c'].map((name) => startOrigin(name)));
  t.after(() => Promise.all(origins.map((o) => o.close())));
  const config = configWith([]);
  config.services.app.endpoints = [
    { url: origins[0]!.url, weight: 5 },
    { url: origins[1]!.url, weight: 1 },
    { url: origins[2]!.url, weight: 1 },
  ] as never;
  const lb = await startSwitchyard({
    ...config,
    services: { app: { ...config.services.app, algorithm: 'weighted-round-robin' } },
  });
  t.after(() => lb.close());
  const seen: string[] = [];
  for (let i = 0; i < 7; i++) seen.push(await bodyOf(lb.url('/')));
  assert.deepEqual(seen, ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
});

test('the path and query reach the instance unchanged, and the method and body too', async (t) => {
  const origin = await startOrigin('a', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`));
  });
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url]));
  t.after(() => lb.close());
  const reply = await send(lb.url('/a/b%20c?x=1&y=%2F'), { method: 'PUT', body: 'payload' });
  assert.equal(reply.body, 'PUT /a/b%20c?x=1&y=%2F payload');
});

test('routes pick the service by host and path prefix; no match is 404 problem+json', async (t) => {
  const [api, web, admin] = await Promise.all([startOrigin('api'), startOrigin('web'), startOrigin('admin')]);
  t.after(() => Promise.all([api.close(), web.close(), admin.close()]));
  const lb = await startSwitchyard({
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0' }],
    routes: [
      { match: { host: 'api.example.com' }, service: 'api' },
      { match: { host: '*.example.com', path: { prefix: '/admin' } }, service: 'admin' },
      { match: { path: { prefix: '/site' } }, service: 'web' },
    ],
    services: {
      api: { endpoints: [{ url: api.url }] },
      web: { endpoints: [{ url: web.url }] },
      admin: { endpoints: [{ url: admin.url }] },
    },
  });
  t.after(() => lb.close());
  const at = (host: string, path: string) => send(lb.url(path), { headers: { host } });
  assert.equal((await at('API.example.com:80', '/anything')).body, 'api');
  assert.equal((await at('www.example.com', '/admin/users')).body, 'admin');
  assert.equal((await at('other.test', '/site/index.html')).body, 'web');
  const miss = await at('other.test', '/sitemap.xml');
  assert.equal(miss.status, 404);
  assert.equal(miss.headers['content-type'], 'application/problem+json');
  assert.equal((JSON.parse(miss.body) as { status: number }).status, 404);
});

test('hop-by-hop request headers never reach the instance; end-to-end ones do', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url]));
  t.after(() => lb.close());
  await send(lb.url('/'), {
    headers: [
      'Host',
      'shop.example.com',
      'Connection',
      'keep-alive, X-Secret-Hop',
      'X-Secret-Hop',
      'must not pass',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Connection',
      'keep-alive',
      'Proxy-Authorization',
      'Basic Zm9vOmJhcg==',
      'TE',
      'gzip',
      'HTTP2-Settings',
      'AAMAAABkAAQAoAAAAAIAAAAA',
      'X-End-To-End',
      'kept',
      'Authorization',
      'Bearer kept',
      'Cookie',
      'a=1',
    ],
  });
  const seen = origin.requests[0]!.headers;
  for (const name of [
    'x-secret-hop',
    'keep-alive',
    'proxy-connection',
    'proxy-authorization',
    'te',
    'http2-settings',
  ]) {
    assert.equal(seen[name], undefined, `${name} was forwarded`);
  }
  assert.notEqual(seen['connection'], 'keep-alive, X-Secret-Hop');
  assert.equal(seen['x-end-to-end'], 'kept');
  assert.equal(seen['authorization'], 'Bearer kept');
  assert.equal(seen['cookie'], 'a=1');
});

test('a chunked request body is re-framed for the instance, not forwarded with the client framing', async (t) => {
  const origin = await startOrigin('a', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => res.end(Buffer.concat(chunks)));
  });
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url]));
  t.after(() => lb.close());
  const reply = await send(lb.url('/'), {
    method: 'POST',
    headers: { 'transfer-encoding': 'chunked' },
    body: 'abc'.repeat(1000),
  });
  assert.equal(reply.body, 'abc'.repeat(1000));
});

test('a chunked upload that waits for the response between chunks still streams once the read-ahead gives up', async (t) => {
  // The balancer reads a chunked body ahead (to refuse broken framing before the instance sees anything), but only
  // for a moment: a client that talks back and forth over one request must not deadlock.
  const origin = await startOrigin('a', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    req.on('data', (chunk: Buffer) => res.write(`echo:${chunk.toString()};`));
    req.on('end', () => res.end('done'));
  });
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url]));
  t.after(() => lb.close());
  const started = Date.now();
  const request = httpRequest(lb.url('/talk'), { method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    request.on('response', resolve).on('error', reject);
    request.write('one');
  });
  response.setEncoding('utf8');
  const received: string[] = [];
  const nextData = (): Promise<string> =>
    new Promise((resolve) => response.once('data', (data: string) => resolve(data)));
  let text = '';
  while (!text.includes('echo:one;')) text += await nextData();
  received.push(text);
  request.write('two');
  text = '';
  while (!text.includes('echo:two;')) text += await nextData();
  received.push(text);
  request.end();
  let tail = '';
  for await (const data of response) tail += String(data);
  assert.deepEqual(received, ['echo:one;', 'echo:two;']);
  assert.equal(tail, 'done');
  assert.ok(Date.now() - started < 10_000, 'the first chunk went on after the read-ahead window, not at the end');
});

test('hop-by-hop response headers never reach the client; Set-Cookie duplicates survive', async (t) => {
  const origin = await startOrigin('a', (req, res) => {
    req.resume();
    res.writeHead(200, [
      'Connection',
      'X-Upstream-Hop',
      'X-Upstream-Hop',
      'secret',
      'Keep-Alive',
      'timeout=99',
      'Proxy-Connection',
      'keep-alive',
      'Upgrade',
      'h2c',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Content-Length',
      '2',
    ]);
    res.end('ok');
  });
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url]));
  t.after(() => lb.close());
  const reply = await send(lb.url('/'));
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'ok');
  assert.equal(reply.headers['x-upstream-hop'], undefined);
  assert.equal(reply.headers['proxy-connection'], undefined);
  assert.equal(reply.headers['upgrade'], undefined);
  assert.notEqual(reply.headers['keep-alive'], 'timeout=99');
  assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(reply.headers['via'], '1.1 switchyard');
  assert.match(String(reply.headers['x-request-id']), /^[0-9a-f-]{36}$/);
});

test('the instance sees X-Forwarded-For/-Proto/-Host, X-Real-IP, Forwarded, Via and a request id', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url]));
  t.after(() => lb.close());
  await send(lb.url('/'), { headers: { host: 'shop.example.com:8080', via: '1.0 corporate-proxy' } });
  const seen = origin.requests[0]!.headers;
  assert.equal(seen['host'], 'shop.example.com:8080');
  assert.equal(seen['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], 'shop.example.com:8080');
  assert.equal(seen['x-real-ip'], '127.0.0.1');
  assert.equal(seen['forwarded'], 'for=127.0.0.1;host="shop.example.com:8080";proto=http');
  assert.equal(seen['via'], '1.0 corporate-proxy, 1.1 switchyard');
  assert.match(String(seen['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('forwarding headers spoofed by an untrusted client are replaced, not passed on', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url]));
  t.after(() => lb.close());
  await send(lb.url('/'), {
    headers: {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'bank.example',
      'x-real-ip': '6.6.6.6',
      forwarded: 'for=6.6.6.6;proto=https',
      'x-request-id': 'chosen-by-attacker',
    },
  });
  const seen = origin.requests[0]!.headers;
  assert.equal(seen['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], `127.0.0.1:${lb.port()}`);
  assert.equal(seen['x-real-ip'], '127.0.0.1');
  assert.equal(seen['forwarded'], `for=127.0.0.1;host="127.0.0.1:${lb.port()}";proto=http`);
  assert.notEqual(seen['x-request-id'], 'chosen-by-attacker');
});

test('from a trusted proxy, forwarding headers are appended to and the client is the right-most untrusted hop', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url], {}, { trustedProxies: ['127.0.0.0/8', '10.0.0.0/8'] }));
  t.after(() => lb.close());
  await send(lb.url('/'), {
    headers: {
      'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example.com',
      forwarded: 'for=203.0.113.9;proto=https',
      'x-request-id': 'edge-42',
    },
  });
  const seen = origin.requests[0]!.headers;
  assert.equal(seen['x-forwarded-for'], '6.6.6.6, 203.0.113.9, 10.1.2.3, 127.0.0.1');
  assert.equal(seen['x-real-ip'], '203.0.113.9');
  assert.equal(seen['x-forwarded-proto'], 'https');
  assert.equal(seen['x-forwarded-host'], 'shop.example.com');
  assert.equal(
    seen['forwarded'],
    `for=203.0.113.9;proto=https, for=127.0.0.1;host="127.0.0.1:${lb.port()}";proto=http`,
  );
  assert.equal(seen['x-request-id'], 'edge-42');
});

test('keep-alive: many requests on one client connection are all answered', async (t) => {
  const origins = await Promise.all(['a', 'b'].map((name) => startOrigin(name)));
  t.after(() => Promise.all(origins.map((o) => o.close())));
  const lb = await startSwitchyard(configWith(origins.map((o) => o.url)));
  t.after(() => lb.close());
  const bodies: string[] = [];
  for (let i = 0; i < 50; i++) {
    const res = await fetch(lb.url(`/${i}`));
    bodies.push(await res.text());
  }
  assert.equal(bodies.filter((b) => b === 'a').length, 25);
  assert.equal(bodies.filter((b) => b === 'b').length, 25);
});
