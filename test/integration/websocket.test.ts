import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import WebSocket, { WebSocketServer, type ClientOptions, type ServerOptions } from 'ws';
import { createTestCa } from './helpers/certs.js';
import { rawExchange, startSwitchyard, statusOf, type TestSwitchyard } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';

/** A WebSocket origin on 127.0.0.1:0: it echoes every message, answers `whoami` with its name and `close-me` with 4002. */
interface WsOrigin {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** Upgrade requests that reached it. */
  readonly handshakes: IncomingMessage[];
  /** Messages it received, in order. */
  readonly messages: { readonly data: Buffer; readonly isBinary: boolean }[];
  /** Close frames it received (code and reason). */
  readonly closes: { readonly code: number; readonly reason: string }[];
  /** Its side of each tunnel, in order of connection. */
  readonly peers: WebSocket[];
  close(): Promise<void>;
}

async function startWsOrigin(
  t: TestContext,
  name: string,
  options: ServerOptions = {},
  tls?: { readonly cert: string; readonly key: string },
): Promise<WsOrigin> {
  const answer = (_req: IncomingMessage, res: ServerResponse): void => void res.end(name);
  const server = tls === undefined ? createServer(answer) : createHttpsServer(tls, answer);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ server, ...options });
  const origin = {
    name,
    url: '',
    port: 0,
    handshakes: [] as IncomingMessage[],
    messages: [] as { data: Buffer; isBinary: boolean }[],
    closes: [] as { code: number; reason: string }[],
    peers: [] as WebSocket[],
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => server.close(() => resolve())));
    },
  };
  wss.on('headers', (headers, req) => {
    headers.push(`x-origin: ${name}`);
    origin.handshakes.push(req);
  });
  wss.on('connection', (ws) => {
    origin.peers.push(ws);
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary) => {
      origin.messages.push({ data, isBinary });
      const text = isBinary ? '' : data.toString();
      if (text === 'whoami') ws.send(name);
      else if (text === 'close-me') ws.close(4002, 'bye from origin');
      else ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => origin.closes.push({ code, reason: reason.toString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin.port = (server.address() as AddressInfo).port;
  origin.url = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${origin.port}`;
  t.after(() => origin.close());
  return origin;
}

/** One listener `web`, one service `app` over `urls`, a catch-all route that allows WebSocket, the admin API on. */
function wsConfig(urls: readonly string[], service: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  return {
    admin: { address: '127.0.0.1:0' },
    registry: { store: 'memory' as const },
    listeners: [{ name: 'web', protocol: 'http' as const, address: '127.0.0.1:0' }],
    routes: [{ match: { path: { prefix: '/' } }, service: 'app', websocket: true }],
    services: { app: { endpoints: urls.map((url) => ({ url })), ...service } },
    ...top,
  };
}

async function startLb(t: TestContext, config: Parameters<typeof startSwitchyard>[0]): Promise<TestSwitchyard> {
  const lb = await startSwitchyard(config);
  t.after(() => lb.close());
  return lb;
}

const wsUrl = (lb: TestSwitchyard, path = '/chat'): string => `ws://127.0.0.1:${lb.port()}${path}`;

interface Client {
  readonly ws: WebSocket;
  /** The 101 as the client received it. */
  readonly response: IncomingMessage;
  /** The `x-origin` header of the 101: which instance took the tunnel. */
  readonly origin: string;
}

/** Opens a WebSocket through the balancer and waits for it to be open; it is terminated when the test ends. */
async function connect(
  t: TestContext,
  url: string,
  options: { protocols?: string[]; headers?: OutgoingHttpHeaders; perMessageDeflate?: boolean } = {},
): Promise<Client> {
  const ws = new WebSocket(url, options.protocols ?? [], {
    headers: options.headers as Record<string, string>,
    perMessageDeflate: options.perMessageDeflate ?? false,
  });
  t.after(() => ws.terminate());
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    let upgrade: IncomingMessage | undefined;
    ws.once('upgrade', (res) => (upgrade = res));
    ws.once('open', () => resolve(upgrade!));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
  ws.on('error', () => undefined);
  return { ws, response, origin: String(response.headers['x-origin']) };
}

async function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
  return { data, isBinary };
}

async function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return { code: -1, reason: '' };
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  return { code, reason: reason.toString() };
}

async function inFlight(lb: TestSwitchyard): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${lb.address('admin').port}/api/services/app`);
  const body = (await response.json()) as { endpoints: { id: string; inFlight: number }[] };
  return Object.fromEntries(body.endpoints.map((e) => [e.id, e.inFlight]));
}

const idOf = (origin: WsOrigin): string => `127.0.0.1:${origin.port}`;

/** A text message of exactly `bytes` UTF-8 bytes, with a multi-byte character when there is room. */
function textOf(bytes: number): string {
  const ascii = randomBytes(bytes).toString('base64');
  return bytes >= 3 ? `€${ascii.slice(0, bytes - 3)}` : ascii.slice(0, bytes);
}

const upgradeRequest = (path: string, extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;

test('text and binary messages from 1 B to 1 MiB come back byte for byte through the tunnel', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startLb(t, wsConfig([origin.url]));
  const { ws } = await connect(t, wsUrl(lb));
  for (const bytes of [1, 125, 126, 65_535, 65_536, 1_048_576]) {
    const text = textOf(bytes);
    assert.equal(Buffer.byteLength(text), bytes);
    ws.send(text);
    const echoedText = await nextMessage(ws);
    assert.equal(echoedText.isBinary, false);
    assert.equal(echoedText.data.toString(), text, `text of ${bytes} bytes`);
    const binary = randomBytes(bytes);
    ws.send(binary);
    const echoedBinary = await nextMessage(ws);
    assert.equal(echoedBinary.isBinary, true);
    assert.ok(echoedBinary.data.equals(binary), `binary of ${bytes} bytes`);
  }
  assert.equal(origin.messages.length, 12);
});

test('a message sent in fragments reaches the origin as one message', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startLb(t, wsConfig([origin.url]));
  const { ws } = await connect(t, wsUrl(lb));
  const pieces = [randomBytes(10), randomBytes(70_000), randomBytes(1), randomBytes(300)];
  pieces.forEach((piece, i) => ws.send(piece, { binary: true, fin: i === pieces.length - 1 }));
  const echoed = await nextMessage(ws);
  assert.ok(echoed.data.equals(Buffer.concat(pieces)));
  assert.equal(origin.messages.length, 1);
  assert.ok(origin.messages[0]!.data.equals(Buffer.concat(pieces)));
});

test('pings and pongs cross the tunnel in both directions', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startLb(t, wsConfig([origin.url]));
  const { ws } = await connect(t, wsUrl(lb));
  const pong = once(ws, 'pong');
  ws.ping('from the client');
  assert.equal(String((await pong)[0]), 'from the client');
  const peer = origin.peers[0]!;
  const ping = once(ws, 'ping');
  const originPong = once(peer, 'pong');
  peer.ping('from the origin');
  assert.equal(String((await ping)[0]), 'from the origin');
  assert.equal(String((await originPong)[0]), 'from the origin');
});

test('close codes and reasons cross the tunnel both ways', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startLb(t, wsConfig([origin.url]));
  const first = await connect(t, wsUrl(lb));
  first.ws.close(4001, 'bye from client');
  assert.deepEqual(await closed(first.ws), { code: 4001, reason: 'bye from client' });
  await waitFor(() => origin.closes.length === 1, 5_000, 'the origin to see the close');
  assert.deepEqual(origin.closes[0], { code: 4001, reason: 'bye from client' });
  const second = await connect(t, wsUrl(lb));
  const secondClosed = closed(second.ws);
  second.ws.send('close-me');
  assert.deepEqual(await secondClosed, { code: 4002, reason: 'bye from origin' });
  await waitFor(async () => (await inFlight(lb))[idOf(origin)] === 0, 5_000, 'the tunnels to be released');
});

test('the subprotocol is negotiated end to end', async (t) => {
  const origin = await startWsOrigin(t, 'a', {
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  const lb = await startLb(t, wsConfig([origin.url]));
  const { ws } = await connect(t, wsUrl(lb), { protocols: ['chat.v1', 'chat.v2'] });
  assert.equal(ws.protocol, 'chat.v2');
  assert.equal(origin.handshakes[0]?.headers['sec-websocket-protocol'], 'chat.v1,chat.v2');
  assert.equal(origin.peers[0]?.protocol, 'chat.v2');
});

test('permessage-deflate is negotiated end to end: compressed frames pass through untouched', async (t) => {
  const origin = await startWsOrigin(t, 'a', { perMessageDeflate: { threshold: 0 } });
  const lb = await startLb(t, wsConfig([origin.url]));
  const { ws } = await connect(t, wsUrl(lb), { perMessageDeflate: true });
  assert.match(ws.extensions, /permessage-deflate/);
  assert.match(String(origin.handshakes[0]?.headers['sec-websocket-extensions']), /permessage-deflate/);
  const message = 'switchyard '.repeat(100_000);
  ws.send(message);
  assert.equal((await nextMessage(ws)).data.toString(), message);
  // 1.1 MB went each way, but only its compressed form crossed the client's connection.
  const socket = (ws as unknown as { _socket: Socket })._socket;
  assert.ok(socket.bytesRead < message.length / 20, `${socket.bytesRead} bytes read`);
});

test('a refused handshake reaches the client as the origin sent it: 403 with its body', async (t) => {
  const origin = await startWsOrigin(t, 'a', {
    verifyClient: (_info, done) => done(false, 403, 'no entry for you', { 'x-refused-by': 'a' }),
  });
  const lb = await startLb(t, wsConfig([origin.url]));
  const ws = new WebSocket(wsUrl(lb));
  t.after(() => ws.terminate());
  ws.on('error', () => undefined);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  assert.equal(res.statusCode, 403);
  assert.equal(res.headers['x-refused-by'], 'a');
  let body = '';
  for await (const chunk of res) body += String(chunk);
  assert.equal(body, 'no entry for you');
  await waitFor(async () => (await inFlight(lb))[idOf(origin)] === 0, 5_000, 'the refused handshake to be released');
});

test('a refusal from an origin that keeps its connection alive is relayed whole and the connection closed', async (t) => {
  // A plain HTTP origin ignores the upgrade and answers with a chunked body on a keep-alive connection.
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    // Two chunks: the second after the first was flushed (Node 22+ would send both writes of one tick as one).
    res.write('upgrade ', () => res.end('elsewhere'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.after(() => server.closeAllConnections());
  const lb = await startLb(t, wsConfig([`http://127.0.0.1:${(server.address() as AddressInfo).port}`]));
  const { response, closed: wasClosed, elapsedMs } = await rawExchange(lb.port(), upgradeRequest('/chat'), 3_000);
  assert.equal(statusOf(response), 426);
  assert.match(response, /transfer-encoding: chunked/i);
  assert.match(response, /\r\n\r\n8\r\nupgrade \r\n9\r\nelsewhere\r\n0\r\n\r\n$/);
  assert.ok(wasClosed && elapsedMs < 2_000, `closed ${wasClosed} after ${elapsedMs} ms`);
});

