import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { register } from '../../src/client/register.js';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import { createSwitchyard } from '../../src/main.js';
import {
  adminConfigWith,
  capturedLogger,
  endpointsOf,
  eventually,
  readToken,
  spawnCli,
  startWithAdmin,
  type AdminSwitchyard,
  type ApiReply,
} from './helpers/admin.js';
import { send } from './helpers/http.js';
import { startSwitchyard } from './helpers/switchyard.js';
import { startOrigin, type Origin, type OriginHandler } from './helpers/origin.js';
import { runCli } from './helpers/switchyard.js';

/** Answers `200 <name>` at once, except `/slow`, which it answers after `delayMs`. */
const slowOnPath =
  (delayMs: number): OriginHandler =>
  (req, res, origin) => {
    req.resume();
    req.on('end', () => {
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': origin.name });
        res.end(origin.name);
      };
      if (req.url === '/slow') setTimeout(answer, delayMs);
      else answer();
    });
  };

async function origin(t: TestContext, name: string, handler?: OriginHandler): Promise<Origin> {
  const started = await startOrigin(name, handler);
  t.after(() => started.close());
  return started;
}

async function balancer(
  t: TestContext,
  config: SwitchyardConfigInput,
  options?: Parameters<typeof startWithAdmin>[1],
): Promise<AdminSwitchyard> {
  const lb = await startWithAdmin(config, options);
  t.after(() => lb.close());
  return lb;
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-admin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The endpoint id Switchyard gives a URL when none is sent: its `host:port`. */
const idOf = (o: Origin): string => `127.0.0.1:${o.port}`;

/** The bodies (origin names) of `n` requests sent one after the other. */
async function servedBy(lb: AdminSwitchyard, n: number, path = '/'): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    const reply = await send(lb.url(path));
    bodies.push(`${reply.status} ${reply.body}`);
  }
  return bodies;
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  problems?: string[];
}

function assertProblem(reply: ApiReply, status: number): Problem {
  assert.equal(reply.status, status, reply.body);
  assert.equal(reply.headers['content-type'], 'application/problem+json');
  const problem = reply.json as Problem;
  assert.equal(problem.status, status);
  assert.ok(problem.title.length > 0);
  return problem;
}

const registerPath = '/api/services/app/endpoints';

test('a registered instance gets the very next request, and registering again with the same id changes nothing', async (t) => {
  const instance = await origin(t, 'instance');
  const lb = await balancer(t, adminConfigWith([]));
  assert.equal((await send(lb.url('/'))).status, 503);

  const before = Date.now();
  const created = await lb.api('POST', registerPath, { body: { id: 'inst-1', url: instance.url, ttlSeconds: 30 } });
  assert.equal(created.status, 201);
  const { id, leaseExpiresAt } = created.json as { id: string; leaseExpiresAt: string };
  assert.equal(id, 'inst-1');
  assert.equal(new Date(leaseExpiresAt).toISOString(), leaseExpiresAt);
  const leaseMs = Date.parse(leaseExpiresAt) - before;
  assert.ok(leaseMs > 29_000 && leaseMs < 31_000, `lease of ${leaseMs} ms`);

  const reply = await send(lb.url('/'));
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'instance');

  const again = await lb.api('POST', registerPath, { body: { id: 'inst-1', url: instance.url, ttlSeconds: 30 } });
  assert.equal(again.status, 200);
  assert.equal((again.json as { id: string }).id, 'inst-1');
  assert.deepEqual(
    (await endpointsOf(lb)).map((e) => e.id),
    ['inst-1'],
  );
});

test('an instance registered without an id is known by its host:port, idempotently', async (t) => {
  const instance = await origin(t, 'instance');
  const lb = await balancer(t, adminConfigWith([]));
  const first = await lb.api('POST', registerPath, { body: { url: instance.url } });
  assert.equal(first.status, 201);
  assert.deepEqual(first.json, { id: idOf(instance), leaseExpiresAt: null });
  const second = await lb.api('POST', registerPath, { body: { url: `${instance.url}/` } });
  assert.equal(second.status, 200);
  assert.deepEqual(
    (await endpointsOf(lb)).map((e) => e.id),
    [idOf(instance)],
  );
});

