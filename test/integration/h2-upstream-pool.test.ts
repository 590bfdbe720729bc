import assert from 'node:assert/strict';
import { constants } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Pool, type Dispatcher } from 'undici';
import { Http2Pool, type Http2PoolOptions } from '../../src/data/upstream/http2-pool.js';
import { upstreamTlsConnector } from '../../src/data/upstream/upstream-tls.js';
import { createTestCa } from './helpers/certs.js';
import { answerH2, startH2Origin, type H2Origin } from './helpers/faulty-origins.js';
import { waitFor } from './helpers/wait.js';

interface Outcome {
  readonly informational: number[];
  readonly status?: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly trailers: Record<string, string>;
  readonly error?: Error & { code?: string };
}

const pairs = (raw: readonly (Buffer | string)[] | null): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; raw !== null && i < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
  return out;
};

/** Dispatches one request and collects everything the handler hears. */
function call(pool: { dispatch: Http2Pool['dispatch'] }, options: Partial<Dispatcher.DispatchOptions> = {}) {
  return new Promise<Outcome>((resolve) => {
    const informational: number[] = [];
    let status: number | undefined;
    let headers: Record<string, string> = {};
    let body = '';
    pool.dispatch(
      { path: '/', method: 'GET', headers: ['host', 'app.test'], headersTimeout: 10_000, ...options },
      {
        onConnect: () => undefined,
        onHeaders: (code, raw) => {
          if (code < 200) informational.push(code);
          else {
            status = code;
            headers = pairs(raw);
          }
          return true;
        },
        onData: (chunk) => {
          body += chunk.toString();
          return true;
        },
        onComplete: (trailers) => resolve({ informational, status, headers, body, trailers: pairs(trailers) }),
        onError: (error) => resolve({ informational, status, headers, body, trailers: {}, error }),
      },
    );
  });
}

function pool(t: TestContext, origin: H2Origin | string, options: Partial<Http2PoolOptions> = {}) {
  const p = new Http2Pool(typeof origin === 'string' ? origin : origin.url, {
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 10_000,
    maxSessions: 4,
    ...options,
  });
  t.after(() => p.destroy());
  return p;
}

async function origin(t: TestContext, ...args: Parameters<typeof startH2Origin>) {
  const o = await startH2Origin(...args);
  t.after(() => o.close());
  return o;
}

test('h2c: concurrent requests share one session and get their bodies and trailers', async (t) => {
  const o = await origin(t, answerH2('hello', { 'grpc-status': '0', 'x-custom': 'kept' }));
  const p = pool(t, o);
  const outcomes = await Promise.all(Array.from({ length: 20 }, () => call(p)));
  for (const outcome of outcomes) {
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body, 'hello');
    assert.deepEqual(outcome.trailers, { 'grpc-status': '0', 'x-custom': 'kept' });
  }
  assert.equal(o.sessionCount.value, 1);
  assert.equal(o.requests[0]?.[':authority'], 'app.test');
});

test("the instance's SETTINGS_MAX_CONCURRENT_STREAMS is respected: with one session the rest wait their turn", async (t) => {
  let open = 0;
  let most = 0;
  const o = await origin(
    t,
    (stream) => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => {
        open--;
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }, 30);
    },
    { settings: { maxConcurrentStreams: 2 } },
  );
  const p = pool(t, o, { maxSessions: 1 });
  await call(p); // the instance's SETTINGS are known from here on
  const outcomes = await Promise.all(Array.from({ length: 8 }, () => call(p)));
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    Array(8).fill(200),
  );
  assert.equal(most, 2);
  assert.equal(o.sessionCount.value, 1);
});

