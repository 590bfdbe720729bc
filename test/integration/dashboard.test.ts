import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import type { SwitchyardOptions } from '../../src/main.js';
import {
  adminConfigWith,
  adminToken,
  capturedLogger,
  readToken,
  startWithAdmin,
  type AdminSwitchyard,
} from './helpers/admin.js';
import { send } from './helpers/http.js';
import { startOrigin, type Origin } from './helpers/origin.js';
import { sleep, waitFor } from './helpers/wait.js';

/** One Server-Sent Event, its data parsed. */
interface StreamEvent {
  readonly name: string;
  readonly data: Record<string, unknown>;
}

interface EventClient {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly events: StreamEvent[];
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  /** Waits for an event that satisfies `match` (seen before or later). */
  next(what: string, match: (event: StreamEvent) => boolean, timeoutMs?: number): Promise<StreamEvent>;
  close(): void;
}

/** Opens `GET /api/events` with the given headers and collects its events. */
function openEvents(t: TestContext, base: string, headers: Record<string, string>): Promise<EventClient> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/events`, { headers, agent: false }, (res) => {
      const events: StreamEvent[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name !== undefined && data !== undefined)
            events.push({ name, data: JSON.parse(data) as Record<string, unknown> });
        }
      });
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
      });
      res.on('error', () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        ended,
        next: (what, match, timeoutMs = 15_000) => waitFor(() => events.find(match), timeoutMs, what),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
    t.after(() => req.destroy());
  });
}

async function origin(t: TestContext, name: string): Promise<Origin> {
  const started = await startOrigin(name);
  t.after(() => started.close());
  return started;
}

async function balancer(
  t: TestContext,
  config: SwitchyardConfigInput,
  options: SwitchyardOptions = {},
): Promise<AdminSwitchyard> {
  const lb = await startWithAdmin(config, { events: { statsIntervalMs: 200 }, ...options });
  t.after(() => lb.close());
  return lb;
}

const idOf = (o: Origin): string => `127.0.0.1:${o.port}`;
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

type EndpointView = Record<string, unknown> & { id: string; requests: number; requestRate: number };
/** An endpoint of a service in a `stats` or `snapshot` event. */
function endpointIn(event: StreamEvent, service: string, id: string): EndpointView | undefined {
  const services = event.data['services'] as { name: string; endpoints: EndpointView[] }[];
  return services.find((s) => s.name === service)?.endpoints.find((e) => e.id === id);
}

/** Sends `count` requests through the balancer, a few at a time. */
async function traffic(lb: AdminSwitchyard, count: number, path = '/'): Promise<void> {
  for (let i = 0; i < count; i += 5) {
    await Promise.all(Array.from({ length: Math.min(5, count - i) }, () => send(lb.url(path))));
  }
}

const fastChecks = { http: { path: '/' }, intervalMs: 200, timeoutMs: 1_000, rise: 1, fall: 2 };

test('the event stream needs a token: 401 without one or with a wrong one; the session cookie works for it alone', async (t) => {
  const a = await origin(t, 'a');
  const lb = await balancer(t, adminConfigWith([a.url]));
  for (const headers of [{}, bearer('wrong')]) {
    const refused = await send(`${lb.adminBase}/api/events`, { headers });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['content-type'], 'application/problem+json');
    assert.doesNotMatch(refused.body, /"services"/, 'no data without a valid token');
  }
  const wrongLogin = await send(`${lb.adminBase}/api/session`, { method: 'POST', headers: bearer('wrong') });
  assert.equal(wrongLogin.status, 401);
  assert.equal(wrongLogin.headers['set-cookie'], undefined);

  const login = await send(`${lb.adminBase}/api/session`, { method: 'POST', headers: bearer(readToken) });
  assert.equal(login.status, 200);
  assert.deepEqual(JSON.parse(login.body), { role: 'read' });
  const setCookie = login.headers['set-cookie']?.[0] ?? '';
  assert.match(setCookie, /^sy_admin_session=[\w-]{43}; Path=\/api; HttpOnly; SameSite=Strict$/);
  assert.ok(!setCookie.includes(readToken), 'the cookie carries an opaque session id, not the token');
  const cookie = setCookie.split(';')[0]!;

  const stream = await openEvents(t, lb.adminBase, { cookie });
  assert.equal(stream.status, 200);
  assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
  await stream.next('the snapshot event', (e) => e.name === 'snapshot');
  stream.close();
  // The cookie stands in for the token on the event stream only: every other call still needs the bearer token.
  assert.equal((await send(`${lb.adminBase}/api/services`, { headers: { cookie } })).status, 401);
  const drain = await send(`${lb.adminBase}/api/services/app/endpoints/${idOf(a)}/state`, {
    method: 'PUT',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ state: 'drain' }),
  });
  assert.equal(drain.status, 401);

  const logout = await send(`${lb.adminBase}/api/session`, { method: 'DELETE', headers: { cookie } });
  assert.equal(logout.status, 204);
  assert.match(logout.headers['set-cookie']?.[0] ?? '', /Max-Age=0/);
  assert.equal((await send(`${lb.adminBase}/api/events`, { headers: { cookie } })).status, 401);
});

test('a snapshot comes on connect, then stats events count the traffic per endpoint: rate, latency, error rate', async (t) => {
  const [a, b] = await Promise.all([origin(t, 'a'), origin(t, 'b')]);
  const lb = await balancer(t, adminConfigWith([a.url, b.url]));
  const stream = await openEvents(t, lb.adminBase, bearer(readToken));
  const snapshot = await stream.next('the snapshot event', (e) => e.name === 'snapshot');
  assert.equal(stream.events[0], snapshot, 'the snapshot is the first event');
  const first = endpointIn(snapshot, 'app', idOf(a));
  assert.equal(first?.['state'], 'ready');
  assert.equal(first?.['health'], 'up');
  assert.ok(Array.isArray(snapshot.data['events']) && typeof snapshot.data['history'] === 'object');

  await traffic(lb, 40);
  const busy = await stream.next('a stats event with the traffic of both endpoints', (e) => {
    if (e.name !== 'stats') return false;
    const [ea, eb] = [endpointIn(e, 'app', idOf(a)), endpointIn(e, 'app', idOf(b))];
    const settled = (x: EndpointView | undefined) =>
      x !== undefined && x.requests === 20 && x['inFlight'] === 0 && x['latencyMs'] !== null && x.requestRate > 0;
    return settled(ea) && settled(eb);
  });
  const endpoint = endpointIn(busy, 'app', idOf(a))!;
  assert.equal(endpoint['errorRate'], 0);
  const latency = endpoint['latencyMs'] as { p50: number; p99: number };
  assert.ok(latency.p50 > 0 && latency.p99 >= latency.p50, JSON.stringify(latency));
  // The same rates are in the admin API's service view.
  const view = JSON.parse((await send(`${lb.adminBase}/api/services/app`, { headers: bearer(readToken) })).body) as {
    endpoints: { requestRate: number; latencyMs: unknown }[];
  };
  assert.ok(view.endpoints.every((e) => e.requestRate > 0 && e.latencyMs !== null));
});

test('change events arrive as they happen: registration, drain, weight, a health flip when an origin stops, deregistration, reload', async (t) => {
  const [a, b, c] = await Promise.all([origin(t, 'a'), origin(t, 'b'), origin(t, 'c')]);
  const lb = await balancer(t, adminConfigWith([a.url, b.url], { healthCheck: fastChecks }));
  const stream = await openEvents(t, lb.adminBase, bearer(readToken));
  await stream.next('the snapshot event', (e) => e.name === 'snapshot');
  const change = (what: string, match: (data: Record<string, unknown>) => boolean) =>
    stream.next(what, (e) => e.name === 'change' && match(e.data));

  const registered = await lb.api('POST', '/api/services/app/endpoints', { body: { url: c.url } });
  assert.equal(registered.status, 201);
  const added = await change('endpoint-added', (d) => d['type'] === 'endpoint-added');
  assert.equal(added.data['endpoint'], idOf(c));
  assert.equal(added.data['source'], 'api');
  assert.match(String(added.data['at']), /^\d{4}-\d\d-\d\dT/);

  assert.equal(
    (await lb.api('PUT', `/api/services/app/endpoints/${idOf(a)}/state`, { body: { state: 'drain' } })).status,
    200,
  );
  await change('state ready → drain', (d) => d['type'] === 'state' && d['from'] === 'ready' && d['to'] === 'drain');
  assert.equal(
    (await lb.api('PUT', `/api/services/app/endpoints/${idOf(a)}/weight`, { body: { weight: 5 } })).status,
    200,
  );
  await change('weight 1 → 5', (d) => d['type'] === 'weight' && d['from'] === 1 && d['to'] === 5);

  await b.close();
  const flip = await change('b turning down', (d) => d['type'] === 'health' && d['endpoint'] === idOf(b));
  assert.equal(flip.data['from'], 'up');
  assert.equal(flip.data['to'], 'down');
  assert.match(String(flip.data['detail']), /ECONNREFUSED|connect/);
  await stream.next('a stats event with b down', (e) => {
    return e.name === 'stats' && endpointIn(e, 'app', idOf(b))?.['health'] === 'down';
  });

  assert.equal((await lb.api('DELETE', `/api/services/app/endpoints/${idOf(c)}`)).status, 204);
  await change('endpoint-removed', (d) => d['type'] === 'endpoint-removed' && d['endpoint'] === idOf(c));
  await lb.apply(adminConfigWith([a.url, b.url], { healthCheck: { ...fastChecks, intervalMs: 300 } }));
  const reloaded = await change('config applied', (d) => d['type'] === 'config');
  assert.equal(reloaded.data['ok'], true);

  // A dashboard that connects later sees what happened in its snapshot.
  const late = await openEvents(t, lb.adminBase, bearer(readToken));
  const snapshot = await late.next('the late snapshot', (e) => e.name === 'snapshot');
  const types = (snapshot.data['events'] as { type: string }[]).map((e) => e.type);
  for (const type of ['endpoint-added', 'state', 'weight', 'health', 'endpoint-removed', 'config'])
    assert.ok(types.includes(type), `${type} in ${types.join(', ')}`);
});

test('a client that stops reading is disconnected once its backlog passes the limit; the others keep streaming', async (t) => {
  const a = await origin(t, 'a');
  // Many endpoints make each stats event large (about 30 KB), so the backlog grows fast.
  const urls = [a.url, ...Array.from({ length: 80 }, (_, i) => `http://127.0.0.1:${20_000 + i}`)];
  const { logger, lines } = capturedLogger();
  const lb = await balancer(t, adminConfigWith(urls), {
    logger,
    events: { statsIntervalMs: 10, maxBufferedBytes: 256 * 1024 },
  });
  const reader = await openEvents(t, lb.adminBase, bearer(readToken));

  const slow = connect(lb.adminPort, '127.0.0.1');
  t.after(() => slow.destroy());
  let received = 0;
  let closed = false;
  slow.on('data', (chunk) => (received += chunk.length));
  slow.on('close', () => (closed = true));
  slow.on('error', () => undefined);
  await new Promise<void>((resolve) => slow.once('connect', resolve));
  slow.write(`GET /api/events HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer ${readToken}\r\n\r\n`);
  slow.pause(); // reads nothing more: the kernel buffers fill, then Switchyard's

  const dropped = await waitFor(
    () => lines().find((line) => line['msg'] === 'event stream client too slow: disconnected'),
    60_000,
    'the slow client to be disconnected',
  );
  assert.ok(Number(dropped['bufferedBytes']) > 256 * 1024);
  assert.ok(Number(dropped['bufferedBytes']) < 2 * 1024 * 1024, 'the backlog stayed near the limit');
  slow.resume();
  await waitFor(() => closed, 30_000, 'the slow connection to close');
  assert.ok(received > 0);
  // The well-behaved client still gets events after the drop.
  const count = reader.events.length;
  await waitFor(() => reader.events.length > count + 3, 10_000, 'more events for the reading client');
  reader.close();
});