test('heartbeats keep a lease alive; without them the endpoint stops getting traffic within the TTL', async (t) => {
  const instance = await origin(t, 'instance');
  const lb = await balancer(t, adminConfigWith([]));
  const created = await lb.api('POST', registerPath, { body: { id: 'beating', url: instance.url, ttlSeconds: 1 } });
  assert.equal(created.status, 201);
  let lease = Date.parse((created.json as { leaseExpiresAt: string }).leaseExpiresAt);

  // 2.5 s of heartbeats every 300 ms: well past the 1 s lease.
  const until = Date.now() + 2_500;
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const beat = await lb.api('PUT', `${registerPath}/beating/heartbeat`, { body: { load: 0.25 } });
    assert.equal(beat.status, 200, beat.body);
    const renewed = Date.parse((beat.json as { leaseExpiresAt: string }).leaseExpiresAt);
    assert.ok(renewed > lease, 'each heartbeat moves the lease forward');
    lease = renewed;
  }
  const [endpoint] = await endpointsOf(lb);
  assert.equal(endpoint?.load, 0.25);
  assert.equal(endpoint.lease?.ttlSeconds, 1);
  assert.equal((await send(lb.url('/'))).body, 'instance');

  // No more heartbeats: the lease ends about 1 s after the last one, and the sweep removes the endpoint.
  const goneAfterMs = await eventually(
    'the expired endpoint answers 503',
    async () => {
      return (await send(lb.url('/'))).status === 503;
    },
    2_500,
  );
  assert.ok(goneAfterMs >= 500, `gone after ${goneAfterMs} ms, before its lease ended`);
  assert.deepEqual(await endpointsOf(lb), []);
  assertProblem(await lb.api('PUT', `${registerPath}/beating/heartbeat`), 404);
});

test('a heartbeat for an id nobody registered answers 404', async (t) => {
  const lb = await balancer(t, adminConfigWith([]));
  const problem = assertProblem(await lb.api('PUT', `${registerPath}/ghost/heartbeat`, { body: { load: 1 } }), 404);
  assert.match(problem.detail ?? '', /ghost/);
});

test('deregistering lets the request in flight finish and sends new requests elsewhere', async (t) => {
  const x = await origin(t, 'x', slowOnPath(800));
  const y = await origin(t, 'y');
  const lb = await balancer(t, adminConfigWith([]));
  assert.equal((await lb.api('POST', registerPath, { body: { id: 'x', url: x.url } })).status, 201);
  const inFlight = send(lb.url('/slow'));
  await eventually('x received the slow request', () => x.requests.some((r) => r.url === '/slow'));
  assert.equal((await lb.api('POST', registerPath, { body: { id: 'y', url: y.url } })).status, 201);

  const removed = await lb.api('DELETE', `${registerPath}/x`);
  assert.equal(removed.status, 204);
  assert.equal(removed.body, '');
  assert.deepEqual(await servedBy(lb, 4), ['200 y', '200 y', '200 y', '200 y']);
  const slow = await inFlight;
  assert.equal(slow.status, 200);
  assert.equal(slow.body, 'x');
  assert.deepEqual(
    x.requests.map((r) => r.url),
    ['/slow'],
  );
  assert.deepEqual(
    (await endpointsOf(lb)).map((e) => e.id),
    ['y'],
  );
  assertProblem(await lb.api('DELETE', `${registerPath}/x`), 404);
});