test('upgrades are refused on a route without websocket: true (400), where no route matches (404) and for h2c', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startLb(t, {
    ...wsConfig([origin.url]),
    routes: [
      { match: { path: { prefix: '/ws' } }, service: 'app', websocket: true },
      { match: { path: { prefix: '/api' } }, service: 'app' },
    ],
  });
  const plain = await rawExchange(lb.port(), upgradeRequest('/api/stream'));
  assert.equal(statusOf(plain.response), 400);
  assert.match(plain.response, /content-type: application\/problem\+json/);
  assert.match(plain.response, /not allowed on this route/);
  assert.ok(plain.closed);
  const nowhere = await rawExchange(lb.port(), upgradeRequest('/elsewhere'));
  assert.equal(statusOf(nowhere.response), 404);
  const h2c = await rawExchange(
    lb.port(),
    'GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
  );
  assert.equal(statusOf(h2c.response), 400);
  assert.equal(origin.handshakes.length, 0, 'nothing refused reached the origin');
  const allowed = await connect(t, wsUrl(lb, '/ws/feed'));
  assert.equal(allowed.origin, 'a');
  assert.equal(origin.handshakes[0]?.url, '/ws/feed');
});

test('an upgrade is routed on its normalised path and gets the route’s rewrite and header rules', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startLb(t, {
    ...wsConfig([origin.url]),
    routes: [
      {
        match: { path: { prefix: '/live' } },
        service: 'app',
        websocket: true,
        rewrite: { stripPrefix: '/live' },
        requestHeaders: { set: { 'x-route': 'live' } },
      },
      { match: { path: { prefix: '/' } }, service: 'app' },
    ],
  });
  const client = await connect(t, wsUrl(lb, '/x/../live//%66eed?room=1'));
  assert.equal(client.origin, 'a');
  const seen = origin.handshakes[0]!;
  assert.equal(seen.url, '/feed?room=1');
  assert.equal(seen.headers['x-route'], 'live');
  assert.equal(seen.headers.upgrade, 'websocket');
  assert.match(String(seen.headers.connection), /upgrade/i);
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers.via, '1.1 switchyard');
  const encoded = await rawExchange(lb.port(), upgradeRequest('/live%2Ffeed'));
  assert.equal(statusOf(encoded.response), 400);
});

