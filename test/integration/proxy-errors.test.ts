import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { send } from './helpers/http.js';
import { configWith, startOrigin } from './helpers/origin.js';
import { startSwitchyard } from './helpers/switchyard.js';

/** A loopback port with nothing listening on it (connections are refused). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

interface Problem {
  type: string;
  title: string;
  status: number;
  instance?: string;
}

function assertProblem(
  reply: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
): Problem {
  assert.equal(reply.status, status);
  assert.equal(reply.headers['content-type'], 'application/problem+json');
  const problem = JSON.parse(reply.body) as Problem;
  assert.equal(problem.status, status);
  assert.ok(problem.title.length > 0);
  assert.equal(problem.instance, `urn:request:${String(reply.headers['x-request-id'])}`);
  return problem;
}

test('a service without endpoints answers 503 saying no endpoint is registered', async (t) => {
  const lb = await startSwitchyard(configWith([]));
  t.after(() => lb.close());
  const problem = assertProblem(await send(lb.url('/')), 503);
  assert.match(problem.type, /no_endpoint_registered$/);
});

test('when every endpoint refuses connections the client gets 502, after one retry', async (t) => {
  const lb = await startSwitchyard(configWith([await deadUrl(), await deadUrl(), await deadUrl()]));
  t.after(() => lb.close());
  const problem = assertProblem(await send(lb.url('/')), 502);
  assert.match(problem.type, /upstream_connect_failure$/);
});

test('a stopped instance costs no client request: connect failures move to the next endpoint', async (t) => {
  const [a, b] = await Promise.all([startOrigin('a'), startOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const lb = await startSwitchyard(configWith([a.url, b.url]));
  t.after(() => lb.close());
  await b.close();
  const replies = await Promise.all(Array.from({ length: 20 }, () => send(lb.url('/'))));
  assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
  assert.deepEqual(new Set(replies.map((r) => r.body)), new Set(['a']));
});

test('a POST whose first endpoint is down is retried with its body intact (nothing was sent)', async (t) => {
  const echo = await startOrigin('echo', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => res.end(Buffer.concat(chunks)));
  });
  t.after(() => echo.close());
  const lb = await startSwitchyard(configWith([await deadUrl(), echo.url]));
  t.after(() => lb.close());
  const body = 'x'.repeat(100_000);
  for (let i = 0; i < 4; i++) {
    const reply = await send(lb.url('/'), { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.length, body.length);
  }
  assert.equal(echo.requests.length, 4);
});

test('an instance that does not answer in time gives 504, and the request is not retried', async (t) => {
  const hang = await startOrigin('hang', (req) => req.resume());
  const other = await startOrigin('other');
  t.after(() => Promise.all([hang.close(), other.close()]));
  const lb = await startSwitchyard(configWith([hang.url, other.url], { timeouts: { firstByteMs: 300 } }));
  t.after(() => lb.close());
  const started = Date.now();
  const problem = assertProblem(await send(lb.url('/slow')), 504);
  assert.match(problem.type, /upstream_timeout$/);
  assert.ok(Date.now() - started < 3_000, 'the timeout fired late');
  assert.equal(hang.requests.length, 1);
  assert.equal(other.requests.length, 0);
});

test('apply() with a shorter firstByteMs takes effect on the next request, on the same warm pool', async (t) => {
  const slow = await startOrigin('slow', (req, res) => {
    req.resume();
    setTimeout(() => res.end('late'), 1_500); // undici's header timer ticks coarsely (about 0.5 s)
  });
  t.after(() => slow.close());
  const lb = await startSwitchyard(configWith([slow.url], { timeouts: { firstByteMs: 5_000 } }));
  t.after(() => lb.close());
  assert.equal((await send(lb.url('/'))).body, 'late');
  await lb.apply(configWith([slow.url], { timeouts: { firstByteMs: 200 } }));
  assertProblem(await send(lb.url('/')), 504);
});

test('an invalid upstream response gives 502 and its connection is not reused', async (t) => {
  const { createServer: createRawServer } = await import('node:net');
  let connections = 0;
  const broken = createRawServer((socket) => {
    connections++;
    socket.on('error', () => undefined);
    socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nhello'));
  });
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => broken.close(() => resolve())));
  const lb = await startSwitchyard(configWith([`http://127.0.0.1:${(broken.address() as AddressInfo).port}`]));
  t.after(() => lb.close());
  for (let i = 0; i < 3; i++) assertProblem(await send(lb.url('/'), { method: 'POST', body: 'x' }), 502);
  assert.equal(connections, 3, 'a connection that carried an invalid response was used again');
});

test('an instance that resets the connection before answering gives 502', async (t) => {
  const reset = await startOrigin('reset', (req) => req.socket.destroy());
  t.after(() => reset.close());
  const lb = await startSwitchyard(configWith([reset.url]));
  t.after(() => lb.close());
  const problem = assertProblem(await send(lb.url('/'), { method: 'POST', body: 'x' }), 502);
  assert.match(problem.type, /upstream_reset$/);
});

test('an idempotent request reset before any response byte is retried once on another endpoint', async (t) => {
  const reset = await startOrigin('reset', (req) => req.socket.destroy());
  const healthy = await startOrigin('healthy');
  t.after(() => Promise.all([reset.close(), healthy.close()]));
  const lb = await startSwitchyard(configWith([reset.url, healthy.url]));
  t.after(() => lb.close());
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const reply = await send(lb.url('/'), { method });
    assert.equal(reply.status, 200, method);
    assert.equal(reply.body, 'healthy');
  }
  // Round-robin alternates, so the resetting endpoint got some first attempts; a POST there is not retried.
  assert.ok(reset.requests.length >= 1);
  const posts = await Promise.all([
    send(lb.url('/'), { method: 'POST', body: 'x' }),
    send(lb.url('/'), { method: 'POST', body: 'x' }),
  ]);
  assert.deepEqual(posts.map((r) => r.status).sort(), [200, 502]);
});

/** Sends a GET and reports how the response ended: 'complete' with the body, or the error that cut it. */
function fetchOutcome(url: string): Promise<{ status: number; outcome: string; received: number }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, outcome: res.complete ? 'complete' : 'incomplete', received }),
      );
      res.on('error', (error) =>
        resolve({ status: res.statusCode ?? 0, outcome: `error: ${error.message}`, received }),
      );
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, outcome: 'aborted', received }));
    });
    req.on('error', (error) => resolve({ status: 0, outcome: `error: ${error.message}`, received: 0 }));
    req.end();
  });
}

