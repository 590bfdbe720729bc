import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import { createSwitchyard } from '../../src/main.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { send, type Reply } from './helpers/http.js';
import { configWith, startOrigin, type Origin } from './helpers/origin.js';
import { startSwitchyard, type TestSwitchyard } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';

/** An endpoint as `GET /api/services/{service}` shows it (the fields these tests read). */
interface EndpointJson {
  id: string;
  url: string;
  source: string;
  health: string;
  weight: number;
  effectiveWeight: number;
  lastCheck: { at: string; ok: boolean; detail: string; durationMs: number } | null;
  ejection: { until: string | null; count: number } | null;
}

interface ServiceJson {
  name: string;
  panic: boolean;
  endpoints: EndpointJson[];
}

/** Short checks so that state changes show within a second (jitter off: the timing below is fall/rise × interval). */
const quickCheck = { http: { path: '/health' }, intervalMs: 100, timeoutMs: 200, jitterPercent: 0, fall: 3, rise: 2 };

/** `configWith` plus an admin API on a free port and an in-memory registry (no file left behind). */
function config(
  urls: readonly string[],
  service: Record<string, unknown> = {},
): SwitchyardConfigInput & { services: Record<string, Record<string, unknown>> } {
  return {
    ...configWith(urls, { slowStartMs: 0, ...service }),
    admin: { address: '127.0.0.1:0' },
    registry: { store: 'memory' },
  };
}

/** A loopback port with nothing listening on it (connections are refused). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** The admin view of service `app`. */
async function serviceView(lb: { address(name: string): AddressInfo }): Promise<ServiceJson> {
  const reply = await send(`http://127.0.0.1:${lb.address('admin').port}/api/services/app`);
  assert.equal(reply.status, 200, reply.body);
  return JSON.parse(reply.body) as ServiceJson;
}

async function endpointView(lb: { address(name: string): AddressInfo }, url: string): Promise<EndpointJson> {
  const endpoint = (await serviceView(lb)).endpoints.find((e) => e.url === url);
  assert.ok(endpoint !== undefined, `no endpoint ${url} in the admin view`);
  return endpoint;
}

/** Waits until the admin API shows `health` for the endpoint at `url`, and returns its view. */
function untilHealth(lb: TestSwitchyard, url: string, health: string, timeoutMs = 5_000): Promise<EndpointJson> {
  return waitFor(
    async () => {
      const endpoint = await endpointView(lb, url);
      return endpoint.health === health ? endpoint : undefined;
    },
    timeoutMs,
    `${url} to be ${health}`,
  );
}

/** Requests proxied to an origin (its health checks left out). */
const proxied = (origin: Origin): number => origin.requests.filter((r) => r.url !== '/health').length;

/** `count` sequential GETs; returns how many each body (origin name) got, and every status seen. */
async function burst(url: string, count: number): Promise<{ bodies: Map<string, number>; statuses: Set<number> }> {
  const bodies = new Map<string, number>();
  const statuses = new Set<number>();
  for (let i = 0; i < count; i++) {
    const reply = await send(url);
    statuses.add(reply.status);
    bodies.set(reply.body, (bodies.get(reply.body) ?? 0) + 1);
  }
  return { bodies, statuses };
}

/** An origin answering `200 <name>`, except `/health`, which answers `health.status`. */
async function checkedOrigin(name: string, status = 200): Promise<Origin & { health: { status: number } }> {
  const health = { status };
  const origin = await startOrigin(name, (req, res, self) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(health.status).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': self.name }).end(self.name);
    });
  });
  return Object.assign(origin, { health });
}

/** An origin that reads the whole request, then destroys the socket without a byte of response. */
function startResetter(name: string, onBody: (body: Buffer) => void = () => {}): Promise<Origin> {
  return startOrigin(name, (req) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      onBody(Buffer.concat(chunks));
      req.socket.destroy();
    });
  });
}

