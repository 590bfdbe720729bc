import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect as h2connect, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { adminToken, readToken, startWithAdmin } from './helpers/admin.js';
import { send } from './helpers/http.js';
import { configWith, startOrigin, type OriginHandler } from './helpers/origin.js';
import { startSwitchyard, type TestSwitchyard } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';

/** A balancer whose `web` listener is `http` with `http2: true` (h2c with prior knowledge beside HTTP/1.1). */
async function h2cLb(t: TestContext, urls: readonly string[], listener: Record<string, unknown> = {}) {
  const lb = await startSwitchyard(configWith(urls, {}, { http2: true, ...listener }));
  t.after(() => lb.close());
  return lb;
}

function h2session(t: TestContext, lb: TestSwitchyard): ClientHttp2Session {
  const session = h2connect(`http://127.0.0.1:${lb.port()}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  return session;
}

interface H2Reply {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function h2request(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let answer: IncomingHttpHeaders = {};
    let text = '';
    stream.on('response', (h) => (answer = h));
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    stream.on('end', () => resolve({ headers: answer, body: text }));
    stream.on('error', reject);
    stream.end(body);
  });
}

/** An origin that answers each request with its method, path, body length and X-Forwarded-Proto. */
const describeRequest: OriginHandler = (req, res) => {
  let length = 0;
  req.on('data', (chunk: Buffer) => (length += chunk.length));
  req.on('end', () => res.end(`${req.method} ${req.url} ${length} ${String(req.headers['x-forwarded-proto'])}`));
};

/** An origin that holds every request until `release()` (the returned `aborted` counts requests cut from our side). */
async function holdingOrigin(t: TestContext) {
  const held: (() => void)[] = [];
  const state = { aborted: 0 };
  const origin = await startOrigin('hold', (req, res) => {
    req.resume();
    res.on('close', () => {
      if (!res.writableFinished) state.aborted++;
    });
    held.push(() => res.end('late'));
  });
  t.after(() => origin.close());
  return {
    origin,
    state,
    held,
    release(): void {
      for (const answer of held.splice(0)) answer();
    },
  };
}

/** One raw HTTP/2 frame: 9-byte header (length, type, flags, stream id) and payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** The frames in what a server sent (complete ones only). */
function framesIn(bytes: Buffer): { type: number; flags: number; streamId: number; payload: Buffer }[] {
  const frames = [];
  let at = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) break;
    frames.push({
      type: bytes[at + 3]!,
      flags: bytes[at + 4]!,
      streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff,
      payload: bytes.subarray(at + 9, at + 9 + length),
    });
    at += 9 + length;
  }
  return frames;
}

const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME = { headers: 1, rstStream: 3, settings: 4, goaway: 7 } as const;

/** An HPACK block for `GET http://localhost/` from static-table entries and one literal (no Huffman). */
function getHeaderBlock(): Buffer {
  // :method GET (2), :scheme http (6), :path / (4), then :authority (name 1) as a literal without indexing.
  return Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x01, 9]), Buffer.from('localhost', 'latin1')]);
}

test('h2c with prior knowledge: concurrent streams on one session reach the origin; HTTP/1.1 on the same port', async (t) => {
  const origin = await startOrigin('o', describeRequest);
  t.after(() => origin.close());
  const lb = await h2cLb(t, [origin.url]);
  const session = h2session(t, lb);
  const replies = await Promise.all([
    ...Array.from({ length: 8 }, (_, i) => h2request(session, { ':path': `/h2/${i}`, cookie: 'a=1', 'x-b': 'y' })),
    // A body without Content-Length (HTTP/2 frames it) and a large one with it: both reach the origin whole.
    h2request(session, { ':path': '/post', ':method': 'POST' }, Buffer.alloc(200_000, 97)),
    h2request(session, { ':path': '/sized', ':method': 'POST', 'content-length': '10' }, '0123456789'),
  ]);
  for (const [i, reply] of replies.slice(0, 8).entries()) {
    assert.equal(reply.headers[':status'], 200);
    assert.equal(reply.body, `GET /h2/${i} 0 http`);
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']) {
      assert.equal(reply.headers[name], undefined, `${name} leaked into an HTTP/2 response`);
    }
  }
  assert.equal(replies[8]?.body, 'POST /post 200000 http');
  assert.equal(replies[9]?.body, 'POST /sized 10 http');
  assert.equal(session.alpnProtocol, 'h2c');
  const seen = origin.requests.find((r) => r.url === '/h2/0');
  assert.equal(seen?.headers['host'], `127.0.0.1:${lb.port()}`);
  assert.equal(seen?.headers['cookie'], 'a=1');
  assert.equal(seen?.headers['x-forwarded-proto'], 'http');
  // The same port still speaks HTTP/1.1 (POST and PUT start like the preface's `P`).
  assert.equal((await send(lb.url('/h1'))).body, 'GET /h1 0 http');
  const put = await send(lb.url('/put'), { method: 'PUT', body: 'abc' });
  assert.equal(put.status, 200);
  assert.equal(put.body, 'PUT /put 3 http');
  const big = await send(lb.url('/big'), { method: 'POST', body: Buffer.alloc(300_000, 98) });
  assert.equal(big.body, 'POST /big 300000 http');
  const pri = await send(lb.url('/pri'), { method: 'PRI' });
  assert.ok(pri.status >= 400 && pri.status < 500, `PRI over HTTP/1.1: ${pri.status}`);
});