test('drain stops new requests while the one in flight finishes; maint keeps it out; ready brings it back', async (t) => {
  const a = await origin(t, 'a', slowOnPath(800));
  const b = await origin(t, 'b', slowOnPath(800));
  const lb = await balancer(t, adminConfigWith([a.url, b.url]));
  const inFlight = send(lb.url('/slow'));
  await eventually('an origin received the slow request', () =>
    [a, b].some((o) => o.requests.some((r) => r.url === '/slow')),
  );
  const [busy, other] = a.requests.length > 0 ? [a, b] : [b, a];
  const statePath = `${registerPath}/${idOf(busy)}/state`;

  const drained = await lb.api('PUT', statePath, { body: { state: 'drain' } });
  assert.equal(drained.status, 200, drained.body);
  assert.equal((drained.json as { state: string }).state, 'drain');
  assert.equal((drained.json as { inFlight: number }).inFlight, 1);
  assert.equal((drained.json as { source: string }).source, 'config');
  assert.deepEqual(await servedBy(lb, 4), Array(4).fill(`200 ${other.name}`));
  const slow = await inFlight;
  assert.equal(`${slow.status} ${slow.body}`, `200 ${busy.name}`);

  assert.equal((await lb.api('PUT', statePath, { body: { state: 'maint' } })).status, 200);
  assert.deepEqual(await servedBy(lb, 4), Array(4).fill(`200 ${other.name}`));
  assert.deepEqual(
    busy.requests.map((r) => r.url),
    ['/slow'],
  );

  assert.equal((await lb.api('PUT', statePath, { body: { state: 'ready' } })).status, 200);
  const bodies = await servedBy(lb, 4);
  assert.equal(bodies.filter((body) => body === `200 ${busy.name}`).length, 2);
  assert.equal(bodies.filter((body) => body === `200 ${other.name}`).length, 2);

  const problem = assertProblem(await lb.api('DELETE', `${registerPath}/${idOf(busy)}`), 409);
  assert.match(problem.detail ?? '', /config/);
  assert.equal((await endpointsOf(lb)).length, 2);
});

test('a registered endpoint put in maintenance stays there when it registers again', async (t) => {
  const a = await origin(t, 'a');
  const r = await origin(t, 'r');
  const lb = await balancer(t, adminConfigWith([a.url]));
  assert.equal((await lb.api('POST', registerPath, { body: { id: 'r', url: r.url } })).status, 201);
  assert.equal((await lb.api('PUT', `${registerPath}/r/state`, { body: { state: 'maint' } })).status, 200);
  assert.equal((await lb.api('POST', registerPath, { body: { id: 'r', url: r.url } })).status, 200);
  assert.equal((await endpointsOf(lb)).find((e) => e.id === 'r')?.state, 'maint');
  assert.deepEqual(await servedBy(lb, 4), Array(4).fill('200 a'));
  assert.equal(r.requests.length, 0);
});

test('a config endpoint cannot be heartbeated or taken over by a registration (409)', async (t) => {
  const a = await origin(t, 'a');
  const lb = await balancer(t, adminConfigWith([a.url]));
  assertProblem(await lb.api('PUT', `${registerPath}/${idOf(a)}/heartbeat`), 409);
  assertProblem(await lb.api('POST', registerPath, { body: { url: a.url, ttlSeconds: 5 } }), 409);
  const [endpoint] = await endpointsOf(lb);
  assert.equal(endpoint?.source, 'config');
  assert.equal(endpoint.lease, null);
});

test('a weight of 3 against 1 gives exactly 6 of 8 requests by the smooth interleaving', async (t) => {
  const a = await origin(t, 'a');
  const b = await origin(t, 'b');
  const lb = await balancer(t, adminConfigWith([a.url, b.url]));
  const changed = await lb.api('PUT', `${registerPath}/${idOf(a)}/weight`, { body: { weight: 3 } });
  assert.equal(changed.status, 200, changed.body);
  assert.equal((changed.json as { weight: number }).weight, 3);
  assert.equal((changed.json as { effectiveWeight: number }).effectiveWeight, 3);
  const bodies = await servedBy(lb, 8);
  assert.deepEqual(bodies, ['200 a', '200 a', '200 b', '200 a', '200 a', '200 a', '200 b', '200 a']);
});

