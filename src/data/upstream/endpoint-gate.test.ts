import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EndpointGate, type GateWaiter } from './endpoint-gate.js';
import type { Lease } from './lease.js';

/** A waiter that records what happened to it and keeps the slot it was given. */
function waiter(log: string[], name: string, slots: Lease[]): GateWaiter {
  return {
    proceed: (slot) => {
      slots.push(slot);
      log.push(`${name} proceeds`);
    },
    expire: () => log.push(`${name} expires`),
  };
}

test('beyond capacity, requests wait in order; each slot given back lets the oldest go; a full queue refuses', () => {
  const gate = new EndpointGate(2);
  const log: string[] = [];
  const slots = [gate.take()!, gate.take()!];
  assert.equal(gate.take(), undefined);
  assert.equal(gate.free, false);
  const a = gate.enqueue(waiter(log, 'a', slots), 2, 10_000);
  const b = gate.enqueue(waiter(log, 'b', slots), 2, 10_000);
  assert.ok(a !== undefined && b !== undefined);
  assert.equal(gate.enqueue(waiter(log, 'c', slots), 2, 10_000), undefined, 'the third finds the queue full');
  slots[0]!.release();
  assert.deepEqual(log, ['a proceeds']);
  assert.equal(gate.active, 2);
  slots[1]!.release();
  assert.deepEqual(log, ['a proceeds', 'b proceeds']);
  assert.equal(gate.waiting, 0);
  for (const slot of slots) slot.release();
  assert.equal(gate.active, 0);
  assert.equal(gate.free, true);
});

test('a slot released twice frees one place only', () => {
  const gate = new EndpointGate(1);
  const slot = gate.take()!;
  const other: Lease[] = [];
  const log: string[] = [];
  gate.enqueue(waiter(log, 'a', other), 5, 10_000);
  gate.enqueue(waiter(log, 'b', other), 5, 10_000);
  slot.release();
  slot.release();
  assert.deepEqual(log, ['a proceeds'], 'the second release let nobody else in');
  assert.equal(gate.active, 1);
});

test('a larger capacity (more streams per connection) lets waiters go at once', () => {
  const gate = new EndpointGate(1);
  const slots = [gate.take()!];
  const log: string[] = [];
  gate.enqueue(waiter(log, 'a', slots), 5, 10_000);
  gate.enqueue(waiter(log, 'b', slots), 5, 10_000);
  gate.resize(3);
  assert.deepEqual(log, ['a proceeds', 'b proceeds']);
  assert.equal(gate.active, 3);
  assert.equal(gate.capacity, 3);
});

test('a cancelled place is skipped and frees room in the queue', () => {
  const gate = new EndpointGate(1);
  const log: string[] = [];
  const slots = [gate.take()!];
  const a = gate.enqueue(waiter(log, 'a', slots), 1, 10_000)!;
  gate.cancel(a);
  assert.equal(gate.waiting, 0);
  assert.ok(gate.enqueue(waiter(log, 'b', slots), 1, 10_000) !== undefined);
  slots[0]!.release();
  assert.deepEqual(log, ['b proceeds']);
});

test('a request that waits timeoutMs expires, in queue order, and the timer is rearmed for the next', async () => {
  const gate = new EndpointGate(1);
  const log: string[] = [];
  const slots = [gate.take()!];
  gate.enqueue(waiter(log, 'a', slots), 10, 50);
  await sleep(30);
  gate.enqueue(waiter(log, 'b', slots), 10, 100);
  await sleep(60);
  assert.deepEqual(log, ['a expires']);
  await sleep(80);
  assert.deepEqual(log, ['a expires', 'b expires']);
  assert.equal(gate.waiting, 0);
  assert.equal(gate.active, 1, 'expiry takes no slot');
});
