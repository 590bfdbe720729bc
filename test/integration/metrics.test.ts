import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { test, type TestContext } from 'node:test';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import { metricDefinitions, metricNames } from '../../src/observability/metrics.js';
import { packageVersion } from '../../src/cli/version.js';
import {
  adminConfigWith,
  adminToken,
  eventually,
  readToken,
  startWithAdmin,
  type AdminSwitchyard,
} from './helpers/admin.js';
import { createTestCa } from './helpers/certs.js';
import { send } from './helpers/http.js';
import { configWith, startOrigin, type Origin, type OriginHandler } from './helpers/origin.js';
import { parseExposition, type Exposition } from './helpers/prometheus.js';

async function origin(t: TestContext, name: string, handler?: OriginHandler): Promise<Origin> {
  const started = await startOrigin(name, handler);
  t.after(() => started.close());
  return started;
}

/** An address nothing listens on: an origin started and stopped at once. */
async function deadUrl(): Promise<string> {
  const gone = await startOrigin('gone');
  await gone.close();
  return gone.url;
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

/** Scrapes `/metrics` with the read token and parses it strictly (a malformed exposition fails the test). */
async function scrape(lb: AdminSwitchyard): Promise<Exposition> {
  const reply = await lb.api('GET', '/metrics', { token: readToken });
  assert.equal(reply.status, 200, reply.body);
  return parseExposition(reply.body);
}

const endpointOf = (o: Origin | string): string => new URL(typeof o === 'string' ? o : o.url).host;

test('the exposition parser refuses malformed text and reads well-formed text', () => {
  const valid = [
    '# HELP a_total A counter with "quotes" and a \\\\ backslash.',
    '# TYPE a_total counter',
    'a_total{x="1",y="with \\"quote\\" and \\\\ and \\n"} 3',
    'a_total{x="2"} 4 1700000000000',
    '# TYPE h histogram',
    '# HELP h A histogram.',
    'h_bucket{le="0.5"} 1',
    'h_bucket{le="1"} 2',
    'h_bucket{le="+Inf"} 3',
    'h_sum 4.5',
    'h_count 3',
    '',
  ].join('\n');
  const parsed = parseExposition(valid);
  assert.equal(parsed.value('a_total', { x: '1', y: 'with "quote" and \\ and \n' }), 3);
  assert.equal(parsed.sum('a_total'), 7);
  assert.equal(parsed.value('h_count'), 3);

  const head = '# HELP m M.\n# TYPE m gauge\n';
  const h = '# HELP h H.\n# TYPE h histogram\n';
  const malformed: [string, RegExp][] = [
    [`${head}m 1`, /must end with/],
    ['# HELP m M.\nm 1\n', /no TYPE line/],
    ['# TYPE m gauge\nm 1\n', /no HELP/],
    [`${head}m one\n`, /invalid value/],
    [`${head}m{1x="a"} 1\n`, /invalid label name/],
    [`${head}m{x=a} 1\n`, /must be quoted/],
    [`${head}m{x="a\\t"} 1\n`, /invalid escape/],
    [`${head}m{x="a} 1\n`, /unterminated/],
    [`${head}m{x="a",x="b"} 1\n`, /duplicate label/],
    [`${head}m{x="a"} 1\nm{x="a"} 2\n`, /duplicate series/],
    [`${head}m{__x="a"} 1\n`, /reserved/],
    [`${head}m 1 soon\n`, /invalid timestamp/],
    [`${head}m 1 2 3\n`, /expected a value/],
    [`${head}m 1\n# HELP n N.\n# TYPE n gauge\nn 1\nm{x="b"} 2\n`, /appears in two places/],
    [`${head}m 1\n# TYPE m gauge\n`, /TYPE for m after/],
    ['# HELP m M.\n# TYPE m meter\nm 1\n', /unknown metric type/],
    ['# HELP c C.\n# TYPE c counter\nc -1\n', /non-negative/],
    [`${h}h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n`, /no le="\+Inf"/],
    [`${h}h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n`, /differs from _count/],
    [`${h}h_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n`, /not cumulative/],
    [`${h}h_bucket{le="+Inf"} 1\nh_count 1\n`, /needs _sum and _count/],
    [`${h}h_bucket{le="+Inf"} 1\nh_sum 1\nh_count{le="1"} 1\n`, /le belongs on _bucket/],
  ];
  for (const [text, problem] of malformed) assert.throws(() => parseExposition(text), problem, text);
});

test('GET /metrics needs a token, takes the read token, and exposes every declared metric in the text format', async (t) => {
  const a = await origin(t, 'a');
  const lb = await balancer(t, adminConfigWith([a.url]));
  assert.equal((await lb.api('GET', '/metrics', { token: null })).status, 401);
  assert.equal((await lb.api('GET', '/metrics', { token: 'wrong' })).status, 401);
  assert.equal((await lb.api('GET', '/metrics', { token: adminToken })).status, 200);
  assert.equal((await lb.api('POST', '/metrics', { token: adminToken })).status, 405);

  const reply = await lb.api('GET', '/metrics', { token: readToken });
  assert.equal(reply.status, 200);
  assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const metrics = parseExposition(reply.body);
  for (const definition of metricDefinitions) {
    assert.equal(metrics.families.get(definition.name)?.type, definition.type, definition.name);
  }
  assert.equal(new Set(metricNames).size, metricNames.length, 'every name is declared once');
  assert.ok(metricNames.every((name) => name.startsWith('switchyard_')));
  // prom-client's process and Node.js metrics come unprefixed, under their usual names.
  assert.equal(metrics.families.get('process_cpu_seconds_total')?.type, 'counter');
  assert.equal(metrics.families.get('nodejs_eventloop_lag_seconds')?.type, 'gauge');
  assert.equal(metrics.value('switchyard_build_info', { version: packageVersion(), node: process.version }), 1);
  assert.equal(metrics.value('switchyard_endpoint_up', { service: 'app', endpoint: endpointOf(a) }), 1);
  assert.equal(metrics.value('switchyard_config_reloads_total', { result: 'success' }), 0);
});

test('N requests move requests_total and the duration histogram by N, and each endpoint by its share', async (t) => {
  const a = await origin(t, 'a');
  const b = await origin(t, 'b');
  const lb = await balancer(t, adminConfigWith([a.url, b.url]));
  const labels = { listener: 'web', route: 'routes.0', service: 'app' };
  const before = await scrape(lb);
  for (let i = 0; i < 10; i++) assert.equal((await send(lb.url(`/item/${i}`))).status, 200);
  const after = await scrape(lb);

  const delta = (name: string, match: Record<string, string>): number =>
    after.sum(name, match) - before.sum(name, match);
  assert.equal(delta('switchyard_requests_total', { ...labels, code_class: '2xx' }), 10);
  assert.equal(delta('switchyard_requests_total', {}), 10);
  assert.equal(delta('switchyard_request_duration_seconds_count', labels), 10);
  assert.equal(delta('switchyard_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), 10);
  assert.ok(delta('switchyard_request_duration_seconds_sum', labels) > 0);
  for (const o of [a, b]) {
    const endpoint = { service: 'app', endpoint: endpointOf(o), code_class: '2xx' };
    assert.equal(delta('switchyard_upstream_requests_total', endpoint), 5, o.name);
  }
  assert.equal(delta('switchyard_retries_total', { service: 'app' }), 0);
});

test('a refused connection is retried and counted; with nobody left the 502 counts as 5xx', async (t) => {
  const live = await origin(t, 'live');
  const dead = await deadUrl();
  const lb = await balancer(t, {
    ...adminConfigWith([]),
    routes: [
      { name: 'broken', match: { path: { prefix: '/broken' } }, service: 'broken' },
      { name: 'mixed', match: { path: { prefix: '/' } }, service: 'app' },
    ],
    services: { app: { endpoints: [{ url: dead }, { url: live.url }] }, broken: { endpoints: [{ url: dead }] } },
  });
  const before = await scrape(lb);
  for (let i = 0; i < 6; i++) assert.equal((await send(lb.url('/'))).status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await send(lb.url('/broken'))).status, 502);
  const after = await scrape(lb);
  const delta = (name: string, match: Record<string, string>): number =>
    after.sum(name, match) - before.sum(name, match);

  const retries = delta('switchyard_retries_total', { service: 'app' });
  assert.ok(retries >= 1, `retries: ${retries}`);
  // Every attempt on the dead endpoint got no answer and was retried on the live one.
  assert.equal(
    delta('switchyard_upstream_requests_total', { service: 'app', endpoint: endpointOf(dead), code_class: 'none' }),
    retries,
  );
  assert.equal(
    delta('switchyard_upstream_requests_total', { service: 'app', endpoint: endpointOf(live), code_class: '2xx' }),
    6,
  );
  assert.equal(delta('switchyard_requests_total', { route: 'mixed', service: 'app', code_class: '2xx' }), 6);

  assert.equal(
    delta('switchyard_requests_total', { listener: 'web', route: 'broken', service: 'broken', code_class: '5xx' }),
    3,
  );
  assert.equal(delta('switchyard_upstream_requests_total', { service: 'broken', code_class: 'none' }), 3);
  assert.equal(delta('switchyard_retries_total', { service: 'broken' }), 0, 'no other endpoint: no retry was sent');
});

test('requests answered without an upstream count under their route, or under route "" when none matched', async (t) => {
  const a = await origin(t, 'a');
  const lb = await balancer(t, {
    ...adminConfigWith([a.url]),
    routes: [
      { name: 'teapot', match: { path: { exact: '/tea' } }, respond: { status: 418, body: 'no' } },
      { name: 'app', match: { path: { prefix: '/app' } }, service: 'app' },
    ],
  });
  const before = await scrape(lb);
  assert.equal((await send(lb.url('/tea'))).status, 418);
  assert.equal((await send(lb.url('/nowhere'))).status, 404);
  // Refused before routing: a header name with an underscore (docs/guarantees.md §3).
  assert.equal((await send(lb.url('/app/x'), { headers: { x_bad: '1' } })).status, 400);
  const after = await scrape(lb);
  const delta = (match: Record<string, string>): number =>
    after.sum('switchyard_requests_total', match) - before.sum('switchyard_requests_total', match);
  assert.equal(delta({ listener: 'web', route: 'teapot', service: '', code_class: '4xx' }), 1);
  assert.equal(delta({ listener: 'web', route: '', service: '', code_class: '4xx' }), 2);
});

test('health check counters rise with every check, and endpoint_up turns 0 when the instance stops', async (t) => {
  const a = await startOrigin('a');
  t.after(() => a.close());
  const check = { http: { path: '/' }, intervalMs: 100, timeoutMs: 200, jitterPercent: 0, fall: 2, rise: 2 };
  const lb = await balancer(t, adminConfigWith([a.url], { healthCheck: check }));
  const endpoint = { service: 'app', endpoint: endpointOf(a) };
  const first = await scrape(lb);
  const passed = first.value('switchyard_health_checks_total', { ...endpoint, result: 'pass' }) ?? 0;
  assert.ok(passed >= 1, 'the warm-up check passed');
  assert.equal(first.value('switchyard_endpoint_up', endpoint), 1);
  await eventually('more checks passed', async () => {
    const now = await scrape(lb);
    return (now.value('switchyard_health_checks_total', { ...endpoint, result: 'pass' }) ?? 0) > passed;
  });

  await a.close();
  await eventually('the endpoint is down in the metrics', async () => {
    const now = await scrape(lb);
    return now.value('switchyard_endpoint_up', endpoint) === 0;
  });
  const last = await scrape(lb);
  assert.ok((last.value('switchyard_health_checks_total', { ...endpoint, result: 'fail' }) ?? 0) >= 2);
});

test('in-flight follows a request the endpoint holds, open connections and bytes follow the client', async (t) => {
  let release: () => void = () => undefined;
  const slow = await origin(t, 'slow', (req, res) => {
    req.resume();
    release = () => res.end('done');
    res.writeHead(200, { 'content-type': 'text/plain' });
  });
  const lb = await balancer(t, adminConfigWith([slow.url]));
  const endpoint = { service: 'app', endpoint: endpointOf(slow) };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const before = await scrape(lb);
  assert.equal(before.value('switchyard_endpoint_in_flight', endpoint), 0);
  assert.equal(before.value('switchyard_open_connections', { listener: 'web', protocol: 'http' }), 0);

  const body = new Promise<string>((resolve, reject) => {
    const req = httpRequest(lb.url('/held'), { agent }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  await eventually('the request reached the origin', () => slow.requests.length === 1);
  const during = await scrape(lb);
  assert.equal(during.value('switchyard_endpoint_in_flight', endpoint), 1);
  assert.equal(during.value('switchyard_open_connections', { listener: 'web', protocol: 'http' }), 1);
  release();
  assert.equal(await body, 'done');

  const after = await scrape(lb);
  assert.equal(after.value('switchyard_endpoint_in_flight', endpoint), 0);
  // The keep-alive connection is still open, and what it carried is counted already.
  assert.equal(after.value('switchyard_open_connections', { listener: 'web', protocol: 'http' }), 1);
  const bytesIn = after.value('switchyard_tcp_bytes_total', { listener: 'web', direction: 'in' }) ?? 0;
  const bytesOut = after.value('switchyard_tcp_bytes_total', { listener: 'web', direction: 'out' }) ?? 0;
  assert.ok(bytesIn >= 'GET /held HTTP/1.1\r\n'.length, `in: ${bytesIn}`);
  assert.ok(bytesOut >= 'HTTP/1.1 200 OK\r\n'.length + 'done'.length, `out: ${bytesOut}`);

  agent.destroy();
  await eventually('the connection is closed', async () => {
    const now = await scrape(lb);
    return now.value('switchyard_open_connections', { listener: 'web', protocol: 'http' }) === 0;
  });
  const closed = await scrape(lb);
  assert.ok((closed.value('switchyard_tcp_bytes_total', { listener: 'web', direction: 'in' }) ?? 0) >= bytesIn);
  assert.ok((closed.value('switchyard_tcp_bytes_total', { listener: 'web', direction: 'out' }) ?? 0) >= bytesOut);
});

test('the certificate expiry gauge is the served certificate notAfter; TLS connections are counted', async (t) => {
  const authority = await createTestCa();
  t.after(() => authority.remove());
  const issued = await authority.issue(['metrics.test', 'other.test']);
  const a = await origin(t, 'a');
  const tls = { certificates: [{ cert: issued.certFile, key: issued.keyFile }] };
  const lb = await balancer(t, {
    ...configWith([a.url], {}, { protocol: 'https', tls }),
    admin: { address: '127.0.0.1:0', tokens: { admin: adminToken, read: readToken } },
  });
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: lb.address('web').port, path: '/', ca: authority.cert, servername: 'metrics.test' },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
  const metrics = await scrape(lb);
  const notAfter = Date.parse(new X509Certificate(issued.cert).validTo) / 1000;
  assert.equal(
    metrics.value('switchyard_tls_certificate_expiry_timestamp_seconds', {
      listener: 'web',
      certificate: 'metrics.test',
    }),
    notAfter,
  );
  assert.equal(metrics.samples('switchyard_tls_certificate_expiry_timestamp_seconds').length, 1);
  assert.equal(
    metrics.value('switchyard_requests_total', {
      listener: 'web',
      route: 'routes.0',
      service: 'app',
      code_class: '2xx',
    }),
    1,
  );
  assert.ok((metrics.value('switchyard_tcp_bytes_total', { listener: 'web', direction: 'in' }) ?? 0) > 0);
  assert.notEqual(metrics.value('switchyard_open_connections', { listener: 'web', protocol: 'https' }), undefined);
});

test('reloads and applies are counted by result; a failed one keeps the running config', async (t) => {
  const a = await origin(t, 'a');
  let next: () => Promise<SwitchyardConfigInput> = () => Promise.reject(new Error('x.yaml:1:1 bad'));
  const lb = await balancer(t, adminConfigWith([a.url]), { reload: () => next() });
  assert.equal((await lb.api('POST', '/api/reload')).status, 400);
  next = () => Promise.resolve(adminConfigWith([a.url]));
  assert.equal((await lb.api('POST', '/api/reload')).status, 200);
  await assert.rejects(lb.apply({ ...adminConfigWith([a.url]), listeners: [] }));
  const metrics = await scrape(lb);
  assert.equal(metrics.value('switchyard_config_reloads_total', { result: 'success' }), 1);
  assert.equal(metrics.value('switchyard_config_reloads_total', { result: 'failure' }), 2);
  assert.equal((await send(lb.url('/'))).status, 200);
});

test('no label carries a request path, a query or a client address', async (t) => {
  const a = await origin(t, 'a');
  const lb = await balancer(t, adminConfigWith([a.url]));
  const secrets = ['7f3a9c', 's3cr3t', '127.0.0.2', '198.51.100.23', '/private'];
  for (const path of ['/private/7f3a9c?token=s3cr3t', '/private/%2e%2e/7f3a9c']) {
    // From another loopback address than the origins', so an address in a label would be the client's.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        lb.url(path),
        { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '198.51.100.23' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.ok(status > 0);
  }
  const metrics = await scrape(lb);
  assert.ok(metrics.sum('switchyard_requests_total') >= 2);
  for (const { sample, label, value } of metrics.labelValues()) {
    for (const secret of secrets) assert.ok(!value.includes(secret), `${sample} ${label}="${value}"`);
  }
});

test('overload refusals are counted by reason: a rate-limited request moves rejections_total{reason="rate_limited"}', async (t) => {
  const a = await origin(t, 'a');
  const config = adminConfigWith([a.url]) as Record<string, unknown>;
  const routes = [
    { match: { path: { prefix: '/' } }, service: 'app', rateLimit: { requestsPerSecond: 0.1, burst: 1 } },
  ];
  const lb = await balancer(t, { ...config, routes } as SwitchyardConfigInput);
  const before = await scrape(lb);
  assert.equal(before.value('switchyard_overload_rejections_total', { reason: 'rate_limited' }), 0);
  assert.equal(before.value('switchyard_overload_shedding', {}), 0);
  assert.ok(before.families.has('switchyard_event_loop_lag_seconds'));
  assert.equal((await send(lb.url('/'))).status, 200);
  assert.equal((await send(lb.url('/'))).status, 429);
  assert.equal((await send(lb.url('/'))).status, 429);
  const after = await scrape(lb);
  assert.equal(after.value('switchyard_overload_rejections_total', { reason: 'rate_limited' }), 2);
  assert.equal(after.value('switchyard_overload_rejections_total', { reason: 'shed' }), 0);
});

test('bytes toward and from an HTTP endpoint are counted: the request body sent, the response body received', async (t) => {
  const a = await origin(t, 'a', (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('y'.repeat(300));
    });
  });
  const lb = await balancer(t, adminConfigWith([a.url]));
  const reply = await send(lb.url('/upload'), { method: 'POST', body: 'x'.repeat(1000) });
  assert.equal(reply.status, 200);
  const bytes = async (): Promise<unknown> => {
    const service = (await lb.api('GET', '/api/services/app', { token: readToken })).json as {
      endpoints: { bytes: { toEndpoint: number; fromEndpoint: number } }[];
    };
    return service.endpoints[0]?.bytes;
  };
  await eventually('the bytes to show', async () => {
    const seen = (await bytes()) as { toEndpoint: number } | undefined;
    return seen !== undefined && seen.toEndpoint > 0;
  });
  assert.deepEqual(await bytes(), { toEndpoint: 1000, fromEndpoint: 300 });
});