test('least-connections counts open tunnels: with two tunnels open on a, new tunnels go to b', async (t) => {
  const [a, b] = [await startWsOrigin(t, 'a'), await startWsOrigin(t, 'b')];
  // Without slow start, b takes its full share as soon as it is added.
  const service = { algorithm: 'least-connections', slowStartMs: 0 };
  const lb = await startLb(t, wsConfig([a.url], service));
  const onA = [await connect(t, wsUrl(lb)), await connect(t, wsUrl(lb))];
  assert.deepEqual(
    onA.map((c) => c.origin),
    ['a', 'a'],
  );
  await lb.apply(wsConfig([a.url, b.url], service));
  const next = [await connect(t, wsUrl(lb)), await connect(t, wsUrl(lb))];
  assert.deepEqual(
    next.map((c) => c.origin),
    ['b', 'b'],
  );
  assert.deepEqual(await inFlight(lb), { [idOf(a)]: 2, [idOf(b)]: 2 });
  for (const client of onA) client.ws.close();
  await waitFor(async () => (await inFlight(lb))[idOf(a)] === 0, 5_000, "a's tunnels to be released");
  assert.equal((await connect(t, wsUrl(lb))).origin, 'a');
});

test('a client that reconnects with its stickiness key returns to its instance', async (t) => {
  const origins = [await startWsOrigin(t, 'a'), await startWsOrigin(t, 'b'), await startWsOrigin(t, 'c')];
  const lb = await startLb(
    t,
    wsConfig(
      origins.map((o) => o.url),
      { stickiness: { mode: 'key' } },
      { stickinessSecrets: [{ id: 'k1', secret: 'shared-secret-of-the-fleet' }] },
    ),
  );
  const first = await connect(t, wsUrl(lb));
  const key = first.response.headers['x-sticky-key'];
  assert.ok(typeof key === 'string' && key !== '', 'the 101 carries a key');
  assert.match(String(first.response.headers['set-cookie']), /^sy_sticky=[^;]+; Path=\/; Max-Age=3600; HttpOnly/);
  first.ws.close();
  for (let i = 0; i < 5; i++) {
    const headers = i % 2 === 0 ? { 'x-sticky-key': key } : { cookie: `sy_sticky=${key}` };
    const again = await connect(t, wsUrl(lb), { headers });
    assert.equal(again.origin, first.origin, `reconnection ${i + 1}`);
    assert.equal(again.response.headers['x-sticky-key'], undefined, 'a valid key is not replaced');
    again.ws.close();
  }
  const forged = await connect(t, wsUrl(lb), { headers: { 'x-sticky-key': `${key}x` } });
  assert.ok(typeof forged.response.headers['x-sticky-key'] === 'string', 'an invalid key gets a new one');
  const stuck = origins.find((o) => o.name === first.origin)!;
  for (const handshake of stuck.handshakes) assert.equal(handshake.headers['x-sticky-key'], undefined);
});