test('every stream ends when the admin API shuts down, and heartbeats keep an idle stream alive', async (t) => {
  const a = await origin(t, 'a');
  const lb = await startWithAdmin(adminConfigWith([a.url]), { events: { statsIntervalMs: 60_000, heartbeatMs: 100 } });
  t.after(() => lb.close());
  let raw = '';
  const heartbeat = new Promise<void>((resolve, reject) => {
    const req = request(`${lb.adminBase}/api/events`, { headers: bearer(readToken), agent: false }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        if (raw.includes(': heartbeat\n\n')) resolve();
      });
    });
    req.on('error', reject);
    req.end();
    t.after(() => req.destroy());
  });
  await heartbeat;
  const stream = await openEvents(t, lb.adminBase, bearer(readToken));
  await stream.next('the snapshot', (e) => e.name === 'snapshot');
  await lb.close();
  await Promise.race([
    stream.ended,
    sleep(10_000).then(() => assert.fail('the stream did not end within 10 s of the shutdown')),
  ]);
});

const chromiumPath = '/usr/bin/chromium';
const screenshotPath = fileURLToPath(new URL('../../docs/img/dashboard.png', import.meta.url));

/** Two services behind one listener: `app` (three instances, health-checked) and `api` (weighted 3:1). */
function dashboardConfig(app: readonly Origin[], api: readonly Origin[]): SwitchyardConfigInput {
  const base = adminConfigWith(app.map((o) => o.url));
  return {
    ...base,
    routes: [
      { name: 'api', match: { path: { prefix: '/api' } }, service: 'api' },
      { name: 'app', match: { path: { prefix: '/' } }, service: 'app' },
    ],
    services: {
      app: {
        endpoints: app.map((o) => ({ url: o.url })),
        healthCheck: { ...fastChecks, http: { path: '/healthz' } },
      },
      api: {
        algorithm: 'weighted-round-robin',
        endpoints: api.map((o, i) => ({ url: o.url, weight: i === 0 ? 3 : 1 })),
      },
    },
  };
}

