import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EndpointGate, type GateWaiter } from './endpoint-gate.js';

/** A waiter that records what happened to it; `proceed` takes the connection as the proxy does. */
function waiter(gate: EndpointGate, log: string[], name: string): GateWaiter {
  return {
    proceed: () => {
      gate.active++;
      log.push(`${name} proceeds`);
    },
    expire: () => log.push(`${name} expires`),
  };
}

test('beyond max, requests wait in order; each release lets the oldest go; a full queue refuses', () => {
  const gate = new EndpointGate(2);
  const log: string[] = [];
  gate.active = 2;
  assert.equal(gate.free, false);
  const a = gate.enqueue(waiter(gate, log, 'a'), 2, 10_000);
  const b = gate.enqueue(waiter(gate, log, 'b'), 2, 10_000);
  assert.ok(a !== undefined && b !== undefined);
  assert.equal(gate.enqueue(waiter(gate, log, 'c'), 2, 10_000), undefined, 'the third finds the queue full');
  gate.release();
  assert.deepEqual(log, ['a proceeds']);
  assert.equal(gate.active, 2);
  gate.release();
  assert.deepEqual(log, ['a proceeds', 'b proceeds']);
  assert.equal(gate.waiting, 0);
  gate.release();
  gate.release();
  assert.equal(gate.active, 0);
  assert.equal(gate.free, true);
});

test('a cancelled place is skipped and frees room in the queue', () => {
  const gate = new EndpointGate(1);
  const log: string[] = [];
  gate.active = 1;
  const a = gate.enqueue(waiter(gate, log, 'a'), 1, 10_000)!;
  gate.cancel(a);
  assert.equal(gate.waiting, 0);
  assert.ok(gate.enqueue(waiter(gate, log, 'b'), 1, 10_000) !== undefined);
  gate.release();
  assert.deepEqual(log, ['b proceeds']);
});

test('a request that waits timeoutMs expires, in queue order, and the timer is rearmed for the next', async () => {
  const gate = new EndpointGate(1);
  const log: string[] = [];
  gate.active = 1;
  gate.enqueue(waiter(gate, log, 'a'), 10, 50);
  await sleep(30);
  gate.enqueue(waiter(gate, log, 'b'), 10, 100);
  await sleep(60);
  assert.deepEqual(log, ['a expires']);
  await sleep(80);
  assert.deepEqual(log, ['a expires', 'b expires']);
  assert.equal(gate.waiting, 0);
  assert.equal(gate.active, 1, 'expiry takes no connection');
});
