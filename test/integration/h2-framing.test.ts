import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect as h2connect, constants, type IncomingHttpHeaders } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { websocketAccept } from '../../src/data/http/upgrade-check.js';
import { startH2Origin, startRawOrigin, type RawScript } from './helpers/faulty-origins.js';
import { configWith } from './helpers/origin.js';
import { rawExchange, startSwitchyard, statusOf, type TestSwitchyard } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

/** A balancer with an h2c-capable `web` listener in front of one endpoint, speaking `upstreamProtocol` to it. */
async function lbFor(t: TestContext, url: string, service: Record<string, unknown> = {}) {
  const config = configWith([url], service, { http2: true });
  const lb = await startSwitchyard({ ...config, routes: [{ ...config.routes[0]!, websocket: true }] });
  t.after(() => lb.close());
  return lb;
}

async function rawOrigin(t: TestContext, script: RawScript) {
  const origin = await startRawOrigin(script);
  t.after(() => origin.close());
  return origin;
}

/** What an HTTP/2 client saw of one request: head, 1xx heads, body, trailers, and how the stream ended. */
interface H2Seen {
  readonly status: number;
  readonly informational: IncomingHttpHeaders[];
  readonly body: string;
  readonly trailers: IncomingHttpHeaders | undefined;
  readonly ended: boolean;
  readonly rstCode: number | undefined;
}

function h2get(lb: TestSwitchyard, path = '/', headers: Record<string, string> = {}): Promise<H2Seen> {
  return new Promise((resolve) => {
    const session = h2connect(`http://127.0.0.1:${lb.port()}`);
    session.on('error', () => undefined);
    const stream = session.request({ ':path': path, ...headers });
    const informational: IncomingHttpHeaders[] = [];
    let status = 0;
    let body = '';
    let trailers: IncomingHttpHeaders | undefined;
    let ended = false;
    stream.on('headers', (h) => informational.push(h));
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.on('trailers', (h: IncomingHttpHeaders) => (trailers = h));
    stream.on('end', () => (ended = true));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      resolve({ status, informational, body, trailers, ended, rstCode: stream.rstCode });
      session.close();
    });
  });
}

/** An HTTP/1.1 GET with node:http: the status, 1xx heads, body, trailers and whether the body was cut. */
function h1get(
  lb: TestSwitchyard,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{
  status: number;
  informational: number[];
  body: string;
  trailers: NodeJS.Dict<string>;
  complete: boolean;
  headers: IncomingHttpHeaders;
}> {
  return new Promise((resolve) => {
    const informational: number[] = [];
    const req = httpRequest({ port: lb.port(), host: '127.0.0.1', path: '/', method, headers, agent: false });
    req.on('information', (info) => informational.push(info.statusCode));
    req.on('error', () => undefined);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('error', () => undefined);
      res.on('close', () =>
        resolve({
          status: res.statusCode ?? 0,
          informational,
          body,
          trailers: res.trailers,
          complete: res.complete,
          headers: res.headers,
        }),
      );
    });
    req.end();
  });
}

const cutH1: RawScript = (socket) => {
  socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n' + 'x'.repeat(40));
  setTimeout(() => socket.destroy(), 50);
};