async function cellText(page: Page, service: string, endpoint: string, cell: string): Promise<string> {
  return (await page.textContent(`[data-service="${service}"] tr[data-endpoint="${endpoint}"] td.${cell}`)) ?? '';
}

test('in a browser the dashboard shows live counters, an endpoint going down, and drains one with a click', async (t) => {
  if (!existsSync(chromiumPath)) {
    t.skip(`no Chromium at ${chromiumPath} (apt-get install chromium; .ci/run installs it)`);
    return;
  }
  const app = await Promise.all(['a', 'b', 'c'].map((name) => origin(t, name)));
  const api = await Promise.all(['api-1', 'api-2'].map((name) => origin(t, name)));
  const [a, , c] = app as [Origin, Origin, Origin];
  const lb = await balancer(t, dashboardConfig(app, api), { events: { statsIntervalMs: 500 } });
  let sending = true;
  const load = (async () => {
    while (sending) {
      // lb.url throws once the balancer closed (its t.after runs before this loop's): the loop then just ends.
      await Promise.resolve()
        .then(() => Promise.all([send(lb.url('/')), send(lb.url('/')), send(lb.url('/api/items'))]))
        .catch(() => undefined);
      await sleep(20);
    }
  })();
  t.after(async () => {
    sending = false;
    await load;
  });

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1440, height: 960 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(`${lb.adminBase}/dashboard/`);
  await page.fill('#token', adminToken);
  await page.click('#login button[type=submit]');
  await page.waitForSelector(`[data-service="app"] tr[data-endpoint="${idOf(a)}"]`);

  // Live counters move under traffic.
  const before = Number(await cellText(page, 'app', idOf(a), 'requests'));
  await waitFor(
    async () => Number(await cellText(page, 'app', idOf(a), 'requests')) > before + 5,
    30_000,
    'the request counter of a to move',
  );
  await waitFor(async () => Number(await cellText(page, 'app', idOf(a), 'rate')) > 0, 30_000, 'a request rate');

  // An instance stops: its row turns down (failed checks), or ejected first when traffic finds it gone before they do.
  await c.close();
  const badge = `[data-service="app"] tr[data-endpoint="${idOf(c)}"] td.health .badge`;
  await page.waitForSelector(`${badge}[data-value="down"], ${badge}[data-value="ejected"]`);
  await page.waitForSelector('#events li[data-type="health"]');

  // Drain `a` with a click: the row says so within a second, and the balancer sends it nothing new.
  const clicked = Date.now();
  await page.click(`[data-service="app"] tr[data-endpoint="${idOf(a)}"] button[data-value="drain"]`);
  await page.waitForSelector(`[data-service="app"] tr[data-endpoint="${idOf(a)}"] td.state .badge[data-value="drain"]`);
  const shownAfterMs = Date.now() - clicked;
  assert.ok(shownAfterMs < 5_000, `the drain showed after ${shownAfterMs} ms`);
  await sleep(500); // requests already on their way to `a` finish
  const served = (): number => a.requests.filter((r) => r.url !== '/healthz').length;
  const seenByA = served();
  await traffic(lb, 20);
  assert.equal(served(), seenByA, 'a drained endpoint gets no new requests (its health checks go on)');

  // The balance chart has a time axis: clock times, later ones further right, all within the chart's 3 minutes.
  await sleep(4_000);
  /** What the test reads of a DOM node (the project's TypeScript has no DOM library). */
  type TickNode = {
    textContent: string | null;
    getAttribute(name: string): string | null;
    getBoundingClientRect(): { left: number };
  };
  const ticks = await page.$$eval('[data-service="app"] .balance .axis .tick', (nodes) =>
    (nodes as unknown as TickNode[]).map((node) => ({
      text: node.textContent ?? '',
      at: Date.parse(node.getAttribute('datetime') ?? ''),
      left: node.getBoundingClientRect().left,
    })),
  );
  assert.ok(ticks.length >= 1, 'the balance chart has time labels');
  const sorted = [...ticks].sort((x, y) => x.at - y.at);
  for (const tick of sorted) {
    assert.match(tick.text, /\d{1,2}:\d{2}:\d{2}/);
    assert.ok(tick.at <= Date.now() && tick.at > Date.now() - 200_000, `${tick.text} is within the chart's span`);
  }
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.left > sorted[i - 1]!.left, 'later times further right');

  // A screenshot as the test's artifact; docs/img/dashboard.png (the README's) only when asked: UPDATE_SCREENSHOTS=1.
  const artifacts = await mkdtemp(join(tmpdir(), 'switchyard-dashboard-'));
  const png = await page.screenshot({ fullPage: true });
  await writeFile(join(artifacts, 'dashboard.png'), png);
  if (process.env['UPDATE_SCREENSHOTS'] === '1') {
    await mkdir(join(screenshotPath, '..'), { recursive: true });
    await writeFile(screenshotPath, png);
    t.diagnostic(`screenshot: ${join(artifacts, 'dashboard.png')}, copied to ${screenshotPath}`);
  } else t.diagnostic(`screenshot: ${join(artifacts, 'dashboard.png')} (UPDATE_SCREENSHOTS=1 updates the README's)`);

  // A wrong token shows no data, only the sign-in form with the refusal.
  const stranger = await browser.newContext();
  const other = await stranger.newPage();
  await other.goto(`${lb.adminBase}/dashboard/`);
  assert.equal(await other.isVisible('#login'), true, 'without a token the page asks for one');
  await other.fill('#token', 'not-the-token');
  await other.click('#login button[type=submit]');
  await waitFor(async () => /401/.test((await other.textContent('#login-error')) ?? ''), 30_000, 'the refusal');
  await sleep(1_000);
  assert.equal(await other.isVisible('#app'), false);
  assert.equal(await other.locator('[data-service]').count(), 0, 'no service is shown');
  await stranger.close();
});