/** Echoes `<method> <body>`. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).toString()}`));
}

function problemType(reply: Reply): string {
  return (JSON.parse(reply.body) as { type: string }).type;
}

// 1. Active HTTP checks

test('an instance whose /health turns 500 leaves the pool after `fall` checks and returns after `rise` passes', async (t) => {
  const [a, b] = await Promise.all([checkedOrigin('a'), checkedOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const lb = await startSwitchyard(config([a.url, b.url], { healthCheck: quickCheck }));
  t.after(() => lb.close());
  await untilHealth(lb, a.url, 'up');
  await untilHealth(lb, b.url, 'up');
  const before = await burst(lb.url('/'), 10);
  assert.deepEqual(before.statuses, new Set([200]));
  assert.deepEqual([...before.bodies.keys()].sort(), ['a', 'b']);

  a.health.status = 500;
  const failedAt = Date.now();
  const down = await untilHealth(lb, a.url, 'down');
  const detectionMs = Date.now() - failedAt;
  assert.equal(down.lastCheck?.ok, false);
  assert.equal(down.lastCheck?.detail, 'HTTP 500');
  // Round-robin alternates while both are in, so two `b` in a row means the data plane dropped `a`.
  await waitFor(async () => (await send(lb.url('/'))).body === 'b' && (await send(lb.url('/'))).body === 'b');
  const seen = proxied(a);
  const during = await burst(lb.url('/'), 20);
  assert.deepEqual(during.statuses, new Set([200]));
  assert.deepEqual(during.bodies, new Map([['b', 20]]));
  assert.equal(proxied(a), seen, 'a request reached the unhealthy instance');

  a.health.status = 200;
  const fixedAt = Date.now();
  const up = await untilHealth(lb, a.url, 'up');
  const recoveryMs = Date.now() - fixedAt;
  assert.equal(up.lastCheck?.ok, true);
  assert.equal(up.lastCheck?.detail, 'HTTP 200');
  await waitFor(async () => (await send(lb.url('/'))).body === 'a', 5_000, 'traffic to reach a again');
  t.diagnostic(`detection ${detectionMs} ms (fall 3 × 100 ms), recovery ${recoveryMs} ms (rise 2 × 100 ms)`);
});

test('an instance gets no traffic before its first passing check, and takes traffic once it passes', async (t) => {
  const ready = await checkedOrigin('ready');
  const booting = await checkedOrigin('booting', 503);
  t.after(() => Promise.all([ready.close(), booting.close()]));
  const lb = await startSwitchyard(config([booting.url, ready.url], { healthCheck: quickCheck }));
  t.after(() => lb.close());
  await untilHealth(lb, ready.url, 'up');
  await waitFor(async () => (await send(lb.url('/'))).status === 200, 5_000, 'the first 200');
  const replies = await burst(lb.url('/'), 20);
  assert.deepEqual(replies.statuses, new Set([200]));
  assert.deepEqual(replies.bodies, new Map([['ready', 20]]));
  assert.equal(proxied(booting), 0);
  const view = await endpointView(lb, booting.url);
  assert.notEqual(view.health, 'up');
  assert.equal(view.lastCheck?.detail, 'HTTP 503');

  booting.health.status = 200;
  await waitFor(async () => (await send(lb.url('/'))).body === 'booting', 5_000, 'traffic to reach booting');
  assert.equal((await endpointView(lb, booting.url)).health, 'up');
});

test('a TCP check marks a closed port down while an instance that accepts connections serves', async (t) => {
  // Its /health answers 500: only a TCP check (not an HTTP one) finds this instance healthy.
  const live = await checkedOrigin('live', 500);
  t.after(() => live.close());
  const dead = await deadUrl();
  const lb = await startSwitchyard(
    config([dead, live.url], { healthCheck: { tcp: {}, intervalMs: 100, timeoutMs: 200, jitterPercent: 0, fall: 2 } }),
  );
  t.after(() => lb.close());
  const down = await untilHealth(lb, dead, 'down');
  assert.match(down.lastCheck?.detail ?? '', /ECONNREFUSED/);
  const up = await untilHealth(lb, live.url, 'up');
  assert.equal(up.lastCheck?.detail, 'TCP connected');
  await waitFor(async () => (await send(lb.url('/'))).status === 200, 5_000, 'the first 200');
  const replies = await burst(lb.url('/'), 10);
  assert.deepEqual(replies.statuses, new Set([200]));
  assert.deepEqual(replies.bodies, new Map([['live', 10]]));
  assert.equal(live.requests.filter((r) => r.url === '/health').length, 0, 'a TCP check sends no HTTP request');
});

// 4. Panic mode

for (const panicMode of [true, false]) {
  const outcome = panicMode ? 'still proxies to them (panic mode)' : 'answers 503 (panicMode: false)';
  test(`when every endpoint fails its checks the service ${outcome}`, async (t) => {
    const [a, b] = await Promise.all([checkedOrigin('a'), checkedOrigin('b')]);
    t.after(() => Promise.all([a.close(), b.close()]));
    const lb = await startSwitchyard(config([a.url, b.url], { healthCheck: { ...quickCheck, fall: 1 }, panicMode }));
    t.after(() => lb.close());
    await untilHealth(lb, a.url, 'up');
    await untilHealth(lb, b.url, 'up');
    await waitFor(async () => (await send(lb.url('/'))).status === 200, 5_000, 'the first 200');

    a.health.status = 500;
    b.health.status = 500;
    await untilHealth(lb, a.url, 'down');
    await untilHealth(lb, b.url, 'down');
    if (panicMode) {
      await waitFor(async () => (await serviceView(lb)).panic, 5_000, 'panic in the admin view');
      const replies = await burst(lb.url('/'), 10);
      assert.deepEqual(replies.statuses, new Set([200]));
      assert.deepEqual([...replies.bodies.keys()].sort(), ['a', 'b'], 'panic balances over every endpoint');
    } else {
      const reply = await waitFor(async () => {
        const r = await send(lb.url('/'));
        return r.status === 503 ? r : undefined;
      });
      assert.match(problemType(reply), /no_healthy_endpoint$/);
      assert.equal((await serviceView(lb)).panic, false);
      const replies = await burst(lb.url('/'), 5);
      assert.deepEqual(replies.statuses, new Set([503]));
    }
  });
}

// 5. Passive outlier detection

const outliers = { outlierDetection: { consecutiveErrors: 3, baseEjectionMs: 1_000 } };

/** An origin answering 503 to real requests while `failing.on`, 200 otherwise. */
async function flakyOrigin(name: string): Promise<Origin & { failing: { on: boolean } }> {
  const failing = { on: true };
  const origin = await startOrigin(name, (req, res, self) => {
    req.resume();
    req.on('end', () => res.writeHead(failing.on ? 503 : 200).end(self.name));
  });
  return Object.assign(origin, { failing });
}

