import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import { send, type Reply } from './helpers/http.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { rawExchange, runCli, startSwitchyard, statusOf, type TestSwitchyard } from './helpers/switchyard.js';

/** One request with the target sent exactly as written, on a fresh connection. */
function call(
  port: number,
  target: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {},
): Promise<Reply> {
  return send({ port, path: target }, options);
}

const listeners = [
  { name: 'web', protocol: 'http' as const, address: '127.0.0.1:0' },
  { name: 'internal', protocol: 'http' as const, address: '127.0.0.1:0' },
];

// One balancer for the matcher cases: every origin answers with its name, so the body says which route won.
const names = ['api', 'web', 'admin', 'v2', 'fallback'] as const;
let origins: Record<(typeof names)[number], Origin>;
let lb: TestSwitchyard;

before(async () => {
  const started = await Promise.all(names.map((name) => startOrigin(name)));
  origins = Object.fromEntries(names.map((name, i) => [name, started[i]!])) as typeof origins;
  const services = Object.fromEntries(names.map((name) => [name, { endpoints: [{ url: origins[name].url }] }]));
  lb = await startSwitchyard({
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners,
    routes: [
      { name: 'api-host', match: { host: 'api.example.com' }, service: 'api' },
      { name: 'wild-admin', match: { host: '*.example.com', path: { prefix: '/admin' } }, service: 'admin' },
      { name: 'site', match: { path: { prefix: '/site' } }, service: 'web' },
      { name: 'users-me', match: { path: { exact: '/users/me' } }, service: 'admin' },
      { name: 'users-id', match: { path: { regex: '/users/[0-9]+' } }, service: 'v2' },
      { name: 'users', match: { path: { prefix: '/users' } }, service: 'web' },
      { name: 'writes', match: { path: { prefix: '/items' }, methods: ['post', 'PUT'] }, service: 'v2' },
      { name: 'items', match: { path: { prefix: '/items' } }, service: 'web' },
      { name: 'tenant', match: { path: { prefix: '/t' }, headers: { 'X-Tenant': 'acme' } }, service: 'v2' },
      { name: 'beta', match: { path: { prefix: '/t' }, headers: { 'x-beta': { regex: 'on|yes' } } }, service: 'admin' },
      {
        name: 'authed',
        match: { path: { prefix: '/t' }, headers: { authorization: { present: true } } },
        service: 'api',
      },
      { name: 'anonymous', match: { path: { prefix: '/t' }, headers: { cookie: { absent: true } } }, service: 'web' },
      { name: 'v2-query', match: { path: { prefix: '/q' }, query: { version: 2 } }, service: 'v2' },
      { name: 'debug', match: { path: { prefix: '/q' }, query: { debug: { present: true } } }, service: 'admin' },
      { name: 'office', match: { path: { prefix: '/office' }, clientCidrs: ['10.0.0.0/8'] }, service: 'admin' },
      { name: 'loopback', match: { path: { prefix: '/office' }, clientCidrs: ['127.0.0.0/8', '::1'] }, service: 'v2' },
      { name: 'internal-only', listeners: ['internal'], match: { path: { prefix: '/internal' } }, service: 'admin' },
      {
        name: 'maintenance',
        priority: 100,
        match: { path: { prefix: '/legacy' } },
        respond: { status: 503, body: 'down for maintenance' },
      },
      { name: 'legacy-api', match: { path: { prefix: '/legacy/api' } }, service: 'api' },
      { name: 'catch-all', listeners: ['web'], service: 'fallback' },
    ],
    services,
  });
});

after(async () => {
  await lb?.close();
  await Promise.all(Object.values(origins ?? {}).map((origin) => origin.close()));
});

const web = (target: string, options: Parameters<typeof call>[2] = {}) => call(lb.port('web'), target, options);
const bodyAt = async (target: string, options: Parameters<typeof call>[2] = {}) => (await web(target, options)).body;

test('an exact host wins over every path route, whatever the case or port of Host', async () => {
  assert.equal(await bodyAt('/site/x', { headers: { host: 'API.Example.COM:8080' } }), 'api');
  assert.equal(await bodyAt('/users/1', { headers: { host: 'api.example.com.' } }), 'api');
});

