import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { configSchema, type SwitchyardConfigInput } from '../../src/config/schema.js';
import { defaultAccessLogFields } from '../../src/core/access-entry.js';
import { reopenAccessLogs } from '../../src/observability/access-log.js';
import { send } from './helpers/http.js';
import { startOrigin, type OriginHandler } from './helpers/origin.js';
import { cliPath, rawExchange, startSwitchyard, type TestSwitchyard } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';
import { freePort } from './helpers/ports.js';

/** One JSON access-log line as parsed. */
type Line = Record<string, unknown>;

/** A fresh directory for a test's log files, removed when the test ends. */
function logDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-access-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function linesOf(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '');
}

const jsonLinesOf = (file: string): Line[] => linesOf(file).map((line) => JSON.parse(line) as Line);

/** Waits until `file` holds at least `count` lines (they reach the disk in batches, within about 100 ms). */
function waitForLines(file: string, count: number): Promise<Line[]> {
  return waitFor(
    () => {
      const lines = jsonLinesOf(file);
      return lines.length >= count ? lines : undefined;
    },
    10_000,
    `${count} access-log line(s) in ${file}`,
  );
}

/** Starts a balancer whose access log goes to `<dir>/access.log`; closed when the test ends. */
async function startLogged(
  t: TestContext,
  config: SwitchyardConfigInput,
  accessLog: Record<string, unknown> = {},
): Promise<{ lb: TestSwitchyard; file: string }> {
  const file = join(logDir(t), 'access.log');
  const lb = await startSwitchyard({ ...config, accessLog: { enabled: true, path: file, ...accessLog } });
  t.after(() => lb.close());
  return { lb, file };
}

/** One `web` listener; route `items` (`/api`) to service `app`, plus whatever `extra` adds. */
function webConfig(
  urls: readonly string[],
  extra: { routes?: unknown[]; services?: Record<string, unknown>; app?: Record<string, unknown> } = {},
): SwitchyardConfigInput {
  return {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0' }],
    routes: [{ name: 'items', match: { path: { prefix: '/api' } }, service: 'app' }, ...(extra.routes ?? [])],
    services: { app: { endpoints: urls.map((url) => ({ url })), ...extra.app }, ...extra.services },
  } as SwitchyardConfigInput;
}

const idOf = (port: number): string => `127.0.0.1:${port}`;

test('a proxied request writes one JSON line with every SPEC field, in order, holding what both sides saw', async (t) => {
  const answer: OriginHandler = (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end('created');
    });
  };
  const origin = await startOrigin('a', answer);
  t.after(() => origin.close());
  const { lb, file } = await startLogged(t, webConfig([origin.url]));
  const request =
    'POST /api/items?color=red HTTP/1.1\r\nHost: shop.test\r\nContent-Type: text/plain\r\n' +
    'Content-Length: 5\r\nConnection: close\r\n\r\nhello';
  const before = Date.now();
  const { response, elapsedMs } = await rawExchange(lb.port(), request);
  const after = Date.now();
  const requestId = /x-request-id: ([^\r]+)/i.exec(response)?.[1];
  assert.ok(requestId !== undefined, response);

  const [line] = await waitForLines(file, 1);
  assert.deepEqual(Object.keys(line!), defaultAccessLogFields);
  const time = Date.parse(line!['time'] as string);
  assert.match(line!['time'] as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.ok(time >= before - 1 && time <= after, `time ${time} within [${before}, ${after}]`);
  const duration = line!['duration_ms'] as number;
  const upstreamDuration = line!['upstream_duration_ms'] as number;
  assert.ok(duration > 0 && duration <= elapsedMs + 5, `duration_ms ${duration}, exchange took ${elapsedMs} ms`);
  assert.ok(upstreamDuration >= 0 && upstreamDuration <= duration, `upstream_duration_ms ${upstreamDuration}`);
  assert.deepEqual(
    { ...line, time: undefined, duration_ms: undefined, upstream_duration_ms: undefined },
    {
      time: undefined,
      request_id: requestId,
      client_ip: '127.0.0.1',
      method: 'POST',
      host: 'shop.test',
      path: '/api/items?color=red',
      protocol: 'HTTP/1.1',
      status: 201,
      // Everything on the client connection, heads included: the request as sent and the response as received.
      bytes_in: Buffer.byteLength(request),
      bytes_out: Buffer.byteLength(response, 'latin1'),
      duration_ms: undefined,
      route: 'items',
      service: 'app',
      endpoint: idOf(origin.port),
      upstream_status: 201,
      upstream_duration_ms: undefined,
      retries: 0,
      sticky: false,
      flags: '-',
      grpc_status: null,
    },
  );
});