test('an instance answering 503 is ejected after 3 in a row, gets no traffic for baseEjectionMs, then returns', async (t) => {
  const bad = await flakyOrigin('bad');
  const good = await startOrigin('good');
  t.after(() => Promise.all([bad.close(), good.close()]));
  const lb = await startSwitchyard(config([bad.url, good.url], outliers));
  t.after(() => lb.close());

  let ejected: EndpointJson | undefined;
  for (let i = 0; i < 20 && ejected === undefined; i++) {
    await send(lb.url('/'));
    const view = await endpointView(lb, bad.url);
    if (view.health === 'ejected') ejected = view;
  }
  const ejectedSeenAt = Date.now();
  assert.ok(ejected !== undefined, 'never ejected');
  assert.equal(proxied(bad), 3, 'ejected after exactly consecutiveErrors gateway errors');
  assert.equal(ejected.ejection?.count, 1);
  const remainingMs = Date.parse(ejected.ejection?.until ?? '') - ejectedSeenAt;
  assert.ok(remainingMs > 0 && remainingMs <= 1_000, `ejection ends in ${remainingMs} ms`);

  const during = await burst(lb.url('/'), 10);
  assert.deepEqual(during.bodies, new Map([['good', 10]]));
  assert.equal(proxied(bad), 3, 'an ejected instance got traffic');

  const back = await untilHealth(lb, bad.url, 'up', 5_000);
  const returnedAfterMs = Date.now() - ejectedSeenAt;
  assert.equal(back.ejection?.count, 1);
  assert.equal(back.ejection?.until, null);
  bad.failing.on = false;
  await waitFor(async () => (await send(lb.url('/'))).body === 'bad', 5_000, 'traffic to reach bad again');
  t.diagnostic(`ejected instance returned ${returnedAfterMs} ms after the ejection was seen (baseEjectionMs 1000)`);
});

