import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { register } from '../../src/client/register.js';
import { eventually, spawnCli } from './helpers/admin.js';

/** One call the fake admin API saw: method, path and when (ms since the server started). */
interface Seen {
  readonly method: string;
  readonly path: string;
  readonly at: number;
}

type Answer = { status: number; retryAfter?: string };

/**
 * A real HTTP server that answers like a Switchyard admin API whose registry store is away: each method's calls are
 * answered from a script (`503 registry_unavailable`, then success), the last entry repeating.
 */
async function scriptedAdmin(
  t: TestContext,
  script: Readonly<Record<'POST' | 'PUT' | 'DELETE', readonly Answer[]>>,
): Promise<{ base: string; seen: Seen[] }> {
  const started = Date.now();
  const seen: Seen[] = [];
  const counts: Record<string, number> = {};
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const method = (req.method ?? 'GET') as 'POST' | 'PUT' | 'DELETE';
    seen.push({ method, path: req.url ?? '', at: Date.now() - started });
    const answers = script[method] ?? [{ status: 404 }];
    const n = (counts[method] = (counts[method] ?? 0) + 1);
    const answer = answers[Math.min(n, answers.length) - 1]!;
    if (answer.status === 503) {
      const body = JSON.stringify({
        type: 'about:blank',
        title: 'Registry unavailable',
        status: 503,
        code: 'registry_unavailable',
        detail: 'the registry store cannot be reached',
      });
      res.writeHead(503, {
        'content-type': 'application/problem+json',
        ...(answer.retryAfter === undefined ? {} : { 'retry-after': answer.retryAfter }),
      });
      res.end(body);
      return;
    }
    if (answer.status === 204) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'i1', leaseExpiresAt: new Date(Date.now() + 3_000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const gaps = (calls: readonly Seen[]): number[] => calls.slice(1).map((call, i) => call.at - calls[i]!.at);

test('register() waits out 503 registry_unavailable as Retry-After says, then registers', async (t) => {
  const admin = await scriptedAdmin(t, {
    POST: [{ status: 503, retryAfter: '1' }, { status: 503, retryAfter: '1' }, { status: 201 }],
    PUT: [{ status: 200 }],
    DELETE: [{ status: 204 }],
  });
  const warnings: string[] = [];
  const handle = await register({
    admin: admin.base,
    service: 'app',
    url: 'http://127.0.0.1:3000',
    id: 'i1',
    onWarning: (w) => warnings.push(w),
  });
  await handle.close();
  const posts = admin.seen.filter((call) => call.method === 'POST');
  assert.equal(posts.length, 3);
  for (const gap of gaps(posts)) assert.ok(gap >= 950, `waited ${gap} ms, Retry-After said 1 s`);
  assert.match(warnings[0] ?? '', /HTTP 503 \(the registry store cannot be reached\); trying again in 1000 ms/);
  assert.ok(admin.seen.some((call) => call.method === 'DELETE'));
});

test('without Retry-After, registration retries back off exponentially', async (t) => {
  const admin = await scriptedAdmin(t, {
    POST: [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { status: 201 }],
    PUT: [{ status: 200 }],
    DELETE: [{ status: 204 }],
  });
  const handle = await register({ admin: admin.base, service: 'app', url: 'http://127.0.0.1:3000', id: 'i1' });
  await handle.close();
  const waits = gaps(admin.seen.filter((call) => call.method === 'POST'));
  assert.equal(waits.length, 4);
  // Steps of 200, 400, 800 and 1600 ms, each waited 50-100 %: the fourth wait is at least 800 ms, twice the first's most.
  assert.ok(waits[3]! >= 790, `waits ${waits.join(', ')}`);
  assert.ok(waits[3]! > waits[0]!, `waits ${waits.join(', ')}`);
});

test('a heartbeat answered 503 is tried again after Retry-After, and heartbeats go on', async (t) => {
  const admin = await scriptedAdmin(t, {
    POST: [{ status: 201 }],
    PUT: [{ status: 503, retryAfter: '2' }, { status: 200 }],
    DELETE: [{ status: 503, retryAfter: '0' }, { status: 204 }],
  });
  const warnings: string[] = [];
  // ttl 3 s: a heartbeat every second.
  const handle = await register({
    admin: admin.base,
    service: 'app',
    url: 'http://127.0.0.1:3000',
    ttl: '3s',
    onWarning: (w) => warnings.push(w),
  });
  t.after(() => handle.close());
  await eventually('three heartbeats', () => admin.seen.filter((c) => c.method === 'PUT').length >= 3, 15_000);
  const beats = admin.seen.filter((call) => call.method === 'PUT');
  assert.ok(gaps(beats)[0]! >= 1_950, `retried after ${gaps(beats)[0]} ms, Retry-After said 2 s (interval 1 s)`);
  assert.ok(
    warnings.some((w) => /heartbeat failed: HTTP 503 .*trying again in 2000 ms/.test(w)),
    warnings.join('\n'),
  );
  await handle.close();
  assert.equal(admin.seen.filter((call) => call.method === 'DELETE').length, 2, 'a 503 deregistration is retried');
});

test('switchyard register retries 503 registry_unavailable, then registers and heartbeats', async (t) => {
  const admin = await scriptedAdmin(t, {
    POST: [{ status: 503, retryAfter: '1' }, { status: 201 }],
    PUT: [{ status: 200 }],
    DELETE: [{ status: 204 }],
  });
  const cli = spawnCli(
    ['register', '--admin', admin.base, '--service', 'app', '--url', 'http://127.0.0.1:3000', '--ttl', '3s'],
    { SWITCHYARD_ADMIN_TOKEN: '', SWITCHYARD_REGISTER_TOKEN: 'reg' },
  );
  t.after(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  await eventually('registered', () => cli.stdout.some((line) => line.includes('"registered"')), 15_000);
  await eventually('a heartbeat', () => admin.seen.some((call) => call.method === 'PUT'), 10_000);
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
  assert.match(cli.stderr(), /cannot register yet: registration refused: HTTP 503/);
  assert.equal(admin.seen.filter((call) => call.method === 'POST').length, 2);
});

test('a refusal that retrying cannot fix rejects at once', async (t) => {
  const admin = await scriptedAdmin(t, { POST: [{ status: 403 }], PUT: [{ status: 200 }], DELETE: [{ status: 204 }] });
  await assert.rejects(
    register({ admin: admin.base, service: 'app', url: 'http://127.0.0.1:3000' }),
    /registration refused: HTTP 403/,
  );
  assert.equal(admin.seen.length, 1);
});