test('the read views show every endpoint with its state, health, weights, in-flight, source and lease', async (t) => {
  const a = await origin(t, 'a');
  const r = await origin(t, 'r');
  const lb = await balancer(t, adminConfigWith([a.url]));
  assert.equal((await lb.api('POST', registerPath, { body: { id: 'r', url: r.url, ttlSeconds: 30 } })).status, 201);

  const detail = await lb.api('GET', '/api/services/app', { token: readToken });
  assert.equal(detail.status, 200);
  assert.equal(detail.headers['content-type'], 'application/json');
  const endpoints = await endpointsOf(lb);
  for (const endpoint of endpoints) {
    for (const key of ['state', 'health', 'weight', 'effectiveWeight', 'inFlight', 'source', 'lease']) {
      assert.ok(key in endpoint, `${endpoint.id} lacks ${key}`);
    }
  }
  const [fromConfig, registered] = endpoints;
  assert.deepEqual(
    {
      id: fromConfig?.id,
      url: fromConfig?.url,
      source: fromConfig?.source,
      state: fromConfig?.state,
      health: fromConfig?.health,
      weight: fromConfig?.weight,
      effectiveWeight: fromConfig?.effectiveWeight,
      inFlight: fromConfig?.inFlight,
      lease: fromConfig?.lease,
    },
    {
      id: idOf(a),
      url: a.url,
      source: 'config',
      state: 'ready',
      health: 'up',
      weight: 1,
      effectiveWeight: 1,
      inFlight: 0,
      lease: null,
    },
  );
  assert.equal(registered?.id, 'r');
  assert.equal(registered.source, 'api');
  assert.equal(registered.state, 'ready');
  assert.equal(registered.weight, 1);
  // A newly registered endpoint ramps up (slow start), so its effective weight is a share of its weight.
  assert.ok(registered.effectiveWeight > 0 && registered.effectiveWeight <= 1);
  assert.equal(registered.lease?.ttlSeconds, 30);
  assert.equal(new Date(registered.lease.expiresAt).toISOString(), registered.lease.expiresAt);

  const overview = await lb.api('GET', '/api/overview', { token: readToken });
  assert.equal(overview.status, 200);
  assert.deepEqual((overview.json as { endpoints: unknown }).endpoints, { total: 2, healthy: 2 });
  const services = await lb.api('GET', '/api/services', { token: readToken });
  assert.equal(services.status, 200);
  assert.deepEqual(
    (services.json as { name: string; endpoints: number }[]).map((s) => [s.name, s.endpoints]),
    [['app', 2]],
  );
  const listeners = await lb.api('GET', '/api/listeners', { token: readToken });
  assert.equal(listeners.status, 200);
  assert.deepEqual(
    (listeners.json as { name: string; bound: string }[]).map((l) => [l.name, l.bound]),
    [['web', `127.0.0.1:${lb.address('web').port}`]],
  );
  const routes = await lb.api('GET', '/api/routes', { token: readToken });
  assert.equal(routes.status, 200);
  assert.deepEqual(
    (routes.json as { service: string }[]).map((route) => route.service),
    ['app'],
  );
  for (const reply of [detail, overview, services, listeners, routes]) {
    assert.doesNotMatch(reply.body, /"(adm|rd)"/, 'no token in a response');
  }

  const ping = await lb.api('GET', '/ping', { token: null });
  assert.equal(ping.status, 200);
  const ready = await lb.api('GET', '/ready', { token: null });
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.json, { status: 'ready' });
});

test('/ready answers 503 while the balancer drains, and /ping still 200', async (t) => {
  const a = await origin(t, 'a', slowOnPath(800));
  const lb = await startWithAdmin(adminConfigWith([a.url]));
  t.after(() => lb.close());
  const inFlight = send(lb.url('/slow'));
  await eventually('the origin received the slow request', () => a.requests.length === 1);
  const closing = lb.close(5_000);
  const ready = await lb.api('GET', '/ready', { token: null });
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.json, { status: 'draining' });
  assert.equal((await lb.api('GET', '/ping', { token: null })).status, 200);
  assert.equal((await inFlight).status, 200);
  assert.equal(await closing, false);
});

