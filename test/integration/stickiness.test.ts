import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { send, type Reply } from './helpers/http.js';
import { configWith, startOrigin, type Origin } from './helpers/origin.js';
import { spawnSwitchyard, startSwitchyard } from './helpers/switchyard.js';

const secrets = [{ id: 'k1', secret: 'shared-secret-of-the-fleet' }];

async function origins(t: TestContext, names: readonly string[]): Promise<Origin[]> {
  const started = await Promise.all(names.map((name) => startOrigin(name)));
  t.after(() => Promise.all(started.map((o) => o.close())));
  return started;
}

const keyOf = (reply: Reply): string | undefined => reply.headers['x-sticky-key'] as string | undefined;

async function stickyLb(t: TestContext, urls: readonly string[], stickiness: Record<string, unknown> = {}) {
  const lb = await startSwitchyard({
    ...configWith(urls, { stickiness: { mode: 'key', ...stickiness } }, {}, { admin: { address: '127.0.0.1:0' } }),
    stickinessSecrets: secrets,
  });
  t.after(() => lb.close());
  const admin = `http://127.0.0.1:${lb.address('admin').port}`;
  const setState = (id: string, state: string) =>
    send(`${admin}/api/services/app/endpoints/${id}/state`, { method: 'PUT', body: JSON.stringify({ state }) });
  return { lb, admin, setState };
}

test('the first response hands out a key (cookie and X-Sticky-Key); sending it back reaches the same endpoint 100 times', async (t) => {
  const [a, b, c] = await origins(t, ['a', 'b', 'c']);
  const { lb, admin } = await stickyLb(t, [a!.url, b!.url, c!.url]);
  const first = await send(lb.url('/'));
  const key = keyOf(first);
  assert.ok(key !== undefined);
  const cookie = String(first.headers['set-cookie']);
  assert.match(cookie, /^sy_sticky=[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);
  const bodies = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const reply = await send(lb.url('/'), {
      headers: i % 2 === 0 ? { 'x-sticky-key': key } : { cookie: `sy_sticky=${key}` },
    });
    bodies.add(reply.body);
    assert.equal(reply.headers['x-sticky-key'], undefined, 'a fresh key is not re-issued on every response');
  }
  assert.deepEqual([...bodies], [first.body]);
  const service = (await (await fetch(`${admin}/api/services/app`)).json()) as {
    endpoints: { id: string; requests: number; stickyRequests: number }[];
  };
  const stuck = service.endpoints.find((e) => e.stickyRequests > 0);
  assert.equal(stuck?.stickyRequests, 100);
  assert.equal(stuck?.requests, 101);
});

test('forged, tampered, expired and foreign keys are ignored and a fresh key is issued', async (t) => {
  const [a, b] = await origins(t, ['a', 'b']);
  const { lb } = await stickyLb(t, [a!.url, b!.url]);
  const key = keyOf(await send(lb.url('/')))!;
  const [kid, expiry, tag, signature] = key.split('.') as [string, string, string, string];
  const expired = [kid, (Math.floor(Date.now() / 1000) - 10).toString(36), tag, signature].join('.');
  const tampered = [kid, expiry, tag, signature.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'))].join('.');
  const forged = `k1.${expiry}.AAAAAAAAAAAA.${signature}`;
  const foreign = `zz.${expiry}.${tag}.${signature}`;
  for (const bad of [expired, tampered, forged, foreign, 'nonsense']) {
    const reply = await send(lb.url('/'), { headers: { 'x-sticky-key': bad } });
    assert.equal(reply.status, 200);
    const fresh = keyOf(reply);
    assert.ok(fresh !== undefined && fresh !== bad, `no fresh key for ${bad}`);
  }
});

test('a key whose endpoint is in maintenance falls back to the algorithm and issues a new key', async (t) => {
  const [a, b] = await origins(t, ['a', 'b']);
  const { lb, setState } = await stickyLb(t, [a!.url, b!.url]);
  const first = await send(lb.url('/'));
  const stuckTo = first.body === 'a' ? a! : b!;
  assert.equal((await setState(`127.0.0.1:${stuckTo.port}`, 'maint')).status, 200);
  const moved = await send(lb.url('/'), { headers: { 'x-sticky-key': keyOf(first)! } });
  assert.notEqual(moved.body, first.body);
  const newKey = keyOf(moved);
  assert.ok(newKey !== undefined);
  for (let i = 0; i < 5; i++)
    assert.equal((await send(lb.url('/'), { headers: { 'x-sticky-key': newKey } })).body, moved.body);
});

test('draining keeps existing sticky clients (honourOnDrain) but sends no new ones; with honourOnDrain false they move', async (t) => {
  const [a, b] = await origins(t, ['a', 'b']);
  for (const honourOnDrain of [true, false]) {
    const { lb, setState } = await stickyLb(t, [a!.url, b!.url], { honourOnDrain });
    const first = await send(lb.url('/'));
    const stuckTo = first.body === 'a' ? a! : b!;
    await setState(`127.0.0.1:${stuckTo.port}`, 'drain');
    const again = await send(lb.url('/'), { headers: { 'x-sticky-key': keyOf(first)! } });
    assert.equal(again.body === first.body, honourOnDrain, `honourOnDrain ${honourOnDrain}`);
    const newcomers = await Promise.all(Array.from({ length: 6 }, () => send(lb.url('/'))));
    assert.ok(
      newcomers.every((r) => r.body !== first.body),
      'a draining endpoint took a new client',
    );
  }
});

test('a key whose endpoint went away (deregistered) falls back cleanly', async (t) => {
  const [a, b] = await origins(t, ['a', 'b']);
  const lb = await startSwitchyard({ ...configWith([a!.url, b!.url], { stickiness: {} }), stickinessSecrets: secrets });
  t.after(() => lb.close());
  const first = await send(lb.url('/'));
  const survivor = first.body === 'a' ? b! : a!;
  await lb.apply({ ...configWith([survivor.url], { stickiness: {} }), stickinessSecrets: secrets });
  const moved = await send(lb.url('/'), { headers: { 'x-sticky-key': keyOf(first)! } });
  assert.equal(moved.status, 200);
  assert.equal(moved.body, survivor.name);
  assert.ok(keyOf(moved) !== undefined);
});

test('two Switchyard processes with the same secret honour each other’s keys', async (t) => {
  const [a, b, c] = await origins(t, ['a', 'b', 'c']);
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-sticky-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'switchyard.yaml');
  await writeFile(
    file,
    `admin: { enabled: false }
registry: { store: memory }
stickinessSecrets: [{ id: k1, secret: shared-secret-of-the-fleet }]
listeners: [{ name: web, protocol: http, address: "127.0.0.1:0", service: app }]
services:
  app:
    stickiness: { mode: key }
    endpoints: [{ url: "${a!.url}" }, { url: "${b!.url}" }, { url: "${c!.url}" }]
`,
  );
  const [one, two] = await Promise.all([
    spawnSwitchyard(['start', '-c', file]),
    spawnSwitchyard(['start', '-c', file]),
  ]);
  t.after(() => Promise.all([one.stop('SIGKILL'), two.stop('SIGKILL')]));
  // Move node two's round-robin so that it would not pick the same endpoint by chance.
  await send(`http://127.0.0.1:${two.port}/`);
  const first = await send(`http://127.0.0.1:${one.port}/`);
  for (let i = 0; i < 6; i++) {
    const reply = await send(`http://127.0.0.1:${two.port}/`, { headers: { cookie: `sy_sticky=${keyOf(first)!}` } });
    assert.equal(reply.body, first.body);
  }
});