test('keep-alive requests on one connection each count only their own bytes', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const { lb, file } = await startLogged(t, webConfig([origin.url]));
  const one = 'GET /api/1 HTTP/1.1\r\nHost: x\r\n\r\n';
  const two = 'GET /api/22 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const socket = connect(lb.port(), '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.write(one);
  // The origin's answer is relayed chunked: its last chunk ends the first response.
  await waitFor(() => received.endsWith('\r\n0\r\n\r\n'), 10_000, 'the first response');
  const firstResponse = received;
  socket.write(two);
  await once(socket, 'close');
  const lines = await waitForLines(file, 2);
  assert.deepEqual(
    lines.map((l) => [l['path'], l['bytes_in'], l['bytes_out']]),
    [
      ['/api/1', Buffer.byteLength(one), Buffer.byteLength(firstResponse, 'latin1')],
      ['/api/22', Buffer.byteLength(two), Buffer.byteLength(received, 'latin1') - Buffer.byteLength(firstResponse)],
    ],
  );
});

test('no route: 404 with flag NR, and no route, service, endpoint or upstream values', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const { lb, file } = await startLogged(t, webConfig([origin.url]));
  assert.equal((await send(lb.url('/elsewhere'))).status, 404);
  const [line] = await waitForLines(file, 1);
  assert.equal(line!['status'], 404);
  assert.equal(line!['flags'], 'NR');
  for (const field of ['route', 'service', 'endpoint', 'upstream_status', 'upstream_duration_ms'])
    assert.equal(line![field], null, field);
  assert.equal(typeof line!['request_id'], 'string');
});

test('no healthy endpoint: 503 with flag UH, the route and service named, no endpoint', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const config = webConfig([origin.url], {
    routes: [{ name: 'empty', match: { path: { prefix: '/empty' } }, service: 'empty' }],
    services: { empty: { endpoints: [] } },
  });
  const { lb, file } = await startLogged(t, config);
  assert.equal((await send(lb.url('/empty/x'))).status, 503);
  const [line] = await waitForLines(file, 1);
  assert.deepEqual(
    [line!['status'], line!['flags'], line!['route'], line!['service'], line!['endpoint'], line!['upstream_status']],
    [503, 'UH', 'empty', 'empty', null, null],
  );
});

test('upstream connect failure: 502 with flag UF and the endpoint that refused', async (t) => {
  const port = await freePort();
  const { lb, file } = await startLogged(t, webConfig([`http://127.0.0.1:${port}`]));
  assert.equal((await send(lb.url('/api/x'))).status, 502);
  const [line] = await waitForLines(file, 1);
  assert.deepEqual(
    [line!['status'], line!['flags'], line!['endpoint'], line!['upstream_status'], line!['retries']],
    [502, 'UF', idOf(port), null, 0],
  );
});

test('upstream timeout: an origin that never answers gives 504 with flag UT after firstByteMs', async (t) => {
  const silent = await startOrigin('silent', (req) => req.resume());
  t.after(() => silent.close());
  const { lb, file } = await startLogged(t, webConfig([silent.url], { app: { timeouts: { firstByteMs: 300 } } }));
  assert.equal((await send(lb.url('/api/slow'))).status, 504);
  const [line] = await waitForLines(file, 1);
  assert.deepEqual(
    [line!['status'], line!['flags'], line!['endpoint'], line!['upstream_status']],
    [504, 'UT', idOf(silent.port), null],
  );
  assert.ok((line!['duration_ms'] as number) >= 250, `duration_ms ${String(line!['duration_ms'])}`);
});

test('a request retried after a connect failure counts the retry and names the endpoint that answered', async (t) => {
  const port = await freePort();
  const live = await startOrigin('live');
  t.after(() => live.close());
  const { lb, file } = await startLogged(
    t,
    webConfig([`http://127.0.0.1:${port}`, live.url], { app: { algorithm: 'round-robin' } }),
  );
  for (let i = 0; i < 4; i++) assert.equal((await send(lb.url(`/api/${i}`))).status, 200);
  const lines = await waitForLines(file, 4);
  for (const line of lines) {
    assert.deepEqual([line['status'], line['endpoint'], line['flags']], [200, idOf(live.port), '-']);
    assert.equal(line['upstream_status'], 200);
  }
  assert.ok(
    lines.some((line) => line['retries'] === 1),
    `a retried request: ${JSON.stringify(lines.map((l) => l['retries']))}`,
  );
});