test('a tunnel idle for tunnelIdleMs is closed on both sides; traffic keeps it open', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  // Generous margins: a loaded CI machine can stall the event loop for a few hundred milliseconds, so traffic comes
  // every 250 ms against a 1.2 s idle limit and the run of ticks (2 s) still outlasts the limit.
  const lb = await startLb(t, wsConfig([origin.url], { timeouts: { tunnelIdleMs: 1_200 } }));
  const { ws } = await connect(t, wsUrl(lb));
  let quietSince = Date.now();
  for (let i = 0; i < 8; i++) {
    if (i > 0) await sleep(250);
    ws.send(`tick ${i}`);
    assert.equal((await nextMessage(ws)).data.toString(), `tick ${i}`);
    quietSince = Date.now();
  }
  const { code } = await closed(ws);
  const quietMs = Date.now() - quietSince;
  assert.equal(code, 1006, 'the tunnel is cut, not closed by a close frame');
  assert.ok(quietMs >= 1_000 && quietMs < 6_000, `closed after ${quietMs} ms of silence`);
  await waitFor(() => origin.closes.length === 1, 5_000, 'the origin to see the tunnel close');
  assert.equal(origin.closes[0]?.code, 1006);
  assert.deepEqual(await inFlight(lb), { [idOf(origin)]: 0 });
});