test('bad requests change nothing and each gets a problem document with its status', async (t) => {
  const a = await origin(t, 'a');
  const r = await origin(t, 'r');
  const lb = await balancer(
    t,
    adminConfigWith(
      [a.url],
      { slowStartMs: 0 },
      { admin: { address: '127.0.0.1:0', maxBodyBytes: 1024, tokens: { admin: 'adm', read: 'rd' } } },
    ),
  );
  assert.equal((await lb.api('POST', registerPath, { body: { id: 'r', url: r.url } })).status, 201);
  const before = await lb.api('GET', '/api/services/app', { token: readToken });
  assert.equal(before.status, 200);
  const big = JSON.stringify({ url: r.url, metadata: { pad: 'x'.repeat(5_000) } });

  for (const [method, path] of [
    ['POST', registerPath],
    ['DELETE', `${registerPath}/r`],
  ] as const) {
    const reply = await lb.api(method, path, { token: null, body: { url: a.url } });
    assertProblem(reply, 401);
    assert.match(String(reply.headers['www-authenticate']), /^Bearer realm="switchyard"/);
  }
  const unauthorised = await lb.api('GET', '/api/services/app', { token: null });
  assertProblem(unauthorised, 401);
  assert.match(String(unauthorised.headers['www-authenticate']), /^Bearer realm="switchyard"/);
  const wrong = await lb.api('PUT', `${registerPath}/r/state`, { token: 'nope', body: { state: 'maint' } });
  assertProblem(wrong, 401);
  assert.match(String(wrong.headers['www-authenticate']), /invalid_token/);
  assertProblem(await lb.api('GET', '/api/overview', { token: 'nope' }), 401);
  assertProblem(await lb.api('DELETE', `${registerPath}/r`, { token: readToken }), 403);
  assertProblem(await lb.api('PUT', `${registerPath}/r/weight`, { token: readToken, body: { weight: 5 } }), 403);
  assertProblem(await lb.api('POST', '/api/reload', { token: readToken }), 403);

  for (const [path, allow] of [
    [registerPath, 'POST'],
    [`${registerPath}/r`, 'DELETE'],
    [`${registerPath}/r/heartbeat`, 'PUT'],
    [`${registerPath}/r/state`, 'PUT'],
    [`${registerPath}/r/weight`, 'PUT'],
    ['/api/reload', 'POST'],
  ] as const) {
    const reply = await lb.api('GET', path);
    assertProblem(reply, 405);
    assert.equal(reply.headers['allow'], allow, path);
  }
  assert.equal((await lb.api('POST', '/api/services/app')).headers['allow'], 'GET');

  assertProblem(await lb.api('POST', registerPath, { body: big }), 413);
  assertProblem(await lb.api('POST', registerPath, { body: '{"url": "http://127.0.0.1:1"' }), 400);
  assertProblem(await lb.api('PUT', `${registerPath}/r/state`, { body: 'drain' }), 400);

  const badInputs: [string, string, unknown, RegExp][] = [
    ['POST', registerPath, { url: 'ftp://127.0.0.1:1' }, /^url: /],
    ['POST', registerPath, { url: 'http://127.0.0.1:1/with/path' }, /^url: /],
    ['POST', registerPath, { url: 'http://127.0.0.1:1', weight: -1 }, /^weight: /],
    ['POST', registerPath, { url: 'http://127.0.0.1:1', ttlSeconds: 0 }, /^ttlSeconds: /],
    ['POST', registerPath, { url: 'http://127.0.0.1:1', colour: 'red' }, /colour/],
    ['POST', registerPath, {}, /^url: /],
    ['PUT', `${registerPath}/r/weight`, { weight: -1 }, /^weight: /],
    ['PUT', `${registerPath}/r/weight`, { weight: 1.5 }, /^weight: /],
    ['PUT', `${registerPath}/r/state`, { state: 'sleeping' }, /^state: /],
    ['PUT', `${registerPath}/r/state`, { state: 'drain', why: 'test' }, /why/],
    ['PUT', `${registerPath}/r/heartbeat`, { load: -1 }, /^load: /],
  ];
  for (const [method, path, body, expected] of badInputs) {
    const problem = assertProblem(await lb.api(method, path, { body }), 400);
    assert.ok(Array.isArray(problem.problems) && problem.problems.length > 0, `${method} ${path} lists problems`);
    assert.match(problem.problems.join('\n'), expected, JSON.stringify(body));
  }

  assertProblem(await lb.api('GET', '/api/services/nope', { token: readToken }), 404);
  assertProblem(await lb.api('POST', '/api/services/nope/endpoints', { body: { url: r.url } }), 404);
  assertProblem(await lb.api('PUT', '/api/services/nope/endpoints/r/state', { body: { state: 'drain' } }), 404);
  assertProblem(await lb.api('PUT', `${registerPath}/ghost/state`, { body: { state: 'drain' } }), 404);
  assertProblem(await lb.api('PUT', `${registerPath}/ghost/weight`, { body: { weight: 2 } }), 404);
  assertProblem(await lb.api('DELETE', `${registerPath}/ghost`), 404);
  assertProblem(await lb.api('GET', '/api/nothing', { token: readToken }), 404);
  assertProblem(await lb.api('GET', '/', { token: null }), 404);

  const after = await lb.api('GET', '/api/services/app', { token: readToken });
  assert.deepEqual(after.json, before.json);
  assert.deepEqual(await servedBy(lb, 2), ['200 a', '200 r']);
});

