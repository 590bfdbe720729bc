import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventQueue } from './event-queue.js';
import { mulberry32 } from './random.js';

test('events come out by virtual time, and events at the same instant in the order they were pushed', () => {
  const queue = new EventQueue<string>();
  queue.push(5, 'c');
  queue.push(1, 'a');
  queue.push(5, 'd');
  queue.push(3, 'b');
  queue.push(5, 'e');
  const order: string[] = [];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) order.push(next.item);
  assert.deepEqual(order, ['a', 'b', 'c', 'd', 'e']);
});

test('a thousand random times come out sorted, ties in insertion order', () => {
  const random = mulberry32(7);
  const queue = new EventQueue<number>();
  for (let i = 0; i < 1000; i++) queue.push(Math.floor(random() * 50), i);
  let previous = { timeMs: -1, item: -1 };
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    assert.ok(next.timeMs > previous.timeMs || (next.timeMs === previous.timeMs && next.item > previous.item));
    previous = next;
  }
  assert.equal(queue.size, 0);
});