test('sticky is true when the stickiness key chose the endpoint', async (t) => {
  const [a, b] = await Promise.all([startOrigin('a'), startOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const { lb, file } = await startLogged(t, webConfig([a.url, b.url], { app: { stickiness: {} } }));
  const first = await send(lb.url('/api/first'));
  const key = first.headers['x-sticky-key'];
  assert.equal(typeof key, 'string');
  const second = await send(lb.url('/api/second'), { headers: { 'x-sticky-key': key as string } });
  assert.equal(second.body, first.body);
  const lines = await waitForLines(file, 2);
  assert.deepEqual(
    lines.map((l) => [l['path'], l['sticky']]),
    [
      ['/api/first', false],
      ['/api/second', true],
    ],
  );
  assert.equal(lines[0]!['endpoint'], lines[1]!['endpoint']);
});

test('a WebSocket tunnel writes one line when it closes: status 101 and the bytes of its whole life', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  t.after(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  wss.on('connection', (ws) => ws.on('message', (data: Buffer) => ws.send(data)));
  const port = (wss.address() as AddressInfo).port;
  const config = webConfig([], {
    routes: [{ name: 'chat', match: { path: { prefix: '/chat' } }, service: 'ws', websocket: true }],
    services: { ws: { endpoints: [{ url: `http://127.0.0.1:${port}` }] } },
  });
  const { lb, file } = await startLogged(t, config);
  const ws = new WebSocket(`ws://127.0.0.1:${lb.port()}/chat`, { perMessageDeflate: false });
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send('hello through the tunnel');
  await once(ws, 'message');
  ws.close();
  await once(ws, 'close');
  const [line] = await waitForLines(file, 1);
  assert.deepEqual(
    [line!['method'], line!['path'], line!['protocol'], line!['status'], line!['upstream_status']],
    ['GET', '/chat', 'HTTP/1.1', 101, 101],
  );
  assert.deepEqual(
    [line!['route'], line!['service'], line!['endpoint'], line!['flags']],
    ['chat', 'ws', idOf(port), '-'],
  );
  // The handshake plus one masked frame each way and the close frames.
  assert.ok((line!['bytes_in'] as number) > 24 + 100, `bytes_in ${String(line!['bytes_in'])}`);
  assert.ok((line!['bytes_out'] as number) > 24 + 100, `bytes_out ${String(line!['bytes_out'])}`);
});

test('an L4 TCP connection writes one line when it closes: protocol tcp, no status, bytes both ways, its endpoint', async (t) => {
  const echo = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end());
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  t.after(() => new Promise<void>((resolve) => echo.close(() => resolve())));
  const echoPort = (echo.address() as AddressInfo).port;
  const { lb, file } = await startLogged(t, {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [
      { name: 'tcp', protocol: 'tcp', address: '127.0.0.1:0', service: 'echo' },
      { name: 'nobody', protocol: 'tcp', address: '127.0.0.1:0', service: 'empty' },
    ],
    services: { echo: { endpoints: [{ url: `tcp://127.0.0.1:${echoPort}` }] }, empty: { endpoints: [] } },
  });
  const client = connect(lb.port('tcp'), '127.0.0.1');
  client.write('ping\n');
  await once(client, 'data');
  client.end();
  await once(client, 'close');
  const [line] = await waitForLines(file, 1);
  assert.deepEqual(Object.keys(line!), defaultAccessLogFields);
  assert.deepEqual(
    { ...line, time: undefined, duration_ms: undefined },
    {
      time: undefined,
      request_id: null,
      client_ip: '127.0.0.1',
      method: null,
      host: null,
      path: null,
      protocol: 'tcp',
      status: 0,
      bytes_in: 5,
      bytes_out: 5,
      duration_ms: undefined,
      route: null,
      service: 'echo',
      endpoint: idOf(echoPort),
      upstream_status: null,
      upstream_duration_ms: null,
      retries: 0,
      sticky: false,
      flags: '-',
      grpc_status: null,
    },
  );
  assert.ok((line!['duration_ms'] as number) > 0);

  const refused = connect(lb.port('nobody'), '127.0.0.1');
  refused.on('error', () => undefined);
  await once(refused, 'close');
  const lines = await waitForLines(file, 2);
  assert.deepEqual([lines[1]!['service'], lines[1]!['endpoint'], lines[1]!['flags']], ['empty', null, 'UH']);
});

test('a UDP session writes one line when it ends: protocol udp, datagram bytes both ways', async (t) => {
  const instance = createSocket('udp4');
  instance.on('message', (message, from) => instance.send(message, from.port, from.address));
  instance.bind(0, '127.0.0.1');
  await once(instance, 'listening');
  t.after(() => instance.close());
  const instancePort = instance.address().port;
  const file = join(logDir(t), 'access.log');
  const lb = await startSwitchyard({
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ name: 'udp', protocol: 'udp', address: '127.0.0.1:0', service: 'dns' }],
    services: { dns: { endpoints: [{ url: `udp://127.0.0.1:${instancePort}` }] } },
    accessLog: { enabled: true, path: file },
  });
  const client = createSocket('udp4');
  t.after(() => client.close());
  client.send('twelve bytes', lb.port('udp'), '127.0.0.1');
  await once(client, 'message');
  // Closing ends every session, and writes the lines still queued.
  await lb.close(0);
  const [line] = jsonLinesOf(file);
  assert.deepEqual(
    [line!['protocol'], line!['status'], line!['bytes_in'], line!['bytes_out'], line!['service'], line!['flags']],
    ['udp', 0, 12, 12, 'dns', '-'],
  );
  assert.equal(line!['endpoint'], idOf(instancePort));
});