test('the SETTINGS of an h2c session carry the HTTP/2 limits (100 streams, 64 KiB window, 16 KiB header list)', async (t) => {
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await h2cLb(t, [origin.url]);
  const session = h2session(t, lb);
  await once(session, 'remoteSettings');
  assert.equal(session.remoteSettings.maxConcurrentStreams, 100);
  assert.equal(session.remoteSettings.initialWindowSize, 65_535);
  assert.equal(session.remoteSettings.maxHeaderListSize, 16_384);
});

test('a client that ignores the 100-stream limit gets REFUSED_STREAM for the 101st; the origin sees 100', async (t) => {
  const hold = await holdingOrigin(t);
  const lb = await h2cLb(t, [hold.origin.url]);
  const socket = connect({ host: '127.0.0.1', port: lb.port() });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const received = () => framesIn(Buffer.concat(chunks));
  // Preface, empty SETTINGS, then 101 GETs at once without waiting for the server's SETTINGS.
  const block = getHeaderBlock();
  const streams = Array.from({ length: 101 }, (_, i) => 1 + 2 * i);
  socket.write(
    Buffer.concat([
      preface,
      frame(FRAME.settings, 0, 0),
      ...streams.map((id) => frame(FRAME.headers, 0x4 | 0x1 /* END_HEADERS | END_STREAM */, id, block)),
    ]),
  );
  // The server's SETTINGS (acknowledged, as a client must).
  const settings = await waitFor(() => received().find((f) => f.type === FRAME.settings && (f.flags & 1) === 0));
  socket.write(frame(FRAME.settings, 0x1, 0));
  const values = new Map<number, number>();
  for (let at = 0; at + 6 <= settings.payload.length; at += 6) {
    values.set(settings.payload.readUInt16BE(at), settings.payload.readUInt32BE(at + 2));
  }
  assert.equal(values.get(0x3), 100, 'SETTINGS_MAX_CONCURRENT_STREAMS');
  const reset = await waitFor(
    () => received().find((f) => f.type === FRAME.rstStream && f.streamId === streams[100]),
    10_000,
    'RST_STREAM on the 101st stream',
  );
  assert.equal(reset.payload.readUInt32BE(0), h2.NGHTTP2_REFUSED_STREAM);
  await waitFor(() => hold.origin.requests.length === 100, 15_000, '100 requests at the origin');
  await sleep(300);
  assert.equal(hold.origin.requests.length, 100);
  assert.equal(
    received().filter((f) => f.type === FRAME.rstStream).length,
    1,
    'only the stream beyond the limit is refused',
  );
  hold.release();
});

test('Upgrade: h2c over HTTP/1.1 is still refused (400) on an h2c listener; the origin sees nothing', async (t) => {
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await h2cLb(t, [origin.url]);
  const socket = connect({ host: '127.0.0.1', port: lb.port() });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  socket.write(
    'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
      'HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
  );
  await once(socket, 'close');
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.equal(origin.requests.length, 0);
});

test('an h2c stream reset by the client aborts its upstream request at once', async (t) => {
  const hold = await holdingOrigin(t);
  const lb = await h2cLb(t, [hold.origin.url]);
  const session = h2session(t, lb);
  for (let i = 0; i < 5; i++) {
    const stream = session.request({ ':path': `/${i}` });
    stream.on('error', () => undefined);
    stream.end();
    await waitFor(() => hold.origin.requests.length === i + 1, 10_000, `request ${i} at the origin`);
    stream.close(h2.NGHTTP2_CANCEL);
  }
  await waitFor(() => hold.state.aborted === 5, 10_000, 'five upstream requests aborted');
  assert.equal(hold.origin.requests.length, 5);
  // The session is still usable.
  hold.release();
});

test('curl --http2-prior-knowledge gets an HTTP/2 answer', async (t) => {
  let curl = true;
  try {
    execFileSync('sh', ['-c', 'command -v curl'], { stdio: 'ignore' });
  } catch {
    curl = false;
  }
  if (!curl) {
    t.skip('curl is not installed');
    return;
  }
  const origin = await startOrigin('o', describeRequest);
  t.after(() => origin.close());
  const lb = await h2cLb(t, [origin.url]);
  const { stdout } = await promisify(execFile)('curl', [
    '--http2-prior-knowledge',
    '-s',
    '-w',
    ' %{http_version} %{http_code}',
    lb.url('/curl'),
  ]);
  assert.equal(stdout, 'GET /curl 0 http 2 200');
});