test('an ejected instance that returns needs consecutiveErrors new errors before it is ejected again', async (t) => {
  const bad = await flakyOrigin('bad');
  const good = await startOrigin('good');
  t.after(() => Promise.all([bad.close(), good.close()]));
  const lb = await startSwitchyard(config([bad.url, good.url], outliers));
  t.after(() => lb.close());
  await waitFor(async () => {
    await send(lb.url('/'));
    return (await endpointView(lb, bad.url)).health === 'ejected';
  });
  await untilHealth(lb, bad.url, 'up', 5_000);
  // One 503 after the return, then it answers well: a streak of 1 is below consecutiveErrors (3).
  const seen = proxied(bad);
  await waitFor(async () => {
    await send(lb.url('/'));
    return proxied(bad) > seen;
  });
  bad.failing.on = false;
  const view = await endpointView(lb, bad.url);
  assert.equal(view.health, 'up', 're-ejected after a single error');
  assert.equal(view.ejection?.count, 1);
});

test('with maxEjectionPercent 50 only one of two failing instances is ejected', async (t) => {
  const [x, y] = await Promise.all([flakyOrigin('x'), flakyOrigin('y')]);
  t.after(() => Promise.all([x.close(), y.close()]));
  const lb = await startSwitchyard(
    config([x.url, y.url], { outlierDetection: { ...outliers.outlierDetection, maxEjectionPercent: 50 } }),
  );
  t.after(() => lb.close());
  const replies = await burst(lb.url('/'), 20);
  assert.deepEqual(replies.statuses, new Set([503]), 'the remaining instance still answers (no "no endpoint")');
  const healths = (await serviceView(lb)).endpoints.map((e) => e.health).sort();
  assert.deepEqual(healths, ['ejected', 'up']);
  assert.ok(proxied(x) >= 3 && proxied(y) >= 3, 'both reached the error threshold');
});

// 6. Retries

const noOutliers = { outlierDetection: { enabled: false } };

test('a POST reset after the instance read it is not retried: one attempt, and the client gets 502', async (t) => {
  const [r1, r2] = await Promise.all([startResetter('r1'), startResetter('r2')]);
  t.after(() => Promise.all([r1.close(), r2.close()]));
  const lb = await startSwitchyard(config([r1.url, r2.url], noOutliers));
  t.after(() => lb.close());
  const reply = await send(lb.url('/orders'), { method: 'POST', body: 'order=1' });
  assert.equal(reply.status, 502);
  assert.match(problemType(reply), /upstream_reset$/);
  await sleep(100);
  assert.equal(r1.requests.length + r2.requests.length, 1, 'the POST was sent more than once');
});

test('a GET reset before any response byte is retried on another endpoint and the client gets 200', async (t) => {
  const reset = await startResetter('reset');
  const healthy = await startOrigin('healthy');
  t.after(() => Promise.all([reset.close(), healthy.close()]));
  const lb = await startSwitchyard(config([reset.url, healthy.url], noOutliers));
  t.after(() => lb.close());
  // Three requests: within minRetries (3), whatever the budget's accounting.
  const replies = await burst(lb.url('/'), 3);
  assert.deepEqual(replies.statuses, new Set([200]));
  assert.deepEqual(replies.bodies, new Map([['healthy', 3]]));
  assert.ok(reset.requests.length >= 1, 'round-robin sent a first attempt to the resetting instance');
  assert.equal(healthy.requests.length, 3);
});