test('a wildcard host with a path prefix needs both; the bare domain is not under the wildcard', async () => {
  assert.equal(await bodyAt('/admin/users', { headers: { host: 'shop.eu.example.com' } }), 'admin');
  assert.equal(await bodyAt('/admin/users', { headers: { host: 'example.com' } }), 'fallback');
  assert.equal(await bodyAt('/other', { headers: { host: 'shop.example.com' } }), 'fallback');
});

test('a path prefix matches whole segments only', async () => {
  assert.equal(await bodyAt('/site'), 'web');
  assert.equal(await bodyAt('/site/index.html'), 'web');
  assert.equal(await bodyAt('/sitemap.xml'), 'fallback');
});

test('an exact path beats a regex, which beats a prefix; a regex must match the whole path', async () => {
  assert.equal(await bodyAt('/users/me'), 'admin');
  assert.equal(await bodyAt('/users/42'), 'v2');
  assert.equal(await bodyAt('/users/42/avatar'), 'web');
  assert.equal(await bodyAt('/users/abc'), 'web');
});

test('a method condition takes only the listed methods (written in any case)', async () => {
  assert.equal(await bodyAt('/items/1', { method: 'POST', body: 'x' }), 'v2');
  assert.equal(await bodyAt('/items/1', { method: 'PUT', body: 'x' }), 'v2');
  assert.equal(await bodyAt('/items/1'), 'web');
  assert.equal(await bodyAt('/items/1', { method: 'DELETE' }), 'web');
});

test('a header condition matches an exact value; the header name is case-insensitive, the value is not', async () => {
  assert.equal(await bodyAt('/t', { headers: { 'x-tenant': 'acme', cookie: 'a=1' } }), 'v2');
  assert.equal(await bodyAt('/t', { headers: { 'x-tenant': 'ACME', cookie: 'a=1' } }), 'fallback');
});

test('a header regex must match the whole value', async () => {
  assert.equal(await bodyAt('/t', { headers: { 'x-beta': 'yes', cookie: 'a=1' } }), 'admin');
  assert.equal(await bodyAt('/t', { headers: { 'x-beta': 'yess', cookie: 'a=1' } }), 'fallback');
});

test('present and absent header conditions', async () => {
  assert.equal(await bodyAt('/t', { headers: { authorization: 'Bearer x', cookie: 'a=1' } }), 'api');
  assert.equal(await bodyAt('/t'), 'web', 'no cookie: the anonymous route');
  assert.equal(await bodyAt('/t', { headers: { cookie: 'a=1' } }), 'fallback');
});

test('a query condition matches a decoded parameter, in any position and among repeats', async () => {
  assert.equal(await bodyAt('/q?version=2'), 'v2');
  assert.equal(await bodyAt('/q?a=1&version=1&version=2'), 'v2');
  assert.equal(await bodyAt('/q?version=%32'), 'v2');
  assert.equal(await bodyAt('/q?version=3'), 'fallback');
});

test('a query parameter can be required to be present, with or without a value', async () => {
  assert.equal(await bodyAt('/q?debug'), 'admin');
  assert.equal(await bodyAt('/q?debug=0'), 'admin');
  assert.equal(await bodyAt('/q?nodebug=1'), 'fallback');
});

test('client CIDRs decide between routes by the client address', async () => {
  assert.equal(await bodyAt('/office'), 'v2', 'the test client is on loopback, not 10/8');
});

test('a route limited to one listener is not seen on another; no route at all is 404', async () => {
  assert.equal((await call(lb.port('internal'), '/internal/x')).body, 'admin');
  assert.equal(await bodyAt('/internal/x'), 'fallback');
  const miss = await call(lb.port('internal'), '/nowhere');
  assert.equal(miss.status, 404);
  assert.equal((JSON.parse(miss.body) as { type: string }).type, 'https://switchyard.dev/problems/no_route');
});

test('an explicit priority wins over a more specific route', async () => {
  const reply = await web('/legacy/api/users');
  assert.equal(reply.status, 503);
  assert.equal(reply.body, 'down for maintenance');
  assert.equal(origins.api.requests.filter((r) => r.url.startsWith('/legacy')).length, 0);
});

