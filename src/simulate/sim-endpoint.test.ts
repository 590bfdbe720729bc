import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Job, SimEndpoint } from './sim-endpoint.js';

function job(endpoint: SimEndpoint, costMs: number, startMs: number): Job {
  return { request: { atMs: startMs, client: 'c', costMs, memoryMb: 1, holdMs: 0 }, endpoint, startMs, open: true };
}

/** Runs the endpoint's own completion schedule until it is idle; returns each job's finishing time. */
function drain(endpoint: SimEndpoint): Map<Job, number> {
  const finished = new Map<Job, number>();
  for (let at = endpoint.nextDoneMs(); at !== undefined; at = endpoint.nextDoneMs()) {
    for (const done of endpoint.takeDone(at)) finished.set(done, at);
  }
  return finished;
}

test('a request alone takes its cost divided by the speed', () => {
  const endpoint = new SimEndpoint(0, { speed: 2, cores: 1, weight: 1 });
  const only = job(endpoint, 10, 0);
  endpoint.start(only, 0);
  assert.equal(drain(endpoint).get(only), 5);
});

test('two requests on one core share it: both take twice as long, the shorter one finishes first', () => {
  const endpoint = new SimEndpoint(0, { speed: 1, cores: 1, weight: 1 });
  const short = job(endpoint, 10, 0);
  const long = job(endpoint, 30, 0);
  endpoint.start(short, 0);
  endpoint.start(long, 0);
  const finished = drain(endpoint);
  // Both progress at 1/2 until the short one is done at 20; the long one then runs alone for its last 20.
  assert.equal(finished.get(short), 20);
  assert.equal(finished.get(long), 40);
});

test('up to `cores` requests run at full speed; memory and open connections follow the requests', () => {
  const endpoint = new SimEndpoint(0, { speed: 1, cores: 2, weight: 1 });
  const a = job(endpoint, 10, 0);
  const b = job(endpoint, 10, 0);
  endpoint.start(a, 0);
  endpoint.start(b, 0);
  assert.equal(endpoint.memoryMb, 2);
  assert.equal(endpoint.open, 2);
  const finished = drain(endpoint);
  assert.deepEqual([finished.get(a), finished.get(b)], [10, 10]);
  endpoint.close(a);
  assert.equal(endpoint.open, 1);
  assert.deepEqual(endpoint.fail(12), [b]);
  assert.equal(endpoint.memoryMb, 0);
});
