import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBudget } from './retry-budget.js';

test('with no traffic the minimum number of retries is still allowed, and no more', () => {
  const budget = new RetryBudget(() => 5_000);
  assert.deepEqual(
    Array.from({ length: 4 }, () => budget.withdraw(20, 3)),
    [true, true, true, false],
  );
});

test('retries are capped at the percentage of requests in the window', () => {
  const budget = new RetryBudget(() => 5_000);
  for (let i = 0; i < 100; i++) budget.deposit();
  const granted = Array.from({ length: 30 }, () => budget.withdraw(20, 3)).filter(Boolean).length;
  assert.equal(granted, 20);
});

test('the window slides: old requests and retries stop counting after ten seconds', () => {
  let now = 1_000;
  const budget = new RetryBudget(() => now);
  for (let i = 0; i < 50; i++) budget.deposit();
  assert.equal(Array.from({ length: 15 }, () => budget.withdraw(20, 3)).filter(Boolean).length, 10);
  now += 5_000;
  assert.equal(budget.withdraw(20, 3), false, 'still within the window');
  now += 6_000;
  assert.equal(
    Array.from({ length: 5 }, () => budget.withdraw(20, 3)).filter(Boolean).length,
    3,
    'back to the minimum',
  );
});
