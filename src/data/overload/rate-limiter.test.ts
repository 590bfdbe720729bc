import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from './rate-limiter.js';

const limiter = (requestsPerSecond: number, burst: number, key = 'client-ip', maxKeys = 100) =>
  new RateLimiter({ requestsPerSecond, burst, key, maxKeys });

const field = (headers: readonly string[], name: string): string | undefined => headers[headers.indexOf(name) + 1];

test('a key spends its burst, is refused with Retry-After, and refills at requestsPerSecond', () => {
  const l = limiter(2, 3);
  const t0 = 1_000_000;
  const taken = [l.take('ip:a', t0), l.take('ip:a', t0), l.take('ip:a', t0)];
  assert.deepEqual(
    taken.map((d) => [d.allowed, field(d.headers, 'ratelimit-remaining')]),
    [
      [true, '2'],
      [true, '1'],
      [true, '0'],
    ],
  );
  const refused = l.take('ip:a', t0 + 100);
  assert.equal(refused.allowed, false);
  assert.equal(field(refused.headers, 'retry-after'), '1', 'the next token is 400 ms away: rounded up to 1 s');
  assert.equal(field(refused.headers, 'ratelimit-limit'), '3');
  assert.equal(field(refused.headers, 'ratelimit-reset'), '2', '2.8 tokens to refill at 2/s');
  assert.equal(field(refused.headers, 'ratelimit-policy'), '3;w=2');
  assert.equal(l.take('ip:a', t0 + 500).allowed, true, 'one token back after 500 ms');
  assert.equal(l.take('ip:a', t0 + 500).allowed, false);
  assert.equal(l.take('ip:b', t0 + 500).allowed, true, 'every key has its own bucket');
});

test('a refused request spends nothing: a client that keeps retrying gets in as soon as a token is back', () => {
  const l = limiter(1, 1);
  assert.equal(l.take('k', 0).allowed, true);
  for (let t = 100; t < 1_000; t += 100) assert.equal(l.take('k', t).allowed, false);
  assert.equal(l.take('k', 1_000).allowed, true);
});

test('keys come from a header (case-insensitive name), else the client address; long values are cut', () => {
  const l = limiter(1, 1, 'header:x-api-key');
  assert.equal(l.keyOf(['Host', 'a', 'X-API-Key', 'secret'], '10.0.0.1'), 'h:secret');
  assert.equal(l.keyOf(['Host', 'a'], '10.0.0.1'), 'ip:10.0.0.1');
  assert.equal(l.keyOf(['x-api-key', 'v'.repeat(1000)], '10.0.0.1').length, 2 + 256);
  assert.equal(limiter(1, 1).keyOf(['x-api-key', 'secret'], '10.0.0.1'), 'ip:10.0.0.1');
});

test('the key table is bounded: the least recently used key goes first; idle (refilled) keys are dropped early', () => {
  const l = limiter(10, 1, 'client-ip', 3);
  for (const key of ['a', 'b', 'c']) l.take(key, 0);
  l.take('a', 0); // a is now the most recently used (and empty)
  l.take('d', 0); // full table: b (least recently used) goes
  assert.equal(l.size, 3);
  assert.equal(l.take('a', 0).allowed, false, 'a kept its (empty) bucket');
  assert.equal(l.take('b', 0).allowed, true, 'b was forgotten: a full bucket again');
  // Much later every bucket has refilled: a new key drops idle ones from the old end.
  l.take('e', 60_000);
  assert.ok(l.size <= 2, `idle keys were dropped (${l.size} left)`);
});
