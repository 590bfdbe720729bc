import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { adminConfigWith, endpointsOf, eventually, startWithAdmin } from './helpers/admin.js';
import { countByOrigin, DelayedOrigins, LoadLoop } from './helpers/balancing-load.js';
import { send } from './helpers/http.js';
import { configWith } from './helpers/origin.js';
import { startSwitchyard, type TestSwitchyard } from './helpers/switchyard.js';

/** Sends one request at a time until every origin has answered (so each has reported a load), then n at once. */
async function burst(t: TestContext, lb: TestSwitchyard, names: readonly string[], n: number) {
  const seen = new Set<string>();
  for (let i = 0; i < 50 && seen.size < names.length; i++) seen.add((await send(lb.url('/?ms=1'))).body);
  assert.equal(seen.size, names.length, 'every origin answered once');
  // 1.5 s each: all n picks are made before any of them is answered (even on a slow machine), so no report arrives
  // in between.
  const replies = await Promise.all(Array.from({ length: n }, () => send(lb.url('/?ms=1500'))));
  const counts = countByOrigin(replies.map((r, index) => ({ index, sentAt: 0, origin: r.body })));
  t.diagnostic(`${n} at once: ${JSON.stringify(counts)}`);
  return counts;
}

test('least-load over real sockets: between two X-Load reports the lowest reporter does not take every request', async (t) => {
  const loads: Record<string, string> = { low: '1', mid: '5', high: '5' };
  const set = await DelayedOrigins.start(t, Object.keys(loads), (name) => ({ 'x-load': loads[name]! }));
  const lb = await startSwitchyard(configWith(set.urls, { algorithm: 'least-load', slowStartMs: 0 }));
  t.after(() => lb.close());
  const counts = await burst(t, lb, Object.keys(loads), 30);
  // The lowest reporter is preferred, but only until its projected load is level with the others'.
  assert.ok(counts['low']! <= 15, JSON.stringify(counts));
  assert.ok(counts['low']! >= counts['mid']! && counts['low']! >= counts['high']!, JSON.stringify(counts));
  assert.ok(counts['mid']! >= 5 && counts['high']! >= 5, JSON.stringify(counts));
});

test('least-load over real sockets: origins reporting the same load get the same share', async (t) => {
  const names = ['a', 'b', 'c', 'd'];
  const set = await DelayedOrigins.start(t, names, () => ({ 'x-load': '3' }));
  const lb = await startSwitchyard(configWith(set.urls, { algorithm: 'least-load', slowStartMs: 0 }));
  t.after(() => lb.close());
  const counts = await burst(t, lb, names, 40);
  for (const name of names) assert.ok(Math.abs(counts[name]! - 10) <= 1, JSON.stringify(counts));
});

test('least-load over real sockets: origins reporting what they are working on share a steady stream evenly', async (t) => {
  const names = ['a', 'b', 'c', 'd'];
  const set = await DelayedOrigins.start(t, names, (name, self) => ({ 'x-load': String(self.active.get(name)) }));
  const lb = await startSwitchyard(configWith(set.urls, { algorithm: 'least-load', slowStartMs: 0 }));
  t.after(() => lb.close());
  const load = new LoadLoop(lb.port(), 12);
  t.after(() => load.stop());
  await load.reach(1_000);
  await load.stop();
  const counts = countByOrigin(load.samples);
  t.diagnostic(`requests per origin: ${JSON.stringify(counts)}`);
  const values = names.map((name) => counts[name] ?? 0);
  assert.ok(Math.max(...values) / Math.min(...values) <= 1.25, JSON.stringify(counts));
  assert.deepEqual(load.errors, []);
});

test('least-load over real sockets: loads reported in heartbeats are projected between heartbeats too', async (t) => {
  const loads: Record<string, number> = { low: 1, mid: 5, high: 5 };
  const set = await DelayedOrigins.start(t, Object.keys(loads));
  const lb = await startWithAdmin(adminConfigWith([], { algorithm: 'least-load', slowStartMs: 0 }));
  t.after(() => lb.close());
  const path = '/api/services/app/endpoints';
  for (const [i, name] of Object.keys(loads).entries()) {
    const created = await lb.api('POST', path, { body: { id: name, url: set.urls[i] } });
    assert.equal(created.status, 201, created.body);
    const beat = await lb.api('PUT', `${path}/${name}/heartbeat`, { body: { load: loads[name] } });
    assert.equal(beat.status, 200, beat.body);
  }
  await eventually('every endpoint shows its heartbeat load', async () =>
    (await endpointsOf(lb)).every((e) => e.load === loads[e.id]),
  );
  // 30 at once, 1.5 s each, and no heartbeat meanwhile: the projection spreads them.
  const replies = await Promise.all(Array.from({ length: 30 }, () => send(lb.url('/?ms=1500'))));
  const counts = countByOrigin(replies.map((r, index) => ({ index, sentAt: 0, origin: r.body })));
  t.diagnostic(`30 at once: ${JSON.stringify(counts)}`);
  assert.ok(counts['low']! <= 15, JSON.stringify(counts));
  assert.ok(counts['low']! >= counts['mid']! && counts['low']! >= counts['high']!, JSON.stringify(counts));
});