test('a small PUT body is replayed intact on another endpoint after a reset; one above bufferBytes is not', async (t) => {
  const bodiesAtReset: number[] = [];
  const reset = await startResetter('reset', (body) => bodiesAtReset.push(body.length));
  const target = await startOrigin('echo', echo);
  t.after(() => Promise.all([reset.close(), target.close()]));
  const lb = await startSwitchyard(config([reset.url, target.url], { ...noOutliers, retries: { bufferBytes: 4_096 } }));
  t.after(() => lb.close());
  const small = Array.from({ length: 3_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  for (let i = 0; i < 3; i++) {
    const reply = await send(lb.url('/doc'), { method: 'PUT', body: small, headers: { 'content-type': 'text/plain' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, `PUT ${small}`);
  }
  assert.ok(bodiesAtReset.length >= 1, 'the resetting instance got a first attempt');
  assert.ok(
    bodiesAtReset.every((n) => n === small.length),
    'the instance read the whole body before resetting',
  );

  // A streamed body (above bufferBytes) cannot be replayed once read: the reset reaches the client as a 502.
  const large = 'z'.repeat(10_000);
  const replies = [];
  for (let i = 0; i < 4; i++) replies.push(await send(lb.url('/doc'), { method: 'PUT', body: large }));
  const failed = replies.filter((r) => r.status === 502).length;
  assert.ok(failed >= 1, 'a streamed PUT was replayed after its body was read');
  assert.equal(failed, bodiesAtReset.filter((n) => n === large.length).length);
});

test('a GET reset by the only endpoint is reported as an upstream reset', async (t) => {
  const reset = await startResetter('reset');
  t.after(() => reset.close());
  const lb = await startSwitchyard(config([reset.url], noOutliers));
  t.after(() => lb.close());
  const reply = await send(lb.url('/'));
  assert.equal(reply.status, 502);
  assert.match(problemType(reply), /upstream_reset$/);
});

test('a retry does not move the round-robin cursor: a resetting instance gets only its share of first attempts', async (t) => {
  const reset = await startResetter('reset');
  const healthy = await startOrigin('healthy');
  t.after(() => Promise.all([reset.close(), healthy.close()]));
  const lb = await startSwitchyard(config([reset.url, healthy.url], { ...noOutliers, retries: { minRetries: 100 } }));
  t.after(() => lb.close());
  const replies = await burst(lb.url('/'), 10);
  assert.deepEqual(replies.statuses, new Set([200]));
  assert.ok(reset.requests.length <= 6, `the resetting instance got ${reset.requests.length} of 10 first attempts`);
});

// 7. Retry budget

test('the retry budget caps retries when every endpoint resets: 50 concurrent GETs cost at most 50 + 20 %', async (t) => {
  // Each holds the request a while before resetting, so all 50 are active together when the failures come back.
  const resetters = await Promise.all(
    ['r1', 'r2', 'r3'].map((name) =>
      startOrigin(name, (req) => {
        req.resume();
        setTimeout(() => req.socket.destroy(), 800);
      }),
    ),
  );
  t.after(() => Promise.all(resetters.map((r) => r.close())));
  const lb = await startSwitchyard(
    config(
      resetters.map((r) => r.url),
      { ...noOutliers, retries: { budgetPercent: 20, minRetries: 3 } },
    ),
  );
  t.after(() => lb.close());
  const clients = 50;
  const replies = await Promise.race([
    Promise.all(Array.from({ length: clients }, () => send(lb.url('/')))),
    sleep(15_000).then(() => assert.fail('a client hung')),
  ]);
  assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([502]));
  const attempts = resetters.reduce((sum, r) => sum + r.requests.length, 0);
  const budget = Math.max(3, 0.2 * clients);
  t.diagnostic(`${clients} requests made ${attempts} attempts (budget ${budget} retries; ${clients * 2} without one)`);
  assert.ok(attempts >= clients + 3, `at least minRetries retries happen (${attempts} attempts)`);
  assert.ok(attempts <= clients + budget + 5, `${attempts} attempts exceed the budget`);
});

// 8. DNS discovery

async function startDnsSwitchyard(
  t: { after(fn: () => unknown): void },
  dnsBlock: Record<string, unknown>,
): Promise<TestSwitchyard & { dns: DnsServer }> {
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const resolver = new Resolver({ timeout: 500, tries: 3 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
  const lb = await createSwitchyard(config([], { dns: { refreshMs: 100, ...dnsBlock } }), { resolver });
  t.after(() => lb.close(2_000));
  return {
    ...lb,
    dns,
    port: (listener = 'web') => lb.address(listener).port,
    url: (path, listener = 'web') => `http://127.0.0.1:${lb.address(listener).port}${path}`,
  };
}

test('DNS discovery: an A record brings traffic to the instance, and an NXDOMAIN keeps the last set', async (t) => {
  const origin = await startOrigin('dns-a');
  t.after(() => origin.close());
  const lb = await startDnsSwitchyard(t, { name: 'app.test', type: 'A', port: origin.port });
  lb.dns.set('app.test', { a: ['127.0.0.1'] });
  const url = lb.url('/');
  const reply = await waitFor(async () => {
    const r = await send(url);
    return r.status === 200 ? r : undefined;
  });
  assert.equal(reply.body, 'dns-a');
  const [endpoint] = (await serviceView(lb)).endpoints;
  assert.equal(endpoint?.source, 'dns');
  assert.equal(endpoint?.id, `127.0.0.1:${origin.port}`);

  lb.dns.delete('app.test');
  const asked = lb.dns.queriesFor('app.test');
  await waitFor(() => lb.dns.queriesFor('app.test') >= asked + 3, 5_000, 'three refreshes answered NXDOMAIN');
  assert.equal((await send(url)).body, 'dns-a');
});

test('DNS discovery: SRV targets share traffic by their weights, and a target dropped from the answer leaves', async (t) => {
  const [heavy, light] = await Promise.all([startOrigin('heavy'), startOrigin('light')]);
  t.after(() => Promise.all([heavy.close(), light.close()]));
  // The endpoint URL carries the SRV target name, which the data plane resolves through the system resolver.
  const lb = await startDnsSwitchyard(t, { name: '_http._tcp.app.test', type: 'SRV' });
  lb.dns.set('_http._tcp.app.test', {
    srv: [
      { priority: 10, weight: 3, port: heavy.port, target: 'localhost' },
      { priority: 10, weight: 1, port: light.port, target: 'localhost' },
    ],
  });
  const view = await waitFor(async () => {
    const s = await serviceView(lb);
    return s.endpoints.length === 2 ? s : undefined;
  });
  assert.deepEqual(
    view.endpoints.map((e) => [e.id, e.weight]).sort(),
    [
      [`localhost:${heavy.port}`, 3],
      [`localhost:${light.port}`, 1],
    ].sort(),
  );
  await waitFor(async () => (await send(lb.url('/'))).status === 200, 5_000, 'the first 200');
  const replies = await burst(lb.url('/'), 40);
  assert.deepEqual(replies.statuses, new Set([200]));
  const heavyShare = replies.bodies.get('heavy') ?? 0;
  assert.ok(heavyShare >= 26 && heavyShare <= 34, `heavy got ${heavyShare} of 40 (weight 3 of 4)`);

  lb.dns.set('_http._tcp.app.test', { srv: [{ priority: 10, weight: 1, port: light.port, target: 'localhost' }] });
  await waitFor(async () => (await serviceView(lb)).endpoints.length === 1, 5_000, 'the dropped target to leave');
  const seen = heavy.requests.length;
  const after = await burst(lb.url('/'), 10);
  assert.deepEqual(after.bodies, new Map([['light', 10]]));
  assert.equal(heavy.requests.length, seen);
});

// 9. Slow start

test('an endpoint registered after boot ramps up its weight over slowStartMs; a boot-time one has full weight', async (t) => {
  const [boot, late] = await Promise.all([startOrigin('boot'), startOrigin('late')]);
  t.after(() => Promise.all([boot.close(), late.close()]));
  const base = config([], { slowStartMs: 2_000 });
  base.services['app']!['endpoints'] = [{ url: boot.url, weight: 10 }];
  const lb = await startSwitchyard(base);
  t.after(() => lb.close());
  const atBoot = await endpointView(lb, boot.url);
  assert.equal(atBoot.effectiveWeight, 10);

  const registered = await send(`http://127.0.0.1:${lb.address('admin').port}/api/services/app/endpoints`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: late.url, weight: 10 }),
  });
  const registeredAt = Date.now();
  assert.equal(registered.status, 201, registered.body);
  const first = await endpointView(lb, late.url);
  assert.equal(first.weight, 10);
  assert.ok(first.effectiveWeight < 5, `effective weight ${first.effectiveWeight} right after registering`);

  const replies = await burst(lb.url('/'), 20);
  const lateShare = replies.bodies.get('late') ?? 0;
  assert.ok(lateShare < (replies.bodies.get('boot') ?? 0), `the ramping endpoint got ${lateShare} of 20`);

  await sleep(700);
  const later = await endpointView(lb, late.url);
  assert.ok(later.effectiveWeight > first.effectiveWeight, `${later.effectiveWeight} ≤ ${first.effectiveWeight}`);
  await waitFor(async () => (await endpointView(lb, late.url)).effectiveWeight === 10, 6_000, 'full weight');
  const rampMs = Date.now() - registeredAt;
  assert.ok(rampMs >= 1_500, `full weight after ${rampMs} ms, before slowStartMs`);
  t.diagnostic(`effective weight ${first.effectiveWeight} → ${later.effectiveWeight} → 10 after ${rampMs} ms`);
});

test('an endpoint that recovers from failed checks ramps up again rather than taking its full share at once', async (t) => {
  const [a, b] = await Promise.all([checkedOrigin('a'), checkedOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const lb = await startSwitchyard(
    config([a.url, b.url], { healthCheck: { ...quickCheck, fall: 1, rise: 1 }, slowStartMs: 2_000 }),
  );
  t.after(() => lb.close());
  assert.equal((await untilHealth(lb, a.url, 'up')).effectiveWeight, 1, 'no slow start at boot');
  a.health.status = 500;
  await untilHealth(lb, a.url, 'down');
  a.health.status = 200;
  const back = await untilHealth(lb, a.url, 'up');
  assert.ok(back.effectiveWeight < 0.5, `effective weight ${back.effectiveWeight} right after recovering`);
  await waitFor(async () => (await endpointView(lb, a.url)).effectiveWeight === 1, 6_000, 'full weight again');
});

test('with slowStartMs 0 a recovered endpoint does not make the balancer republish its snapshot every second', async (t) => {
  const a = await checkedOrigin('a');
  t.after(() => a.close());
  const lb = await startSwitchyard(config([a.url], { healthCheck: { ...quickCheck, fall: 1, rise: 1 } }));
  t.after(() => lb.close());
  await untilHealth(lb, a.url, 'up');
  a.health.status = 500;
  await untilHealth(lb, a.url, 'down');
  a.health.status = 200;
  await untilHealth(lb, a.url, 'up');
  const version = async (): Promise<number> => {
    const reply = await send(`http://127.0.0.1:${lb.address('admin').port}/api/overview`);
    return (JSON.parse(reply.body) as { snapshotVersion: number }).snapshotVersion;
  };
  await sleep(300);
  const before = await version();
  await sleep(2_500);
  assert.equal(await version(), before, 'snapshots were published with nothing changed');
});