test('a body over maxBodyBytes sent without Content-Length (chunked) is refused with 413 too', async (t) => {
  const r = await origin(t, 'r');
  const lb = await balancer(
    t,
    adminConfigWith(
      [],
      {},
      { admin: { address: '127.0.0.1:0', maxBodyBytes: 1024, tokens: { admin: 'adm', read: 'rd' } } },
    ),
  );
  const big = JSON.stringify({ url: r.url, metadata: { pad: 'x'.repeat(5_000) } });
  assertProblem(await lb.api('POST', registerPath, { body: big, headers: { 'transfer-encoding': 'chunked' } }), 413);
  assert.deepEqual(await endpointsOf(lb), []);
});

test('a malformed percent-escape in an admin path is a 400 or 404 problem, not a 500', async (t) => {
  const lb = await balancer(t, adminConfigWith([]));
  const reply = await lb.api('GET', '/api/services/a%E0%A4%A', { token: readToken });
  assert.ok(reply.status === 400 || reply.status === 404, `answered ${reply.status}`);
});

test('every mutation but a heartbeat writes one audit line with method, path and status; reads write none', async (t) => {
  const instance = await origin(t, 'instance');
  const capture = capturedLogger();
  const lb = await balancer(t, adminConfigWith([]), { logger: capture.logger });
  const mutations: [string, string, unknown, number][] = [
    ['POST', registerPath, { id: 'i', url: instance.url, ttlSeconds: 30 }, 201],
    ['POST', registerPath, { id: 'i', url: instance.url, ttlSeconds: 30 }, 200],
    ['PUT', `${registerPath}/i/heartbeat`, { load: 1 }, 200],
    ['PUT', `${registerPath}/i/state`, { state: 'drain' }, 200],
    ['PUT', `${registerPath}/i/weight`, { weight: 2 }, 200],
    ['PUT', `${registerPath}/ghost/state`, { state: 'drain' }, 404],
    ['DELETE', `${registerPath}/i`, undefined, 204],
  ];
  for (const [method, path, body, status] of mutations) {
    assert.equal((await lb.api(method, path, { body })).status, status, `${method} ${path}`);
    await lb.api('GET', '/api/services/app', { token: readToken });
  }
  for (const path of ['/api/overview', '/api/services', '/api/listeners', '/api/routes', '/ping', '/ready']) {
    assert.equal((await lb.api('GET', path)).status, 200, path);
  }
  assert.equal((await lb.api('GET', registerPath)).status, 405);

  const audit = capture.lines().filter((line) => line['audit'] === true);
  // A heartbeat renews a lease and changes nothing else: it is audited at debug level only (docs/security.md).
  assert.deepEqual(
    audit.map((line) => [line['method'], line['path'], line['status']]),
    mutations
      .filter(([, path]) => !path.endsWith('/heartbeat'))
      .map(([method, path, , status]) => [method, path, status]),
  );
  for (const line of capture.lines()) {
    assert.doesNotMatch(JSON.stringify(line), /Bearer|"adm"|"rd"/, 'no token in the log');
  }
});

