import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lease } from './lease.js';

test('a lease gives its unit back once however often it is released', () => {
  let count = 1;
  const lease = new Lease(() => count--);
  assert.equal(lease.held, true);
  assert.equal(lease.release(), true);
  assert.equal(lease.release(), false);
  assert.equal(lease.release(), false);
  assert.equal(count, 0);
  assert.equal(lease.held, false);
});

test('a release that re-enters (the unit wakes a waiter that releases again) still counts once', () => {
  let count = 1;
  const lease: Lease = new Lease(() => {
    count--;
    lease.release();
  });
  lease.release();
  assert.equal(count, 0);
});