test('format common and combined write the Apache/nginx lines', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const common = await startLogged(t, webConfig([origin.url]), { format: 'common' });
  const combined = await startLogged(t, webConfig([origin.url]), { format: 'combined' });
  const headers = { 'user-agent': 'test-agent/1.0 "quoted"', referer: 'https://ref.example/page' };
  await send(common.lb.url('/api/x?y=1'), { headers });
  await send(combined.lb.url('/api/x?y=1'), { headers });
  const [commonLine] = await waitFor(() => linesOf(common.file)[0] && linesOf(common.file), 10_000, 'a line');
  const [combinedLine] = await waitFor(() => linesOf(combined.file)[0] && linesOf(combined.file), 10_000, 'a line');
  const clf = String.raw`127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /api/x\?y=1 HTTP/1\.1" 200 \d+`;
  assert.match(commonLine!, new RegExp(`^${clf}$`));
  assert.match(
    combinedLine!,
    new RegExp(`^${clf} "https://ref\\.example/page" "test-agent/1\\.0 \\\\x22quoted\\\\x22"$`),
  );
});

test('sample 0 writes no successful request, but every error', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const port = await freePort();
  const config = webConfig([origin.url], {
    routes: [{ name: 'dead', match: { path: { prefix: '/dead' } }, service: 'dead' }],
    services: { dead: { endpoints: [{ url: `http://127.0.0.1:${port}` }] } },
  });
  const { lb, file } = await startLogged(t, config, { sample: 0 });
  for (let i = 0; i < 5; i++) assert.equal((await send(lb.url(`/api/${i}`))).status, 200);
  assert.equal((await send(lb.url('/nowhere'))).status, 404);
  assert.equal((await send(lb.url('/dead/x'))).status, 502);
  await lb.close();
  assert.deepEqual(
    jsonLinesOf(file).map((l) => [l['path'], l['status'], l['flags']]),
    [
      ['/nowhere', 404, 'NR'],
      ['/dead/x', 502, 'UF'],
    ],
  );
});

test('redact hides the listed fields and the query string; fields chooses the JSON keys', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const redacted = await startLogged(t, webConfig([origin.url]), { redact: ['client_ip', 'request_id', 'query'] });
  const chosen = await startLogged(t, webConfig([origin.url]), {
    fields: ['user_agent', 'status', 'path', 'time'],
  });
  await send(redacted.lb.url('/api/login?token=secret'));
  await send(chosen.lb.url('/api/x'), { headers: { 'user-agent': 'agent/2' } });
  const [hidden] = await waitForLines(redacted.file, 1);
  assert.deepEqual(
    [hidden!['client_ip'], hidden!['request_id'], hidden!['path'], hidden!['method']],
    ['[redacted]', '[redacted]', '/api/login?[redacted]', 'GET'],
  );
  assert.doesNotMatch(readFileSync(redacted.file, 'utf8'), /secret|127\.0\.0\.1"/);
  const [few] = await waitForLines(chosen.file, 1);
  assert.deepEqual(Object.keys(few!), ['time', 'path', 'status', 'user_agent']);
  assert.deepEqual([few!['path'], few!['status'], few!['user_agent']], ['/api/x', 200, 'agent/2']);
});