test('the instance receives the normalised path and the query as sent', async () => {
  const seen = origins.web.requests.length;
  await web('/site//a/./b/../%7Euser/%c3%a9?x=%2F&y=a+b');
  assert.equal(origins.web.requests[seen]?.url, '/site/a/~user/%C3%A9?x=%2F&y=a+b');
});

/** A balancer over one recording origin with the given routes (service `app`), for the action cases. */
async function withRoutes(t: TestContext, routes: unknown[], handler?: Parameters<typeof startOrigin>[1]) {
  const origin = await startOrigin('app', handler);
  t.after(() => origin.close());
  const config = {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [listeners[0]!],
    routes,
    services: { app: { endpoints: [{ url: origin.url }] } },
  } as SwitchyardConfigInput;
  const started = await startSwitchyard(config);
  t.after(() => started.close());
  return { origin, port: started.port(), balancer: started };
}

test("a listener's own service takes what no route matched, even after negative priorities", async (t) => {
  const [main, last, fallback] = await Promise.all([startOrigin('main'), startOrigin('last'), startOrigin('fallback')]);
  t.after(() => Promise.all([main.close(), last.close(), fallback.close()]));
  const started = await startSwitchyard({
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ ...listeners[0]!, service: 'fallback' }],
    routes: [
      { match: { path: { prefix: '/main' } }, service: 'main' },
      { priority: -10, match: { methods: ['DELETE'] }, service: 'last' },
    ],
    services: {
      main: { endpoints: [{ url: main.url }] },
      last: { endpoints: [{ url: last.url }] },
      fallback: { endpoints: [{ url: fallback.url }] },
    },
  });
  t.after(() => started.close());
  assert.equal((await call(started.port(), '/main/x', { method: 'DELETE' })).body, 'main');
  assert.equal((await call(started.port(), '/x', { method: 'DELETE' })).body, 'last');
  assert.equal((await call(started.port(), '/x')).body, 'fallback');
});

test('a new configuration swaps the route table for the next requests', async (t) => {
  const { origin, port, balancer } = await withRoutes(t, [{ match: { path: { prefix: '/v1' } }, service: 'app' }]);
  assert.equal((await call(port, '/v2/x')).status, 404);
  const next = {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ ...listeners[0]!, address: `127.0.0.1:${port}` }],
    routes: [{ match: { path: { prefix: '/v2' } }, rewrite: { replacePrefix: '/v1' }, service: 'app' }],
    services: { app: { endpoints: [{ url: origin.url }] } },
  } as SwitchyardConfigInput;
  await balancer.apply(next);
  assert.equal((await call(port, '/v2/x')).status, 200);
  assert.equal((await call(port, '/v1/x')).status, 404);
  assert.deepEqual(
    origin.requests.map((r) => r.url),
    ['/v1/x'],
  );
});

test('stripPrefix removes the matched segments before forwarding; the query is kept', async (t) => {
  const { origin, port } = await withRoutes(t, [
    { match: { path: { prefix: '/api/' } }, rewrite: { stripPrefix: '/api' }, service: 'app' },
  ]);
  await call(port, '/api/users/7?fields=name');
  await call(port, '/api');
  assert.deepEqual(
    origin.requests.map((r) => r.url),
    ['/users/7?fields=name', '/'],
  );
});

test('replacePrefix swaps the matched prefix and replacePath the whole path', async (t) => {
  const { origin, port } = await withRoutes(t, [
    { match: { path: { prefix: '/old' } }, rewrite: { replacePrefix: '/new/v2' }, service: 'app' },
    { match: { path: { prefix: '/promo' } }, rewrite: { replacePath: '/landing.html' }, service: 'app' },
  ]);
  await call(port, '/old/a/b?x=1');
  await call(port, '/promo/spring/2025');
  assert.deepEqual(
    origin.requests.map((r) => r.url),
    ['/new/v2/a/b?x=1', '/landing.html'],
  );
});

test('an HTTP to HTTPS redirect answers 308 with the same host, path and query', async (t) => {
  const { origin, port } = await withRoutes(t, [{ redirect: { scheme: 'https', status: 308 } }]);
  const reply = await call(port, '/cart/../checkout?step=2', { method: 'POST', headers: { host: 'shop.test:8080' } });
  assert.equal(reply.status, 308);
  assert.equal(reply.headers['location'], 'https://shop.test/checkout?step=2');
  assert.equal(reply.headers['content-length'], '0');
  assert.equal(origin.requests.length, 0);
});

