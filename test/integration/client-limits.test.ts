import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { configWith, startOrigin } from './helpers/origin.js';
import { rawExchange, startSwitchyard, statusOf } from './helpers/switchyard.js';

const fastTimeouts = { timeouts: { headerMs: 1_000, bodyIdleMs: 1_000 } };

async function setup(t: TestContext, listener: Record<string, unknown> = {}) {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const lb = await startSwitchyard(configWith([origin.url], {}, listener));
  t.after(() => lb.close());
  return { origin, lb };
}

test('a request target longer than 8 KiB gets 414 and the connection closes; the instance sees nothing', async (t) => {
  const { origin, lb } = await setup(t);
  const long = `/${'a'.repeat(8_200)}`;
  const { response, closed } = await rawExchange(lb.port(), `GET ${long} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(statusOf(response), 414);
  assert.ok(closed);
  assert.equal(origin.requests.length, 0);
});

test('more than 100 header fields get 431', async (t) => {
  const { origin, lb } = await setup(t);
  const fields = Array.from({ length: 101 }, (_, i) => `X-F${i}: v\r\n`).join('');
  const { response, closed } = await rawExchange(lb.port(), `GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`);
  assert.equal(statusOf(response), 431);
  assert.ok(closed);
  assert.equal(origin.requests.length, 0);
  const ok = await rawExchange(
    lb.port(),
    `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${fields.split('\r\n').slice(3).join('\r\n')}\r\n`,
  );
  assert.equal(statusOf(ok.response), 200, '100 fields are fine');
});

test('a header block over 16 KiB gets 431 and a problem document', async (t) => {
  const { origin, lb } = await setup(t);
  const { response, closed } = await rawExchange(
    lb.port(),
    `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(17_000)}\r\n\r\n`,
  );
  assert.equal(statusOf(response), 431);
  assert.match(response, /application\/problem\+json/);
  assert.ok(closed);
  assert.equal(origin.requests.length, 0);
});

test('duplicate Host headers are rejected with 400 before routing', async (t) => {
  const { origin, lb } = await setup(t);
  const { response, closed } = await rawExchange(lb.port(), 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n');
  assert.equal(statusOf(response), 400);
  assert.ok(closed);
  assert.equal(origin.requests.length, 0);
});

test('an absolute-form target naming another authority than Host is rejected; a matching one is forwarded in origin-form', async (t) => {
  const { origin, lb } = await setup(t);
  const bad = await rawExchange(lb.port(), 'GET http://evil.test/x HTTP/1.1\r\nHost: good.test\r\n\r\n');
  assert.equal(statusOf(bad.response), 400);
  const good = await rawExchange(
    lb.port(),
    'GET http://good.test/x?y=1 HTTP/1.1\r\nHost: good.test\r\nConnection: close\r\n\r\n',
  );
  assert.equal(statusOf(good.response), 200);
  assert.equal(origin.requests.length, 1);
  assert.equal(origin.requests[0]!.url, '/x?y=1');
});

test('Expect: 100-continue is answered by the balancer; any other expectation gets 417', async (t) => {
  const { origin, lb } = await setup(t);
  const odd = await rawExchange(
    lb.port(),
    'POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nhi',
  );
  assert.equal(statusOf(odd.response), 417);
  assert.match(odd.response, /application\/problem\+json/);
  const continued = await rawExchange(
    lb.port(),
    'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi',
  );
  assert.match(continued.response, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  assert.equal(origin.requests.length, 1);
  assert.equal(origin.requests[0]!.headers['expect'], undefined);
});

test('a request without Host (HTTP/1.1) and a malformed request line get 400', async (t) => {
  const { origin, lb } = await setup(t);
  assert.equal(statusOf((await rawExchange(lb.port(), 'GET / HTTP/1.1\r\n\r\n')).response), 400);
  assert.equal(statusOf((await rawExchange(lb.port(), 'GET /\r\n\r\n')).response), 400);
  assert.equal(statusOf((await rawExchange(lb.port(), 'BAD REQUEST LINE HERE\r\n\r\n')).response), 400);
  assert.equal(origin.requests.length, 0);
});

/** Opens a connection that sends a request line and then one header field every `everyMs`, never finishing. */
function slowloris(t: TestContext, port: number, everyMs: number): Promise<{ response: string; elapsedMs: number }> {
  const socket = connect(port, '127.0.0.1');
  const started = Date.now();
  let response = '';
  socket.on('data', (chunk) => (response += chunk.toString()));
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), everyMs);
  t.after(() => {
    clearInterval(trickle);
    socket.destroy();
  });
  return new Promise((resolve) =>
    socket.on('close', () => {
      clearInterval(trickle);
      resolve({ response, elapsedMs: Date.now() - started });
    }),
  );
}

test('a slowloris client (header bytes trickling in) is closed with 408 once headerMs has passed', async (t) => {
  const { origin, lb } = await setup(t, fastTimeouts);
  const { response, elapsedMs } = await slowloris(t, lb.port(), 200);
  assert.equal(statusOf(response), 408);
  assert.ok(elapsedMs >= 900 && elapsedMs < 3_500, `closed after ${elapsedMs} ms`);
  assert.equal(origin.requests.length, 0);
});

test('with the defaults, a slowloris client is closed within about 10 s while other clients are served', async (t) => {
  const { origin, lb } = await setup(t);
  const closed = slowloris(t, lb.port(), 1_000);
  const normal = await rawExchange(lb.port(), 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(statusOf(normal.response), 200);
  const { response, elapsedMs } = await closed;
  assert.equal(statusOf(response), 408);
  assert.ok(elapsedMs >= 9_500 && elapsedMs < 12_000, `closed after ${elapsedMs} ms`);
  assert.equal(origin.requests.length, 1);
});

test('a connection that never sends a byte is closed once headerMs has passed', async (t) => {
  const { lb } = await setup(t, fastTimeouts);
  const { closed, elapsedMs } = await rawExchange(lb.port(), '', 6_000);
  assert.ok(closed, 'the idle connection was left open');
  assert.ok(elapsedMs < 3_500, `closed after ${elapsedMs} ms`);
});

test('a request body that stalls gets 408 and the connection closes', async (t) => {
  const { lb } = await setup(t, fastTimeouts);
  const { response, closed, elapsedMs } = await rawExchange(
    lb.port(),
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-some-bytes',
    6_000,
  );
  assert.equal(statusOf(response), 408);
  assert.ok(closed);
  assert.ok(elapsedMs < 3_500, `closed after ${elapsedMs} ms`);
});