test('registrations survive a restart of the balancer on the same registry file', async (t) => {
  const instance = await origin(t, 'instance');
  const file = join(await tempDir(t), 'registry.json');
  const config = adminConfigWith([], {}, { registry: { store: 'file', path: file } });
  const first = await startWithAdmin(config);
  t.after(() => first.close());
  const created = await first.api('POST', registerPath, { body: { id: 'kept', url: instance.url, ttlSeconds: 60 } });
  assert.equal(created.status, 201);
  await first.close();

  const stored = JSON.parse(await readFile(file, 'utf8')) as { registrations: { id: string; url: string }[] };
  assert.deepEqual(
    stored.registrations.map((r) => [r.id, r.url]),
    [['kept', instance.url]],
  );

  const second = await balancer(t, config);
  const [endpoint] = await endpointsOf(second);
  assert.equal(endpoint?.id, 'kept');
  assert.equal(endpoint.source, 'api');
  assert.equal(endpoint.lease?.ttlSeconds, 60);
  const reply = await send(second.url('/'));
  assert.equal(`${reply.status} ${reply.body}`, '200 instance');
});

test('admin changes to config endpoints survive a restart on the same registry file', async (t) => {
  const a = await origin(t, 'a');
  const b = await origin(t, 'b');
  const file = join(await tempDir(t), 'registry.json');
  const config = adminConfigWith([a.url, b.url], {}, { registry: { store: 'file', path: file } });
  const first = await startWithAdmin(config);
  t.after(() => first.close());
  assert.equal((await first.api('PUT', `${registerPath}/${idOf(a)}/state`, { body: { state: 'maint' } })).status, 200);
  await first.close();

  const second = await balancer(t, config);
  assert.equal((await endpointsOf(second)).find((e) => e.id === idOf(a))?.state, 'maint');
  assert.deepEqual(await servedBy(second, 3), ['200 b', '200 b', '200 b']);
});

test('a corrupt registry file stops the start with a message naming it, and is left as it was', async (t) => {
  const file = join(await tempDir(t), 'registry.json');
  await writeFile(file, '{not json');
  const config = adminConfigWith([], {}, { registry: { store: 'file', path: file } });
  await assert.rejects(createSwitchyard(config), (error: Error) => {
    assert.ok(error.message.includes(file), error.message);
    return true;
  });
  assert.equal(await readFile(file, 'utf8'), '{not json');
});

test('POST /api/reload applies a valid new config and refuses an invalid one, listing its problems', async (t) => {
  const a = await origin(t, 'a');
  const b = await origin(t, 'b');
  let next: () => Promise<SwitchyardConfigInput> = () => Promise.resolve(adminConfigWith([b.url]));
  const lb = await balancer(t, adminConfigWith([a.url]), { reload: () => next() });
  assert.deepEqual(await servedBy(lb, 2), ['200 a', '200 a']);

  const applied = await lb.api('POST', '/api/reload');
  assert.equal(applied.status, 200, applied.body);
  assert.equal(typeof (applied.json as { version: number }).version, 'number');
  assert.deepEqual(await servedBy(lb, 2), ['200 b', '200 b']);

  next = () => Promise.reject(new Error('x:1:1 bad'));
  const refused = assertProblem(await lb.api('POST', '/api/reload'), 400);
  assert.deepEqual(refused.problems, ['x:1:1 bad']);
  assert.deepEqual(await servedBy(lb, 2), ['200 b', '200 b']);

  next = () => Promise.resolve({ ...adminConfigWith([a.url]), listeners: [] } as SwitchyardConfigInput);
  const invalid = assertProblem(await lb.api('POST', '/api/reload'), 400);
  assert.match((invalid.problems ?? []).join('\n'), /listeners: at least one listener is needed/);
  assert.deepEqual(await servedBy(lb, 2), ['200 b', '200 b']);
});

test('POST /api/reload answers 409 when the balancer was started without a way to reload', async (t) => {
  const lb = await balancer(t, adminConfigWith([]));
  assertProblem(await lb.api('POST', '/api/reload'), 409);
});

test('register() keeps an instance registered well past its TTL, and close() deregisters it', async (t) => {
  const instance = await origin(t, 'instance');
  const lb = await balancer(t, adminConfigWith([]));
  const handle = await register({ admin: lb.adminBase, token: 'adm', service: 'app', url: instance.url, ttl: '1s' });
  t.after(() => handle.close());
  assert.equal(handle.id, idOf(instance));
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  assert.deepEqual(
    (await endpointsOf(lb)).map((e) => e.id),
    [handle.id],
  );
  assert.equal((await send(lb.url('/'))).body, 'instance');
  await handle.close();
  assert.deepEqual(await endpointsOf(lb), []);
  assert.equal((await send(lb.url('/'))).status, 503);
});