test('beyond one session at its stream limit, a second session opens (up to maxSessions)', async (t) => {
  const held: (() => void)[] = [];
  const o = await origin(
    t,
    (stream) =>
      held.push(() => {
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }),
    { settings: { maxConcurrentStreams: 2 } },
  );
  const p = pool(t, o, { maxSessions: 2 });
  const first = call(p);
  await waitFor(() => held.length === 1, 5_000, 'the first stream');
  for (const answer of held.splice(0)) answer();
  await first;
  const calls = Array.from({ length: 5 }, () => call(p));
  await waitFor(() => held.length === 4, 5_000, 'two streams on each of two sessions');
  assert.equal(o.sessionCount.value, 2);
  while (held.length > 0 || p.streams > 0) {
    for (const answer of held.splice(0)) answer();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual(
    (await Promise.all(calls)).map((outcome) => outcome.status),
    Array(5).fill(200),
  );
});

test('a stream refused with REFUSED_STREAM is sent again on another session; the caller sees one answer', async (t) => {
  let refused = 0;
  const o = await origin(t, (stream, headers) => {
    if (refused === 0) {
      refused++;
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    answerH2(`second ${String(headers[':method'])}`)(stream, headers, stream.session as never);
  });
  const p = pool(t, o);
  const outcome = await call(p, { method: 'POST', body: Buffer.from('payload') });
  assert.equal(outcome.error, undefined);
  assert.equal(outcome.body, 'second POST');
  assert.equal(refused, 1);
  assert.equal(o.requests.length, 2);
});

test('a streamed body already sent is not replayed: the caller gets SY_H2_REFUSED_STREAM', async (t) => {
  const o = await origin(t, (stream) => {
    stream.once('data', () => stream.close(constants.NGHTTP2_REFUSED_STREAM));
  });
  const p = pool(t, o);
  const { Readable } = await import('node:stream');
  const body = new Readable({ read() {} });
  body.push('first chunk');
  const outcome = call(p, { method: 'POST', body });
  const result = await outcome;
  body.destroy();
  assert.equal(result.error?.code, 'SY_H2_REFUSED_STREAM');
  assert.equal(o.requests.length, 1);
});

test('GOAWAY mid-load: streams above the last stream id go again on a new session, none is lost', async (t) => {
  let sent = false;
  const o = await origin(t, (stream, headers, session) => {
    if (!sent) {
      sent = true;
      // Take this stream, refuse every later one: a graceful shutdown in the middle of a burst.
      session.goaway(constants.NGHTTP2_NO_ERROR, stream.id);
    }
    answerH2(`from session ${o.sessionCount.value}`)(stream, headers, session);
  });
  const p = pool(t, o, { maxSessions: 2 });
  const outcomes = await Promise.all(Array.from({ length: 10 }, () => call(p, { method: 'POST', body: 'x' })));
  assert.deepEqual(
    outcomes.map((outcome) => outcome.error?.code ?? outcome.status),
    Array(10).fill(200),
  );
  assert.ok(o.sessionCount.value >= 2, 'the refused streams went over a new session');
});

test('a response cut mid-body is an error for the caller, never a complete response', async (t) => {
  const o = await origin(t, (stream, _headers, session) => {
    stream.respond({ ':status': 200, 'content-length': '1000' });
    stream.write('x'.repeat(40), () => setTimeout(() => session.destroy(), 20));
  });
  const p = pool(t, o);
  const outcome = await call(p);
  assert.equal(outcome.status, 200);
  assert.equal(outcome.error?.code, 'UND_ERR_SOCKET');
  const reset = await origin(t, (stream) => {
    stream.respond({ ':status': 200 });
    // close() would end the stream cleanly first (END_STREAM, then RST_STREAM): destroy() resets it at once.
    stream.write('partial', () => stream.destroy(new Error('cut on purpose')));
  });
  const cut = await call(pool(t, reset));
  assert.equal(cut.error?.code, 'UND_ERR_SOCKET');
});

test('103 Early Hints reach the handler before the final response', async (t) => {
  const o = await origin(t, (stream) => {
    stream.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload' });
    stream.respond({ ':status': 200 });
    stream.end('final');
  });
  const outcome = await call(pool(t, o));
  assert.deepEqual(outcome.informational, [103]);
  assert.equal(outcome.status, 200);
  assert.equal(outcome.body, 'final');
});

test('a session with no stream for idleTimeoutMs is closed', async (t) => {
  const o = await origin(t, answerH2('ok'));
  const p = pool(t, o, { idleTimeoutMs: 200 });
  await call(p);
  assert.equal(o.sessions.size, 1);
  await waitFor(() => o.sessions.size === 0 && p.sessions === 0, 5_000, 'the idle session to close');
});

test('no response head within headersTimeout is UND_ERR_HEADERS_TIMEOUT and the stream is cancelled', async (t) => {
  let cancelled = false;
  const o = await origin(t, (stream) =>
    stream.on('close', () => (cancelled = stream.rstCode === constants.NGHTTP2_CANCEL)),
  );
  const outcome = await call(pool(t, o), { headersTimeout: 200 });
  assert.equal(outcome.error?.code, 'UND_ERR_HEADERS_TIMEOUT');
  await waitFor(() => cancelled, 5_000, 'RST_STREAM CANCEL at the instance');
});

test('a refused connection is ECONNREFUSED for every request waiting on it', async (t) => {
  const o = await startH2Origin(answerH2('never'));
  await o.close();
  const p = pool(t, o);
  const outcomes = await Promise.all([call(p), call(p), call(p)]);
  assert.deepEqual(
    outcomes.map((outcome) => outcome.error?.code),
    ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED'],
  );
});

test('h2 over TLS: the configured servername is sent and verified, not the endpoint address', async (t) => {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const cert = await ca.issue(['greeter.internal']);
  const o = await origin(t, answerH2('tls ok'), { tls: cert });
  const good = await call(pool(t, o, { tls: { ca: ca.cert, servername: 'greeter.internal' } }));
  assert.equal(good.body, 'tls ok');
  const wrongName = await call(pool(t, o, { tls: { ca: ca.cert } }));
  assert.equal(wrongName.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  const unknownCa = await call(pool(t, o, { tls: { servername: 'greeter.internal' } }));
  assert.equal(unknownCa.error?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('auto: an instance that picks HTTP/1.1 by ALPN is served by the HTTP/1.1 fallback; one that picks h2 by HTTP/2', async (t) => {
  const ca = await createTestCa();
  t.after(() => ca.remove());
  const cert = await ca.issue(['127.0.0.1']);
  const h1 = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => res.end(`h1 ${req.httpVersion}`));
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
  t.after(() => h1.close());
  const h1Url = `https://127.0.0.1:${(h1.address() as AddressInfo).port}`;
  const tls = { ca: ca.cert, ALPNProtocols: ['h2', 'http/1.1'] };
  const fallback = (url: string) => () =>
    new Pool(url, { connect: upstreamTlsConnector(url, { ca: ca.certFile }, 5_000) });
  const toH1 = pool(t, h1Url, { tls, http1Fallback: fallback(h1Url) });
  const outcomes = await Promise.all([call(toH1), call(toH1)]);
  assert.deepEqual(
    outcomes.map((outcome) => outcome.body),
    ['h1 1.1', 'h1 1.1'],
  );
  assert.equal(toH1.speaksHttp1, true);
  const h2 = await origin(t, answerH2('h2 it is'), { tls: cert, allowHTTP1: true });
  const toH2 = pool(t, h2, { tls, http1Fallback: fallback(h2.url) });
  assert.equal((await call(toH2)).body, 'h2 it is');
  assert.equal(toH2.speaksHttp1, false);
});

test('an instance that stops answering PING loses its session; the request on it fails instead of hanging', async (t) => {
  // A TCP relay in front of the instance that stops passing bytes back once a request went through it: a half-open
  // path or a stuck process, where no PING ACK ever returns.
  const o = await origin(t, () => (relay.stalled = true));
  const relay = { stalled: false };
  const front = createNetServer((client) => {
    const upstream = netConnect(o.port, '127.0.0.1');
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!relay.stalled) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.after(() => front.close());
  const p = pool(t, `http://127.0.0.1:${(front.address() as AddressInfo).port}`, { pingIntervalMs: 100 });
  const outcome = await call(p, { headersTimeout: 30_000 });
  assert.equal(outcome.error?.code, 'UND_ERR_SOCKET');
  await waitFor(() => p.sessions === 0, 5_000, 'the session to be dropped');
});