test('a redirect template builds Location from the request; 301 as configured', async (t) => {
  const { port } = await withRoutes(t, [
    { match: { path: { prefix: '/docs' } }, redirect: { to: 'https://docs.{host}{path}{query}', status: 301 } },
  ]);
  const reply = await call(port, '/docs/intro?lang=en', { headers: { host: 'example.com' } });
  assert.equal(reply.status, 301);
  assert.equal(reply.headers['location'], 'https://docs.example.com/docs/intro?lang=en');
});

test('a redirect to another host defaults to 302, can drop the query and follows the rewrite', async (t) => {
  const { port } = await withRoutes(t, [
    {
      match: { path: { prefix: '/blog' } },
      rewrite: { stripPrefix: '/blog' },
      redirect: { host: 'blog.example.com', dropQuery: true },
    },
  ]);
  const reply = await call(port, '/blog/2024/post?utm=x', { headers: { host: 'example.com' } });
  assert.equal(reply.status, 302);
  assert.equal(reply.headers['location'], 'http://blog.example.com/2024/post');
});

test('a fixed response answers without an instance; HEAD gets the headers without the body', async (t) => {
  const { origin, port } = await withRoutes(t, [
    { match: { path: { prefix: '/admin' } }, respond: { status: 403, body: '<h1>No</h1>', contentType: 'text/html' } },
    { service: 'app' },
  ]);
  const reply = await call(port, '/admin/users');
  assert.equal(reply.status, 403);
  assert.equal(reply.body, '<h1>No</h1>');
  assert.equal(reply.headers['content-type'], 'text/html');
  assert.equal(reply.headers['content-length'], '11');
  assert.match(String(reply.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  const head = await call(port, '/admin', { method: 'HEAD' });
  assert.equal(head.status, 403);
  assert.equal(head.body, '');
  assert.equal(origin.requests.length, 0);
});

test('request header rules remove, set and add before the request reaches the instance', async (t) => {
  const { origin, port } = await withRoutes(t, [
    {
      requestHeaders: {
        remove: ['X-Debug', 'cookie'],
        set: { 'x-env': 'prod', host: 'internal.app' },
        add: { 'x-added': 'one', 'X-Tag': 'route' },
      },
      service: 'app',
    },
  ]);
  await call(port, '/', {
    headers: { 'x-debug': '1', cookie: 'a=1', 'x-env': 'dev', 'x-tag': 'client', host: 'public.app' },
  });
  const seen = origin.requests[0]!.headers;
  assert.equal(seen['x-debug'], undefined);
  assert.equal(seen['cookie'], undefined);
  assert.equal(seen['x-env'], 'prod');
  assert.equal(seen['host'], 'internal.app');
  assert.equal(seen['x-added'], 'one');
  assert.equal(seen['x-tag'], 'client, route', 'add appends beside the client value');
  assert.equal(seen['x-forwarded-host'], 'public.app', 'forwarding headers describe what the client sent');
});

test('response header rules remove, set and add before the response reaches the client', async (t) => {
  const { port } = await withRoutes(
    t,
    [
      {
        responseHeaders: {
          remove: ['server', 'x-powered-by'],
          set: { 'cache-control': 'no-store' },
          add: { 'strict-transport-security': 'max-age=63072000' },
        },
        service: 'app',
      },
    ],
    (req, res) => {
      req.resume();
      res.writeHead(200, { server: 'nginx', 'x-powered-by': 'php', 'cache-control': 'max-age=3600', 'x-kept': '1' });
      res.end('ok');
    },
  );
  const reply = await call(port, '/');
  assert.equal(reply.body, 'ok');
  assert.equal(reply.headers['server'], undefined);
  assert.equal(reply.headers['x-powered-by'], undefined);
  assert.equal(reply.headers['cache-control'], 'no-store');
  assert.equal(reply.headers['strict-transport-security'], 'max-age=63072000');
  assert.equal(reply.headers['x-kept'], '1');
});

test('response header rules apply to fixed responses and redirects too', async (t) => {
  const { port } = await withRoutes(t, [
    { match: { path: { exact: '/teapot' } }, respond: { status: 418 }, responseHeaders: { add: { 'x-brewed': 'no' } } },
    {
      match: { path: { exact: '/moved' } },
      redirect: { path: '/new', status: 307 },
      responseHeaders: { set: { 'cache-control': 'no-cache' } },
    },
  ]);
  const teapot = await call(port, '/teapot');
  assert.equal(teapot.status, 418);
  assert.equal(teapot.headers['x-brewed'], 'no');
  const moved = await call(port, '/moved?a=1', { headers: { host: 'h.test' } });
  assert.equal(moved.status, 307);
  assert.equal(moved.headers['location'], 'http://h.test/new?a=1');
  assert.equal(moved.headers['cache-control'], 'no-cache');
});

const echoBodyLength: Parameters<typeof startOrigin>[1] = (req, res) => {
  let length = 0;
  req.on('data', (chunk: Buffer) => (length += chunk.length));
  req.on('end', () => res.end(String(length)));
};

test('a declared body over the route limit gets 413 before the instance sees anything', async (t) => {
  const { origin, port } = await withRoutes(
    t,
    [{ match: { path: { prefix: '/upload' } }, maxBodyBytes: 64, service: 'app' }, { service: 'app' }],
    echoBodyLength,
  );
  const reply = await call(port, '/upload', { method: 'POST', body: 'x'.repeat(200) });
  assert.equal(reply.status, 413);
  assert.equal(reply.headers['content-type'], 'application/problem+json');
  assert.equal(origin.requests.length, 0);
  assert.equal((await call(port, '/upload', { method: 'POST', body: 'x'.repeat(64) })).body, '64');
  assert.equal((await call(port, '/elsewhere', { method: 'POST', body: 'x'.repeat(200) })).body, '200');
});

test('a chunked body is counted as it streams: over the route limit is 413, under it passes', async (t) => {
  const { port } = await withRoutes(t, [{ maxBodyBytes: 1000, service: 'app' }], echoBodyLength);
  const chunked = { 'transfer-encoding': 'chunked' };
  const over = await call(port, '/', { method: 'POST', headers: chunked, body: 'y'.repeat(3000) });
  assert.equal(over.status, 413);
  assert.equal((JSON.parse(over.body) as { status: number }).status, 413);
  const under = await call(port, '/', { method: 'POST', headers: chunked, body: 'y'.repeat(1000) });
  assert.equal(under.status, 200);
  assert.equal(under.body, '1000');
});

test("a route's firstByteMs overrides the service's: 504 on that route, an answer on the others", async (t) => {
  const { port } = await withRoutes(
    t,
    [{ match: { path: { prefix: '/hurry' } }, timeouts: { firstByteMs: 200 }, service: 'app' }, { service: 'app' }],
    (req, res) => {
      req.resume();
      setTimeout(() => res.end('late'), 2_500);
    },
  );
  const started = Date.now();
  const hurried = await call(port, '/hurry');
  const elapsedMs = Date.now() - started;
  assert.equal(hurried.status, 504);
  assert.equal((JSON.parse(hurried.body) as { type: string }).type, 'https://switchyard.dev/problems/upstream_timeout');
  // undici checks header timeouts on a ~0.5 s tick, so 200 ms fires within about a second.
  assert.ok(elapsedMs < 2_000, `answered after ${elapsedMs} ms`);
  const patient = await call(port, '/patient');
  assert.equal(patient.status, 200);
  assert.equal(patient.body, 'late');
});

test('no encoding of /admin gets past a respond-403 rule: each gets 403 or 400 and the instance sees none', async (t) => {
  const { origin, port } = await withRoutes(t, [
    { match: { path: { prefix: '/admin', ignoreCase: true } }, respond: { status: 403 } },
    { service: 'app' },
  ]);
  const attempts = [
    '/admin',
    '/admin/',
    '/admin/users',
    '//admin',
    '///admin//users',
    '/./admin',
    '/admin/.',
    '/a/../admin',
    '/public/../admin/x',
    '/%2e%2e/admin',
    '/%2E%2E/admin',
    '/.%2e/admin',
    '/%2e/admin',
    '/public/%2e%2e/admin',
    '/%61dmin',
    '/%61%64%6d%69%6e',
    '/ADMIN',
    '/%41dMiN',
    '/admin;jsessionid=x',
    '/;x/admin',
    '/admin?next=/public',
    '/public%2F..%2Fadmin',
    '/public%2f..%2fadmin',
    '/%2Fadmin',
    '/public\\..\\admin',
    '/public%5C..%5Cadmin',
    '/admin%00',
    '/public/..;/admin',
    '/public/%2e%2e;x/admin',
    '/%zz/../admin',
  ];
  for (const target of attempts) {
    for (const method of ['GET', 'POST']) {
      const reply = await call(port, target, { method });
      assert.ok(reply.status === 403 || reply.status === 400, `${method} ${target} answered ${reply.status}`);
    }
  }
  const absolute = await rawExchange(
    port,
    `GET http://127.0.0.1:${port}/public/../admin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(statusOf(absolute.response), 403);
  assert.deepEqual(
    origin.requests.map((r) => r.url),
    [],
  );
  assert.equal((await call(port, '/public/page')).status, 200, 'everything else still reaches the instance');
});

test('OPTIONS * is answered by the balancer itself: no route and no instance sees it', async (t) => {
  const { origin, port } = await withRoutes(t, [{ service: 'app' }]);
  const { response } = await rawExchange(port, 'OPTIONS * HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n');
  assert.equal(statusOf(response), 200);
  assert.match(response, /content-length: 0/i);
  assert.equal(origin.requests.length, 0);
});

test('an encoded slash is refused with a 400 invalid_path problem document', async (t) => {
  const { origin, port } = await withRoutes(t, [{ service: 'app' }]);
  const reply = await call(port, '/files/a%2Fb');
  assert.equal(reply.status, 400);
  const problem = JSON.parse(reply.body) as { type: string; detail: string };
  assert.equal(problem.type, 'https://switchyard.dev/problems/invalid_path');
  assert.match(problem.detail, /encoded slash/);
  assert.equal(origin.requests.length, 0);
});

test('validate warns about routes a route tried before them always takes, and still exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-routing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'shadowed.yaml');
  await writeFile(
    file,
    `listeners:
  - { name: web, protocol: http, address: "127.0.0.1:0" }
routes:
  - name: everything
    priority: 1
    service: app
  - name: api
    match: { path: { prefix: /api } }
    service: app
  - match: { path: { prefix: /files }, methods: [GET] }
    service: app
  - match: { path: { prefix: /files/img }, methods: [GET] }
    priority: 1
    service: app
services:
  app:
    endpoints: [{ url: "http://127.0.0.1:3000" }]
`,
  );
  const result = await runCli(['validate', '-c', file]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, 'ok\n');
  assert.deepEqual(result.stderr.trim().split('\n'), [
    `${file}:7:5 routes.1: warning: never reached on listener web: route "everything" (routes.0) is tried first and matches every request it matches`,
    `${file}:10:5 routes.2: warning: never reached on listener web: route "everything" (routes.0) is tried first and matches every request it matches`,
  ]);
  assert.doesNotMatch(result.stderr, /routes\.3/, 'as prioritised and more specific, routes.3 is tried first');
});

test('validate refuses a route with two actions or none, and a route name used twice, with their positions', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-routing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'actions.yaml');
  await writeFile(
    file,
    `listeners:
  - { name: web, protocol: http, address: "127.0.0.1:0" }
routes:
  - { match: { path: { prefix: /a } }, service: app, respond: { status: 403 } }
  - { match: { path: { prefix: /b } } }
  - { name: twice, match: { path: { prefix: /c } }, service: app }
  - { name: twice, match: { path: { prefix: /d } }, service: app }
services:
  app:
    endpoints: [{ url: "http://127.0.0.1:3000" }]
`,
  );
  const result = await runCli(['validate', '-c', file]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.stderr.trim().split('\n'), [
    `${file}:4:63 routes.0.respond: give only one of service, redirect and respond (not service)`,
    `${file}:5:5 routes.1.service: required: give service, redirect or respond`,
    `${file}:7:13 routes.3.name: duplicate route name "twice"`,
  ]);
});