for (const [framing, headers] of [
  ['Content-Length', { 'content-length': '1000' }],
  ['chunked', { 'content-type': 'text/plain' }],
] as const) {
  test(`a truncated upstream body (${framing}) closes the client connection instead of faking an end`, async (t) => {
    const truncating = await startOrigin('t', (req, res) => {
      req.resume();
      res.writeHead(200, headers);
      res.write('x'.repeat(100), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    t.after(() => truncating.close());
    const lb = await startSwitchyard(configWith([truncating.url]));
    t.after(() => lb.close());
    const result = await fetchOutcome(lb.url('/'));
    assert.equal(result.status, 200);
    assert.notEqual(result.outcome, 'complete');
    assert.equal(result.received, 100);
  });
}

test('an upstream body that stalls longer than bodyIdleMs closes the client connection', async (t) => {
  const stalling = await startOrigin('s', (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345');
  });
  t.after(() => stalling.close());
  const lb = await startSwitchyard(configWith([stalling.url], { timeouts: { bodyIdleMs: 300 } }));
  t.after(() => lb.close());
  const result = await fetchOutcome(lb.url('/'));
  assert.notEqual(result.outcome, 'complete');
  assert.equal(result.received, 5);
});

test('a client that goes away mid-response frees the upstream connection (a one-connection pool keeps working)', async (t) => {
  let aborted = 0;
  const big = await startOrigin('big', (req, res) => {
    req.resume();
    if (req.url === '/small') {
      res.end('small');
      return;
    }
    res.on('close', () => {
      if (!res.writableFinished) aborted++;
    });
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 1);
    const pump = (): void => {
      while (res.write(chunk));
      res.once('drain', pump);
    };
    pump();
  });
  t.after(() => big.close());
  const lb = await startSwitchyard(configWith([big.url], { maxConnectionsPerEndpoint: 1 }));
  t.after(() => lb.close());
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => {
      const req = httpRequest(lb.url('/big'), { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
      req.end();
    });
  }
  const reply = await send(lb.url('/small'));
  assert.equal(reply.body, 'small');
  assert.equal(aborted, 3);
});
