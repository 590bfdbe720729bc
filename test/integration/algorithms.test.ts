import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { send } from './helpers/http.js';
import { configWith, startOrigin, type Origin, type OriginHandler } from './helpers/origin.js';
import { startSwitchyard } from './helpers/switchyard.js';

async function origin(t: TestContext, name: string, handler?: OriginHandler): Promise<Origin> {
  const started = await startOrigin(name, handler);
  t.after(() => started.close());
  return started;
}

const delayed =
  (ms: number, headers: Record<string, string> = {}): OriginHandler =>
  (req, res, self) => {
    req.resume();
    setTimeout(() => {
      res.writeHead(200, headers);
      res.end(self.name);
    }, ms);
  };

const tally = (bodies: readonly string[]): Record<string, number> =>
  bodies.reduce<Record<string, number>>((counts, body) => ({ ...counts, [body]: (counts[body] ?? 0) + 1 }), {});

test('least-connections sends new requests to the endpoint with fewer in flight', async (t) => {
  const slow = await origin(t, 'slow', delayed(1_500));
  const fast = await origin(t, 'fast', delayed(1));
  const lb = await startSwitchyard(configWith([slow.url, fast.url], { algorithm: 'least-connections' }));
  t.after(() => lb.close());
  // Four at once: equal counts alternate, so two stay in flight on the slow endpoint for 1.5 s …
  const long = Promise.all(Array.from({ length: 4 }, () => send(lb.url('/'))));
  const deadline = Date.now() + 1_000;
  while (slow.requests.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(slow.requests.length, 2);
  // … and every request meanwhile goes to the endpoint with fewer in flight.
  const bodies: string[] = [];
  for (let i = 0; i < 10; i++) bodies.push((await send(lb.url('/'))).body);
  assert.deepEqual(tally(bodies), { fast: 10 });
  assert.deepEqual(tally((await long).map((r) => r.body)), { slow: 2, fast: 2 });
});

test('peak-ewma moves traffic away from an endpoint that answers 10x slower', async (t) => {
  const slow = await origin(t, 'slow', delayed(100));
  const quick = await origin(t, 'quick', delayed(10));
  const lb = await startSwitchyard(configWith([slow.url, quick.url], { algorithm: 'peak-ewma', slowStartMs: 0 }));
  t.after(() => lb.close());
  const bodies: string[] = [];
  for (let i = 0; i < 40; i++) bodies.push((await send(lb.url('/'))).body);
  const later = tally(bodies.slice(10));
  t.diagnostic(`after warm-up: ${JSON.stringify(later)}`);
  assert.ok((later['quick'] ?? 0) >= 25, JSON.stringify(later));
});

test('least-load prefers the instance that reports the lowest X-Load', async (t) => {
  const busy = await origin(t, 'busy', delayed(1, { 'x-load': '90' }));
  const idle = await origin(t, 'idle', delayed(1, { 'x-load': '5' }));
  const lb = await startSwitchyard(configWith([busy.url, idle.url], { algorithm: 'least-load', slowStartMs: 0 }));
  t.after(() => lb.close());
  // The first request to each learns its load; from then on the idle one is preferred. Ten at once may all be picked
  // before any answer brings a new report: then each one sent raises the projected load (docs/algorithms.md), so the
  // idle one takes most of them but not all; when answers come in between, it takes all ten.
  for (let i = 0; i < 2; i++) await send(lb.url('/'));
  const counts = tally(await Promise.all(Array.from({ length: 10 }, async () => (await send(lb.url('/'))).body)));
  assert.ok((counts['idle'] ?? 0) > (counts['busy'] ?? 0), JSON.stringify(counts));
});

test('consistent-hash on a header sends one key to one endpoint, and keys spread over the endpoints', async (t) => {
  const origins = await Promise.all(['a', 'b', 'c'].map((name) => origin(t, name)));
  const lb = await startSwitchyard(
    configWith(
      origins.map((o) => o.url),
      { algorithm: 'consistent-hash', balancing: { hashKey: { source: 'header', name: 'x-user' } } },
    ),
  );
  t.after(() => lb.close());
  const owners = new Set<string>();
  for (let user = 0; user < 20; user++) {
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) seen.add((await send(lb.url('/'), { headers: { 'x-user': `user-${user}` } })).body);
    assert.equal(seen.size, 1, `user-${user} moved`);
    owners.add([...seen][0]!);
  }
  assert.equal(owners.size, 3);
});