test('close() sends GOAWAY to h2c sessions and lets their in-flight streams finish', async (t) => {
  const hold = await holdingOrigin(t);
  const lb = await startSwitchyard(configWith([hold.origin.url], {}, { http2: true }));
  const closing: { done?: Promise<boolean> } = {};
  t.after(() => closing.done ?? lb.close());
  const late = lb.url('/late');
  const session = h2session(t, lb);
  const inFlight = [h2request(session, { ':path': '/a' }), h2request(session, { ':path': '/b' })];
  await waitFor(() => hold.origin.requests.length === 2, 10_000, 'both requests at the origin');
  const goaway = once(session, 'goaway');
  closing.done = lb.close(20_000);
  const [code] = (await goaway) as [number];
  assert.equal(code, h2.NGHTTP2_NO_ERROR);
  // New connections are refused once the listener stopped accepting.
  await assert.rejects(send(late));
  await sleep(200);
  hold.release();
  for (const reply of await Promise.all(inFlight)) {
    assert.equal(reply.headers[':status'], 200);
    assert.equal(reply.body, 'late');
  }
  assert.equal(await closing.done, false, 'the drain ended before its deadline');
});

test('h2c composes with acceptProxyProtocol: the PROXY header first, then the preface', async (t) => {
  const origin = await startOrigin('o', describeRequest);
  t.after(() => origin.close());
  const lb = await h2cLb(t, [origin.url], { acceptProxyProtocol: ['127.0.0.1/32'] });
  const raw = connect({ host: '127.0.0.1', port: lb.port() });
  raw.on('error', () => undefined);
  await once(raw, 'connect');
  raw.write('PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\n');
  const session = h2connect(`http://127.0.0.1:${lb.port()}`, { createConnection: () => raw });
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  const replies = await Promise.all([h2request(session, { ':path': '/p1' }), h2request(session, { ':path': '/p2' })]);
  assert.deepEqual(
    replies.map((r) => r.body),
    ['GET /p1 0 http', 'GET /p2 0 http'],
  );
  for (const path of ['/p1', '/p2']) {
    assert.equal(origin.requests.find((r) => r.url === path)?.headers['x-forwarded-for'], '203.0.113.9');
  }
  // HTTP/1.1 behind a PROXY header on the same listener.
  const plain: Socket = connect({ host: '127.0.0.1', port: lb.port() });
  plain.on('error', () => undefined);
  let text = '';
  plain.on('data', (chunk: Buffer) => (text += chunk.toString()));
  plain.write('PROXY TCP4 198.51.100.7 127.0.0.1 40001 80\r\nGET /v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await once(plain, 'close');
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.equal(origin.requests.find((r) => r.url === '/v1')?.headers['x-forwarded-for'], '198.51.100.7');
});

test('an h2c session is one connection in the listener counters, HTTP/1.1 connections count too', async (t) => {
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await startWithAdmin({
    ...configWith([origin.url], {}, { http2: true }),
    admin: { address: '127.0.0.1:0', tokens: { admin: adminToken, read: readToken } },
  });
  t.after(() => lb.close(2_000));
  const session = h2connect(`http://127.0.0.1:${lb.address('web').port}`);
  session.on('error', () => undefined);
  t.after(() => session.destroy());
  await Promise.all(Array.from({ length: 4 }, (_, i) => h2request(session, { ':path': `/${i}` })));
  await send(lb.url('/h1'));
  const web = async () =>
    (
      (await lb.api('GET', '/api/listeners')).json as {
        name: string;
        connections: { open: number; accepted: number };
      }[]
    ).find((l) => l.name === 'web');
  await waitFor(async () => (await web())?.connections.open === 1, 10_000, 'the HTTP/1.1 connection closed');
  assert.deepEqual((await web())?.connections, { open: 1, accepted: 2 });
  session.close();
  await waitFor(async () => (await web())?.connections.open === 0, 10_000, 'the h2c session closed');
});

test('on an h2c listener a connection that sends no complete first bytes in headerMs gets 408 and is closed', async (t) => {
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const lb = await h2cLb(t, [origin.url], { timeouts: { headerMs: 500 } });
  for (const first of ['', 'PRI * HTTP/2.0\r\n']) {
    const socket = connect({ host: '127.0.0.1', port: lb.port() });
    socket.on('error', () => undefined);
    t.after(() => socket.destroy());
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    if (first !== '') socket.write(first);
    const started = Date.now();
    await once(socket, 'close');
    assert.match(text, /^HTTP\/1\.1 408 /, JSON.stringify(first));
    assert.ok(Date.now() - started < 10_000);
  }
  assert.equal(origin.requests.length, 0);
});

test('http2: true is accepted on http and https listeners only', async () => {
  const { configSchema } = await import('../../src/config/schema.js');
  const base = configWith(['http://127.0.0.1:1'], {}, { http2: true });
  assert.equal(configSchema.safeParse(base).success, true);
  const tcp = configSchema.safeParse({
    ...base,
    listeners: [{ name: 'tcp', protocol: 'tcp', address: '127.0.0.1:0', service: 'app', http2: true }],
    routes: [],
  });
  assert.equal(tcp.success, false);
  assert.ok(
    tcp.error?.issues.some((i) => i.path.join('.') === 'listeners.0.http2'),
    JSON.stringify(tcp.error?.issues),
  );
});
