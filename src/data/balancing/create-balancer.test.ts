import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../core/endpoint.js';
import type { BalancingConfig } from '../../core/snapshot.js';
import { balancerFactories, createBalancer, type AlgorithmName } from './create-balancer.js';

const ep = (id: string, weight = 1): Endpoint => ({ id, url: `http://${id}.test:80`, weight, state: 'ready' });
const balancing: BalancingConfig = {
  hashKey: { source: 'client-ip' },
  consistentHash: { method: 'ring', boundedLoadFactor: 1.25 },
  peakEwma: { decayMs: 10_000 },
  leastLoad: { staleMs: 10_000 },
};
const options = { random: () => 0.5, now: () => 0, balancing };
const load = { active: (): number => 0 };

test('every algorithm a config may name builds a balancer that honours exclusions and weight 0', () => {
  const names = Object.keys(balancerFactories) as AlgorithmName[];
  assert.equal(names.length, 8);
  for (const name of names) {
    const balancer = createBalancer(name, [ep('a'), ep('b'), ep('off', 0)], load, options);
    for (const ctx of [{}, { hashKey: '192.0.2.1' }]) {
      assert.ok(['a', 'b'].includes(balancer.pick(ctx)?.id ?? ''), name);
      assert.equal(balancer.pick({ ...ctx, exclude: new Set(['a']) })?.id, 'b', name);
      assert.equal(balancer.pick({ ...ctx, exclude: new Set(['a', 'b']) }), undefined, name);
    }
    assert.equal(createBalancer(name, [], load, options).pick({}), undefined, name);
  }
});