test('an instance that dies mid-tunnel closes the client’s connection', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startLb(t, wsConfig([origin.url]));
  const { ws } = await connect(t, wsUrl(lb));
  ws.send('whoami');
  assert.equal((await nextMessage(ws)).data.toString(), 'a');
  const clientClosed = closed(ws);
  await origin.close();
  assert.equal((await clientClosed).code, 1006);
  await waitFor(async () => (await inFlight(lb))[idOf(origin)] === 0, 5_000, 'the tunnel to be released');
});

test('a stopped instance costs no tunnel: a connect failure moves to the other endpoint; none left is 502', async (t) => {
  const [dead, alive] = [await startWsOrigin(t, 'dead'), await startWsOrigin(t, 'alive')];
  await dead.close();
  const lb = await startLb(t, wsConfig([dead.url, alive.url]));
  for (let i = 0; i < 4; i++) assert.equal((await connect(t, wsUrl(lb))).origin, 'alive');
  await alive.close();
  const { response, closed: wasClosed } = await rawExchange(lb.port(), upgradeRequest('/chat'));
  assert.equal(statusOf(response), 502);
  assert.match(response, /upstream_connect_failure/);
  assert.ok(wasClosed);
});

test('applying a config with the same route and service leaves an open tunnel working', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const config = wsConfig([origin.url]);
  const lb = await startLb(t, config);
  const { ws } = await connect(t, wsUrl(lb));
  await lb.apply(wsConfig([origin.url], { timeouts: { connectMs: 4_000 } }));
  await lb.apply(config);
  ws.send('still there?');
  assert.equal((await nextMessage(ws)).data.toString(), 'still there?');
  assert.equal(ws.readyState, WebSocket.OPEN);
  assert.equal((await connect(t, wsUrl(lb))).origin, 'a');
});

test('closing the balancer keeps open tunnels until the drain deadline, then ends them', async (t) => {
  const origin = await startWsOrigin(t, 'a');
  const lb = await startSwitchyard(wsConfig([origin.url]));
  t.after(() => lb.close());
  const { ws } = await connect(t, wsUrl(lb));
  const clientClosed = closed(ws);
  const started = Date.now();
  const closing = lb.close(500);
  await sleep(200);
  ws.send('during the drain');
  assert.equal((await nextMessage(ws)).data.toString(), 'during the drain');
  await clientClosed;
  const elapsedMs = Date.now() - started;
  assert.ok(elapsedMs >= 450, `the tunnel ended after ${elapsedMs} ms, before the deadline`);
  assert.equal(await closing, true, 'the deadline forced the tunnel closed');
  await waitFor(() => origin.closes.length === 1, 5_000, 'the origin to see the tunnel end');
});

test('wss through an https listener to an https instance: the tunnel is re-encrypted with the service’s CA', async (t) => {
  const authority = await createTestCa();
  t.after(() => authority.remove());
  const [front, back] = [await authority.issue(['a.test']), await authority.issue(['backend.internal'])];
  const origin = await startWsOrigin(t, 'secure', {}, back);
  const config = (ca: string) => ({
    ...wsConfig([origin.url], { upstreamTls: { ca, servername: 'backend.internal' } }),
    listeners: [
      {
        name: 'web',
        protocol: 'https' as const,
        address: '127.0.0.1:0',
        tls: { certificates: [{ cert: front.certFile, key: front.keyFile }] },
      },
    ],
  });
  const lb = await startLb(t, config(authority.certFile));
  // ws hands TLS options through to https.request; its types only list some of them.
  const trusting = { ca: authority.cert, servername: 'a.test' } as ClientOptions;
  const ws = new WebSocket(`wss://127.0.0.1:${lb.port()}/chat`, trusting);
  t.after(() => ws.terminate());
  ws.on('error', () => undefined);
  await once(ws, 'open');
  ws.send('over tls twice');
  assert.equal((await nextMessage(ws)).data.toString(), 'over tls twice');
  assert.equal(origin.handshakes[0]?.headers['x-forwarded-proto'], 'https');
  const stranger = await createTestCa('Stranger CA');
  t.after(() => stranger.remove());
  await lb.apply(config(stranger.certFile));
  const refused = new WebSocket(`wss://127.0.0.1:${lb.port()}/chat`, trusting);
  t.after(() => refused.terminate());
  refused.on('error', () => undefined);
  const [, res] = (await once(refused, 'unexpected-response')) as [unknown, IncomingMessage];
  assert.equal(res.statusCode, 502, 'an instance whose certificate the CA did not sign is not reached');
  ws.send('the open tunnel stays');
  assert.equal((await nextMessage(ws)).data.toString(), 'the open tunnel stays');
});
