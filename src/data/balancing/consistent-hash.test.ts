import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import type { BalancingConfig } from '../../core/snapshot.js';
import type { LoadGauge } from './balancer.js';
import { ConsistentHash } from './consistent-hash.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}:80`, weight, state: 'ready' });
/** A tiny seeded PRNG (mulberry32), for the picks without a key. */
const mulberry32 = (seed: number) => (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const gauge = (active: Record<string, number> = {}): LoadGauge => ({ active: (id) => active[id] ?? 0 });
const options = (method: 'ring' | 'maglev', boundedLoadFactor = 0) => {
  const balancing: BalancingConfig = {
    hashKey: { source: 'client-ip' },
    consistentHash: { method, boundedLoadFactor },
    peakEwma: { decayMs: 10_000 },
    leastLoad: { staleMs: 10_000 },
  };
  return { random: mulberry32(1), now: () => 0, balancing };
};
const ids = (count: number): string[] => Array.from({ length: count }, (_, i) => `10.0.0.${i + 1}:8080`);
const keys = Array.from({ length: 10_000 }, (_, i) => `198.51.${i >> 8}.${i & 255}`);
const owners = (balancer: ConsistentHash): (string | undefined)[] =>
  keys.map((hashKey) => balancer.pick({ hashKey })?.id);

for (const method of ['ring', 'maglev'] as const) {
  const build = (endpoints: readonly Endpoint[], load = gauge(), factor = 0): ConsistentHash =>
    new ConsistentHash(endpoints, load, options(method, factor));

  test(`${method}: the same key always goes to the same endpoint, whatever the order of the endpoints`, () => {
    const endpoints = ids(5).map((id) => ep(id));
    const first = owners(build(endpoints));
    assert.deepEqual(owners(build(endpoints)), first);
    assert.deepEqual(owners(build([...endpoints].reverse())), first);
    assert.equal(new Set(first).size, 5);
  });

  test(`${method}: adding an 11th endpoint moves about 1/11 of the keys, all to the new endpoint`, () => {
    const before = owners(build(ids(10).map((id) => ep(id))));
    const after = owners(build(ids(11).map((id) => ep(id))));
    const moved = keys.filter((_, i) => before[i] !== after[i]);
    assert.ok(moved.length <= (keys.length * 1.5) / 11, `moved ${moved.length}`);
    assert.ok(moved.length >= (keys.length * 0.5) / 11, `moved only ${moved.length}`);
    const elsewhere = keys.filter((_, i) => before[i] !== after[i] && after[i] !== '10.0.0.11:8080').length;
    // A ring moves keys only to the new endpoint; Maglev's table shifts a few more (the paper's small disruption).
    assert.ok(elsewhere <= (method === 'ring' ? 0 : keys.length * 0.01), `moved elsewhere ${elsewhere}`);
  });

  test(`${method}: removing an endpoint moves only its own keys`, () => {
    const all = ids(10);
    const before = owners(build(all.map((id) => ep(id))));
    const after = owners(build(all.filter((id) => id !== '10.0.0.4:8080').map((id) => ep(id))));
    const movedOthers = keys.filter((_, i) => before[i] !== '10.0.0.4:8080' && before[i] !== after[i]).length;
    assert.ok(movedOthers <= (method === 'ring' ? 0 : keys.length * 0.01), `moved ${movedOthers} other keys`);
    assert.ok(!after.includes('10.0.0.4:8080'));
  });

  test(`${method}: equal endpoints get about equal shares of the keys`, () => {
    const counts = new Map<string | undefined, number>();
    for (const id of owners(build(ids(10).map((id) => ep(id))))) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const count of counts.values()) assert.ok(Math.abs(count / keys.length - 0.1) < 0.02, `share ${count}`);
  });

  test(`${method}: weights 2:1 give about 2/3 and 1/3 of the keys`, () => {
    const picked = owners(build([ep('10.0.0.1:8080', 2), ep('10.0.0.2:8080', 1)]));
    const share = picked.filter((id) => id === '10.0.0.1:8080').length / keys.length;
    assert.ok(Math.abs(share - 2 / 3) <= 0.05, `share ${share}`);
  });

  test(`${method}: an excluded endpoint's keys go to another endpoint, the same one every time`, () => {
    const balancer = build(ids(5).map((id) => ep(id)));
    for (const hashKey of keys.slice(0, 200)) {
      const owner = balancer.pick({ hashKey })!.id;
      const exclude = new Set([owner]);
      const next = balancer.pick({ hashKey, exclude })?.id;
      assert.ok(next !== undefined && next !== owner);
      assert.equal(balancer.pick({ hashKey, exclude })?.id, next);
    }
    assert.equal(balancer.pick({ hashKey: 'k', exclude: new Set(ids(5)) }), undefined);
  });

  test(`${method}: bounded load diverts a key from an overloaded endpoint, and only then`, () => {
    const active: Record<string, number> = {};
    const balancer = build(
      ids(3).map((id) => ep(id)),
      gauge(active),
      1.25,
    );
    const owner = balancer.pick({ hashKey: 'hot' })!.id;
    // The bound is ⌈1.25 × (Σ active + 1) ÷ 3⌉ and an endpoint with that many in flight is full.
    active[owner] = 4; // bound ⌈1.25 × 5 ÷ 3⌉ = 3: full
    const diverted = balancer.pick({ hashKey: 'hot' })?.id;
    assert.ok(diverted !== undefined && diverted !== owner);
    assert.equal(balancer.pick({ hashKey: 'hot' })?.id, diverted);
    active[owner] = 2; // bound ⌈1.25 × 3 ÷ 3⌉ = 2: still full
    assert.equal(balancer.pick({ hashKey: 'hot' })?.id, diverted);
    for (const id of ids(3)) active[id] = 1; // bound ⌈1.25 × 4 ÷ 3⌉ = 2: room again
    assert.equal(balancer.pick({ hashKey: 'hot' })?.id, owner);
  });

  test(`${method}: with bounded load a hot key spreads so that no endpoint holds more than 1.25 × the mean`, () => {
    for (const factor of [0, 1.25]) {
      const active: Record<string, number> = {};
      const balancer = build(
        ids(4).map((id) => ep(id)),
        gauge(active),
        factor,
      );
      for (let i = 0; i < 40; i++) {
        const id = balancer.pick({ hashKey: 'hot' })!.id;
        active[id] = (active[id] ?? 0) + 1;
      }
      const most = Math.max(...Object.values(active));
      if (factor === 0) assert.equal(most, 40);
      else assert.ok(most <= Math.ceil((1.25 * 40) / 4), `most ${most}`);
    }
  });

  test(`${method}: a request without a key gets a weighted random endpoint`, () => {
    const balancer = build([ep('a', 3), ep('b', 1)]);
    let a = 0;
    for (let i = 0; i < 4000; i++) if (balancer.pick({})?.id === 'a') a++;
    assert.ok(Math.abs(a / 4000 - 0.75) < 0.03, `share ${a / 4000}`);
    assert.equal(balancer.pick({ exclude: new Set(['a', 'b']) }), undefined);
  });

  test(`${method}: weight-0 endpoints get no keys, and no endpoints gives undefined`, () => {
    const picked = owners(build([ep('a', 0), ep('b', 1)]));
    assert.deepEqual(new Set(picked), new Set(['b']));
    assert.equal(build([]).pick({ hashKey: 'k' }), undefined);
  });
}

test('maglev accepts a smaller prime table for quick builds and still spreads keys evenly', () => {
  const balancer = new ConsistentHash(
    ids(10).map((id) => ep(id)),
    gauge(),
    { ...options('maglev'), maglevTableSize: 1009 },
  );
  const counts = new Map<string | undefined, number>();
  for (const id of owners(balancer)) counts.set(id, (counts.get(id) ?? 0) + 1);
  assert.equal(counts.size, 10);
  for (const count of counts.values()) assert.ok(Math.abs(count / keys.length - 0.1) < 0.02, `share ${count}`);
});