test('register() registers again when a restarted balancer has forgotten it', async (t) => {
  const instance = await origin(t, 'instance');
  const config = adminConfigWith([]);
  const first = await startWithAdmin(config);
  t.after(() => first.close());
  const warnings: string[] = [];
  const handle = await register({
    admin: first.adminBase,
    token: 'adm',
    service: 'app',
    url: instance.url,
    ttl: '1s',
    onWarning: (message) => warnings.push(message),
  });
  t.after(() => handle.close());
  await first.close();

  // A new balancer on the same admin port, with a memory store: the registration is gone.
  const second = await balancer(t, {
    ...config,
    admin: { address: `127.0.0.1:${first.adminPort}`, tokens: { admin: 'adm', read: 'rd' } },
  });
  assert.deepEqual(await endpointsOf(second), []);
  await eventually('the instance registered again', async () => (await endpointsOf(second)).length === 1, 2_500);
  assert.equal((await send(second.url('/'))).body, 'instance');
  assert.ok(
    warnings.some((w) => /registering again/.test(w)),
    warnings.join('\n'),
  );
});

test('switchyard register keeps an instance registered until SIGTERM, then deregisters and exits 0', async (t) => {
  const instance = await origin(t, 'instance');
  const lb = await balancer(t, adminConfigWith([]));
  const cli = spawnCli([
    'register',
    '--admin',
    lb.adminBase,
    '--token',
    'adm',
    '--service',
    'app',
    '--url',
    instance.url,
    '--ttl',
    '2s',
  ]);
  t.after(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  await eventually('the CLI printed its registration', () => cli.stdout.some((l) => l.includes('registered')), 15_000);
  assert.deepEqual(JSON.parse(cli.stdout[0] ?? ''), { registered: idOf(instance), service: 'app', url: instance.url });
  assert.deepEqual(
    (await endpointsOf(lb)).map((e) => [e.id, e.lease?.ttlSeconds]),
    [[idOf(instance), 2]],
  );
  assert.equal((await send(lb.url('/'))).body, 'instance');

  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0, cli.stderr());
  assert.deepEqual(await endpointsOf(lb), []);
});

test('switchyard register exits 1 when the balancer refuses the registration', async (t) => {
  const instance = await origin(t, 'instance');
  const lb = await balancer(t, adminConfigWith([]));
  const result = await runCli([
    'register',
    '--admin',
    lb.adminBase,
    '--token',
    'adm',
    '--service',
    'nope',
    '--url',
    instance.url,
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /registration refused: HTTP 404/);
  assert.deepEqual(await endpointsOf(lb), []);
});

test('an admin API without tokens is refused unless it listens on loopback', async (t) => {
  const config = adminConfigWith([], {}, { admin: { address: '0.0.0.0:0' } });
  let lb: Awaited<ReturnType<typeof createSwitchyard>> | undefined;
  t.after(() => lb?.close(100));
  await assert.rejects(async () => {
    lb = await createSwitchyard(config);
  }, /token/);
});

test('register is exported from the package entry beside createSwitchyard (SPEC "Library")', async () => {
  const entry = (await import('../../src/index.js')) as Record<string, unknown>;
  assert.equal(typeof entry['register'], 'function');
});

test('GET /api/routes names header rules but never shows their values (they may be credentials)', async (t) => {
  const lb = await startSwitchyard({
    admin: { address: '127.0.0.1:0' },
    registry: { store: 'memory' },
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0' }],
    routes: [
      {
        match: { path: { prefix: '/' } },
        service: 'app',
        requestHeaders: { set: { authorization: 'Bearer top-secret-token' } },
      },
    ],
    services: { app: { endpoints: [] } },
  });
  t.after(() => lb.close());
  const body = await (await fetch(`http://127.0.0.1:${lb.address('admin').port}/api/routes`)).text();
  assert.match(body, /authorization/);
  assert.doesNotMatch(body, /top-secret-token/);
});