test('after the file is moved away, reopening writes new lines to a new file of the configured name', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const { lb, file } = await startLogged(t, webConfig([origin.url]));
  await send(lb.url('/api/before'));
  await waitForLines(file, 1);
  renameSync(file, `${file}.1`);
  reopenAccessLogs();
  await waitFor(() => existsSync(file), 10_000, 'the reopened file');
  await send(lb.url('/api/after'));
  const [after] = await waitForLines(file, 1);
  assert.equal(after!['path'], '/api/after');
  assert.deepEqual(
    jsonLinesOf(`${file}.1`).map((l) => l['path']),
    ['/api/before'],
  );
});

/** `switchyard start -c FILE` as a child process, with its log lines; killed when the test ends. */
async function startCli(
  t: TestContext,
  config: string,
  workers: number,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, 'start', '-c', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<unknown>((resolve) => child.on('exit', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const lines: Line[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as Line);
    } catch {
      // not a log line
    }
  });
  // Ready when every process serves: before that, a signal could reach a primary that has no handler yet.
  const listening = await waitFor(
    () => {
      const ready = lines.filter((l) => l['msg'] === (workers > 0 ? 'worker serving' : 'listening'));
      return ready.length >= Math.max(1, workers) && lines.find((l) => l['msg'] === 'listening');
    },
    30_000,
    'switchyard to serve',
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { child, port: listening['port'] as number };
}

/**
 * Runs `switchyard start` (with `workers` cluster workers, or in one process), sends requests, moves the log file
 * away as logrotate does, sends SIGUSR1, and checks that every later line lands in a new file of the configured name.
 */
async function rotateWithSignal(t: TestContext, workers: number): Promise<void> {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const dir = logDir(t);
  const file = join(dir, 'logs', 'access.log');
  const config = join(dir, 'switchyard.yaml');
  writeFileSync(
    config,
    [
      `workers: ${workers}`,
      'admin: { enabled: false }',
      'registry: { store: memory }',
      'listeners: [{ name: web, protocol: http, address: "127.0.0.1:0", service: app }]',
      `services: { app: { endpoints: [{ url: "${origin.url}" }] } }`,
      `accessLog: { enabled: true, path: "${file}" }`,
      '',
    ].join('\n'),
  );
  const lb = await startCli(t, config, workers);
  // Each request on its own connection: with workers, cluster's round-robin spreads them over every worker.
  const burst = async (path: string): Promise<void> => {
    for (let i = 0; i < 6; i++) assert.equal((await send(`http://127.0.0.1:${lb.port}${path}`)).status, 200);
  };
  await burst('/before');
  await waitForLines(file, 6);
  renameSync(file, `${file}.1`);
  lb.child.kill('SIGUSR1');
  await waitFor(() => existsSync(file), 15_000, 'the file reopened by SIGUSR1');
  // With workers, each one reopens when the primary's message reaches it: give the slower one a moment.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await burst('/after');
  const after = await waitForLines(file, 6);
  lb.child.kill('SIGTERM');
  assert.deepEqual((await once(lb.child, 'exit'))[0], 0);
  assert.deepEqual(new Set(after.map((l) => l['path'])), new Set(['/after']));
  assert.deepEqual(
    jsonLinesOf(`${file}.1`).map((l) => l['path']),
    Array.from({ length: 6 }, () => '/before'),
  );
}

test('switchyard start reopens its access log file on SIGUSR1 (logrotate)', async (t) => {
  await rotateWithSignal(t, 0);
});

test('with workers, SIGUSR1 to the primary reopens the access log in every worker', async (t) => {
  await rotateWithSignal(t, 2);
});

test('the access log is off unless enabled, and a bad configuration or path is refused at start', async (t) => {
  const parsed = configSchema.parse(webConfig(['http://127.0.0.1:1']));
  assert.deepEqual(parsed.accessLog, {
    enabled: false,
    path: 'stdout',
    format: 'json',
    sample: 1,
    redact: [],
    maxBufferBytes: 4_194_304,
  });
  await assert.rejects(
    startSwitchyard({ ...webConfig(['http://127.0.0.1:1']), accessLog: { format: 'common', fields: ['status'] } }),
    /accessLog\.fields: fields applies to format json only/,
  );
  const notADirectory = join(logDir(t), 'file');
  writeFileSync(notADirectory, '');
  await assert.rejects(
    startSwitchyard({
      ...webConfig(['http://127.0.0.1:1']),
      accessLog: { enabled: true, path: join(notADirectory, 'access.log') },
    }),
    /access log: cannot write to .*access\.log \(E(NOTDIR|EXIST)\)/,
  );
});