test('source-ip stickiness sends one client address to one endpoint', async (t) => {
  const [a, b, c] = await origins(t, ['a', 'b', 'c']);
  const lb = await startSwitchyard(
    configWith([a!.url, b!.url, c!.url], { stickiness: { mode: 'source-ip' } }, { trustedProxies: ['127.0.0.1'] }),
  );
  t.after(() => lb.close());
  const endpointFor = async (client: string): Promise<string> => {
    const bodies = new Set<string>();
    for (let i = 0; i < 5; i++) bodies.add((await send(lb.url('/'), { headers: { 'x-forwarded-for': client } })).body);
    assert.equal(bodies.size, 1, `client ${client} moved`);
    return [...bodies][0]!;
  };
  const spread = new Set<string>();
  for (let i = 1; i <= 12; i++) spread.add(await endpointFor(`203.0.113.${i}`));
  assert.ok(spread.size >= 2, 'every client went to one endpoint');
});

test('app-cookie stickiness keeps one application session on one endpoint', async (t) => {
  const [a, b, c] = await origins(t, ['a', 'b', 'c']);
  const lb = await startSwitchyard(
    configWith([a!.url, b!.url, c!.url], { stickiness: { mode: 'app-cookie', appCookie: 'JSESSIONID' } }),
  );
  t.after(() => lb.close());
  const spread = new Set<string>();
  for (let session = 0; session < 12; session++) {
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++)
      bodies.add((await send(lb.url('/'), { headers: { cookie: `x=1; JSESSIONID=s${session}` } })).body);
    assert.equal(bodies.size, 1, `session ${session} moved`);
    spread.add([...bodies][0]!);
  }
  assert.ok(spread.size >= 2);
  const anonymous = new Set<string>();
  for (let i = 0; i < 6; i++) anonymous.add((await send(lb.url('/'))).body);
  assert.equal(anonymous.size, 3, 'requests without the cookie are balanced as usual');
});

test('a key whose endpoint fails its health checks falls back and issues a key for a healthy endpoint', async (t) => {
  let healthy = true;
  const flaky = await startOrigin('flaky', (req, res) => {
    req.resume();
    res.writeHead(req.url === '/health' && !healthy ? 500 : 200);
    res.end('flaky');
  });
  const steady = await startOrigin('steady');
  t.after(() => Promise.all([flaky.close(), steady.close()]));
  const check = { http: { path: '/health' }, intervalMs: 100, timeoutMs: 100, jitterPercent: 0, rise: 1, fall: 1 };
  const lb = await startSwitchyard({
    ...configWith([flaky.url, steady.url], { stickiness: {}, healthCheck: check, slowStartMs: 0 }),
    stickinessSecrets: secrets,
  });
  t.after(() => lb.close());
  let first = await send(lb.url('/'));
  if (first.body !== 'flaky') first = await send(lb.url('/'));
  assert.equal(first.body, 'flaky');
  healthy = false;
  const deadline = Date.now() + 5_000;
  let moved = await send(lb.url('/'), { headers: { 'x-sticky-key': keyOf(first)! } });
  while (moved.body === 'flaky' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    moved = await send(lb.url('/'), { headers: { 'x-sticky-key': keyOf(first)! } });
  }
  assert.equal(moved.body, 'steady');
  const newKey = keyOf(moved);
  assert.ok(newKey !== undefined && newKey !== keyOf(first));
  assert.equal((await send(lb.url('/'), { headers: { 'x-sticky-key': newKey } })).body, 'steady');
});