test('a body cut by an HTTP/1.1 instance: HTTP/1.1 clients see the connection close, HTTP/2 clients RST_STREAM INTERNAL_ERROR', async (t) => {
  const origin = await rawOrigin(t, cutH1);
  const lb = await lbFor(t, origin.url);
  const h1 = await h1get(lb);
  assert.equal(h1.status, 200);
  assert.equal(h1.complete, false, 'the HTTP/1.1 body is not complete');
  const h2 = await h2get(lb);
  assert.equal(h2.body.length, 40);
  assert.equal(h2.ended, false, 'no clean end of the HTTP/2 stream');
  assert.equal(h2.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
});

test('a body cut by an HTTP/2 instance: the same for both kinds of client', async (t) => {
  const origin = await startH2Origin((stream, _headers, session) => {
    stream.respond({ ':status': 200, 'content-length': '1000' });
    stream.write('x'.repeat(40), () => setTimeout(() => session.destroy(), 50));
  });
  t.after(() => origin.close());
  const lb = await lbFor(t, origin.url, { upstreamProtocol: 'http2' });
  const h1 = await h1get(lb);
  assert.equal(h1.status, 200);
  assert.equal(h1.complete, false);
  const h2 = await h2get(lb);
  assert.equal(h2.ended, false);
  assert.equal(h2.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
});

/** Sends an upgrade request over a raw connection, then `next` on the same connection; returns all bytes read. */
async function upgradeThenNext(lb: TestSwitchyard, next: string): Promise<{ response: string; closed: boolean }> {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const request =
    `GET /chat HTTP/1.1\r\nhost: app.test\r\nconnection: upgrade\r\nupgrade: websocket\r\n` +
    `sec-websocket-version: 13\r\nsec-websocket-key: ${key}\r\n\r\n`;
  return rawExchange(lb.port(), request + next, 3_000);
}

test('a 101 without Upgrade or a valid Sec-WebSocket-Accept is a 502 and the connection closes; nothing tunnels', async (t) => {
  const bogus = [
    'HTTP/1.1 101 Switching Protocols\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: wrong\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n',
  ];
  for (const answer of bogus) {
    const origin = await rawOrigin(t, (socket, request) => {
      if (request.index === 0) socket.write(answer);
    });
    const lb = await lbFor(t, origin.url);
    const { response, closed } = await upgradeThenNext(lb, 'GET /admin/secret HTTP/1.1\r\nhost: app.test\r\n\r\n');
    assert.equal(statusOf(response), 502, response);
    assert.match(response, /upstream_protocol_error/);
    assert.equal(closed, true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(
      origin.requests.map((r) => r.path),
      ['/chat'],
      'the request after it never reached the instance',
    );
  }
});

test('a 101 with the right Upgrade and Sec-WebSocket-Accept opens the tunnel', async (t) => {
  const origin = await rawOrigin(t, (socket, request) => {
    if (request.index !== 0) return;
    const accept = websocketAccept(request.headers['sec-websocket-key'] ?? '');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\ntunnelled`,
    );
  });
  const lb = await lbFor(t, origin.url);
  const { response } = await upgradeThenNext(lb, '');
  assert.equal(statusOf(response), 101);
  assert.match(response, /tunnelled$/);
});

test('a 304 with Content-Length is passed on with no body, and the next request on the connection gets its answer', async (t) => {
  const origin = await rawOrigin(t, (socket, request) => {
    if (request.path === '/cached')
      socket.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 1234\r\netag: "v1"\r\n\r\n');
    else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext');
  });
  const lb = await lbFor(t, origin.url);
  const { response } = await rawExchange(
    lb.port(),
    'GET /cached HTTP/1.1\r\nhost: a\r\n\r\nGET /after HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n',
  );
  assert.match(response, /^HTTP\/1\.1 304 /);
  assert.match(response, /content-length: 1234/i);
  assert.match(response, /\r\n\r\nHTTP\/1\.1 200 OK[\s\S]*\r\n\r\nnext$/);
  const h2 = await h2get(lb, '/cached');
  assert.equal(h2.status, 304);
  assert.equal(h2.body, '');
});

test('a 204 that wrongly carries a body: the body is dropped and a pipelined request still gets its own answer', async (t) => {
  const origin = await rawOrigin(t, (socket, request) => {
    if (request.path === '/empty') socket.write('HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello');
    else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext');
  });
  const lb = await lbFor(t, origin.url);
  const { response } = await rawExchange(
    lb.port(),
    'GET /empty HTTP/1.1\r\nhost: a\r\n\r\nGET /after HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n',
  );
  assert.match(response, /^HTTP\/1\.1 204 /);
  assert.doesNotMatch(response, /hello/);
  assert.match(response, /HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nnext$/);
});

test('HEAD: the instance’s Content-Length is passed on without a body', async (t) => {
  const origin = await rawOrigin(t, (socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n'));
  const lb = await lbFor(t, origin.url);
  const head = await h1get(lb, {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '42');
  assert.equal(head.body, '');
});

test('103 Early Hints reach HTTP/1.1 and HTTP/2 clients with their Link fields', async (t) => {
  const origin = await rawOrigin(t, (socket) =>
    socket.write(
      'HTTP/1.1 103 Early Hints\r\nlink: </app.css>; rel=preload\r\n\r\n' +
        'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal',
    ),
  );
  const lb = await lbFor(t, origin.url);
  const h1 = await h1get(lb);
  assert.equal(h1.status, 200);
  assert.equal(h1.body, 'final');
  assert.deepEqual(h1.informational, [103]);
  const h2 = await h2get(lb);
  assert.equal(h2.status, 200);
  assert.equal(h2.body, 'final');
  const hints = h2.informational.filter((h) => Number(h[':status']) === 103);
  assert.equal(hints.length, 1);
  assert.equal(hints[0]?.link, '</app.css>; rel=preload');
});

test('an unsolicited 100 Continue from an HTTP/2 instance is dropped and the request succeeds', async (t) => {
  const origin = await startH2Origin((stream) => {
    stream.additionalHeaders({ ':status': 100 });
    stream.respond({ ':status': 200 });
    stream.end('final');
  });
  t.after(() => origin.close());
  const lb = await lbFor(t, origin.url, { upstreamProtocol: 'http2' });
  const h1 = await h1get(lb);
  assert.deepEqual([h1.status, h1.body, h1.informational], [200, 'final', []]);
  const h2 = await h2get(lb);
  assert.deepEqual([h2.status, h2.body], [200, 'final']);
});

test(
  'an unsolicited 100 Continue from an HTTP/1.1 instance never fails the request',
  { todo: 'undici 7 destroys the connection on a 100 it did not ask for ("bad response"): docs/http2.md' },
  async (t) => {
    const origin = await rawOrigin(t, (socket) =>
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal'),
    );
    const lb = await lbFor(t, origin.url);
    const h1 = await h1get(lb);
    assert.deepEqual([h1.status, h1.body], [200, 'final']);
  },
);

test('trailers are forwarded: to HTTP/1.1 clients that send TE: trailers, and to HTTP/2 clients, from h1 and h2 instances', async (t) => {
  const h1Origin = await rawOrigin(t, (socket) =>
    socket.write(
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc\r\n\r\n',
    ),
  );
  const h2Origin = await startH2Origin((stream) => {
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
    stream.end('hello');
  });
  t.after(() => h2Origin.close());
  for (const [url, service] of [
    [h1Origin.url, {}],
    [h2Origin.url, { upstreamProtocol: 'http2' }],
  ] as const) {
    const lb = await lbFor(t, url, service);
    const withTe = await h1get(lb, { te: 'trailers' });
    assert.equal(withTe.body, 'hello');
    assert.equal(withTe.trailers['x-checksum'], 'abc', `h1 client with TE: trailers (${url})`);
    const h2 = await h2get(lb);
    assert.equal(h2.body, 'hello');
    assert.equal(h2.trailers?.['x-checksum'], 'abc', `h2 client (${url})`);
    assert.equal(h2.ended, true);
  }
});

test('WebSocket tunnels add no listeners that trip MaxListenersExceededWarning', async (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.name + ' ' + warning.message);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const origin = await rawOrigin(t, (socket, request) => {
    if (request.index !== 0) return;
    const accept = websocketAccept(request.headers['sec-websocket-key'] ?? '');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
    );
  });
  const lb = await lbFor(t, origin.url);
  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  for (let i = 0; i < 20; i++) {
    const socket = connect(lb.port(), '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(
      'GET /ws HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n' +
        'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await once(socket, 'data');
  }
  await waitFor(() => origin.requests.length === 20, 5_000, 'twenty tunnels');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(
    warnings.filter((text) => text.startsWith('MaxListenersExceededWarning')),
    [],
  );
});
