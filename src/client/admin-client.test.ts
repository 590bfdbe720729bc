import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRetryAfter, retryDelayMs } from './admin-client.js';

test('Retry-After is read as seconds or as an HTTP date, and capped at 60 s', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('3', now), 3_000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5_000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date in the past: at once');
  assert.equal(parseRetryAfter('86400', now), 60_000);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});

test('without Retry-After the delay doubles from 200 ms up to the cap, jittered to 50-100 %', () => {
  const at = (random: number) => [1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, undefined, 5_000, () => random));
  assert.deepEqual(at(0.9999999), [200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.deepEqual(at(0), [100, 200, 400, 800, 1600, 2500, 2500]);
  assert.equal(retryDelayMs(3, 2_000), 2_000, "the server's Retry-After wins");
  assert.equal(retryDelayMs(3, 0), 100, 'Retry-After: 0 is not a tight loop');
});
