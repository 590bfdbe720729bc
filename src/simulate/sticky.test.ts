import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../core/endpoint.js';
import { RoundRobin } from '../data/balancing/round-robin.js';
import { StickyBalancer } from './sticky.js';

const ep = (id: string): Endpoint => ({ id, url: `http://${id}.sim`, weight: 1, state: 'ready' });

test('a returning client keeps the endpoint it was first given', () => {
  const endpoints = [ep('a'), ep('b'), ep('c')];
  const sticky = new StickyBalancer(new RoundRobin(endpoints), endpoints, new Map());
  const first = ['x', 'y', 'z'].map((client) => sticky.pick({ hashKey: client })?.id);
  const again = ['z', 'x', 'x', 'y'].map((client) => sticky.pick({ hashKey: client })?.id);
  assert.deepEqual(first, ['a', 'b', 'c']);
  assert.deepEqual(again, ['c', 'a', 'a', 'b']);
});

test('a client whose endpoint is excluded or gone is re-picked, and keeps the new one across rebuilds', () => {
  const keys = new Map<string, string>();
  const endpoints = [ep('a'), ep('b')];
  const sticky = new StickyBalancer(new RoundRobin(endpoints), endpoints, keys);
  assert.equal(sticky.pick({ hashKey: 'x' })?.id, 'a');
  assert.equal(sticky.pick({ hashKey: 'x', exclude: new Set(['a']) })?.id, 'b');
  const rebuilt = new StickyBalancer(new RoundRobin([ep('b')]), [ep('b')], keys);
  assert.equal(rebuilt.pick({ hashKey: 'x' })?.id, 'b');
});
