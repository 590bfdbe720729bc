import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pool } from 'undici';
import type { Endpoint } from '../../core/endpoint.js';
import { proxyErrors } from '../../core/errors.js';
import type { ServiceSnapshot } from '../../core/snapshot.js';
import type { OverloadGuard } from '../overload/overload-guard.js';
import { RoundRobin } from '../balancing/round-robin.js';
import type { EndpointRuntime, ServiceRuntime } from '../runtime.js';
import { anyRequest, attemptPolicies } from './attempt-policy.js';
import { UpstreamTries, type UpstreamAttempt } from './attempt.js';
import { EndpointGate, type GateWaiter } from './endpoint-gate.js';
import { EndpointGauge } from './endpoint-gauge.js';
import type { Lease } from './lease.js';
import { RetryBudget } from './retry-budget.js';

interface World {
  readonly service: ServiceRuntime;
  readonly runtimes: readonly EndpointRuntime[];
  readonly failures: string[];
  readonly overload: { counts: { queueFull: number; queueTimeout: number } };
}

/** A service of real gauges, gates and a round-robin balancer over `ids` (capacity `capacity` each). */
function world(ids: readonly string[], options: { capacity?: number; maxPending?: number } = {}): World {
  const endpoints: Endpoint[] = ids.map((id) => ({
    id,
    url: `http://${id}.test:80`,
    weight: 1,
    state: 'ready',
    metadata: {},
  })) as unknown as Endpoint[];
  const runtimes = endpoints.map((endpoint) => ({
    endpoint,
    pool: {} as Pool,
    load: new EndpointGauge(),
    gate: new EndpointGate(options.capacity ?? 10),
  }));
  const failures: string[] = [];
  const overload = { counts: { queueFull: 0, queueTimeout: 0 }, retryAfter: [] };
  const snapshot = {
    name: 'svc',
    endpoints,
    maxConnectionsPerEndpoint: options.capacity ?? 10,
    maxPendingPerEndpoint: options.maxPending ?? 10,
    timeouts: { queueMs: 10_000 },
    retries: { budgetPercent: 20, minRetries: 3 },
  } as unknown as ServiceSnapshot;
  const service: ServiceRuntime = {
    snapshot,
    balancer: new RoundRobin(endpoints),
    endpoints: new Map(runtimes.map((r) => [r.endpoint.id, r])),
    retryBudget: new RetryBudget(),
    counters: { service: 'svc', retries: 0 },
    facts: { upstreamFailure: (_s, id, streak) => failures.push(`${id}:${streak}`) },
    overload: overload as unknown as OverloadGuard,
    measures: { latency: undefined, reportedLoad: false },
  };
  return { service, runtimes, failures, overload };
}

const noWaiting: GateWaiter = {
  proceed: () => assert.fail('nobody should wait'),
  expire: () => assert.fail('nobody should wait'),
};

function admitted(tries: UpstreamTries, waiter: GateWaiter = noWaiting): UpstreamAttempt {
  const admission = tries.admit(waiter);
  assert.ok(
    typeof admission === 'object',
    `expected an attempt, got ${typeof admission === 'string' ? admission : 'nothing'}`,
  );
  return admission;
}

test('an attempt holds one in-flight unit and one gate slot, and ending it twice gives them back once', () => {
  const { service, runtimes } = world(['a']);
  const attempt = admitted(new UpstreamTries(service, attemptPolicies.http));
  const a = runtimes[0]!;
  assert.equal(a.load.inFlight, 1);
  assert.equal(a.gate.active, 1);
  attempt.end();
  attempt.end();
  assert.equal(a.load.inFlight, 0);
  assert.equal(a.gate.active, 0);
  assert.equal(a.load.requests, 1);
  assert.deepEqual(a.load.responses, [1, 0, 0, 0, 0, 0], 'one attempt without an answer, counted once');
});

test('a failed try is reported and ended; the next pick leaves the tried endpoint out; the policy stops at two', () => {
  const { service, runtimes, failures } = world(['a', 'b', 'c']);
  const tries = new UpstreamTries(service, attemptPolicies.http);
  const first = admitted(tries);
  assert.equal(tries.failed(first, 'nothing-sent', anyRequest), 'another');
  const second = admitted(tries);
  assert.notEqual(second.endpoint, first.endpoint);
  assert.equal(second.retry, true);
  assert.equal(service.counters.retries, 1);
  assert.equal(tries.failed(second, 'nothing-sent', anyRequest), 'answer');
  assert.deepEqual(failures, [`${first.endpoint.endpoint.id}:1`, `${second.endpoint.endpoint.id}:1`]);
  for (const r of runtimes) assert.equal(r.load.inFlight, 0);
});

test('a failure that says nothing of the endpoint (the request itself, local descriptors) is not reported', () => {
  const { service, failures } = world(['a', 'b']);
  const tries = new UpstreamTries(service, attemptPolicies.http);
  tries.failed(admitted(tries), 'request-fault', anyRequest);
  const next = new UpstreamTries(service, attemptPolicies.http);
  next.failed(admitted(next), 'local', anyRequest);
  assert.deepEqual(failures, []);
});

test('a reset moves an idempotent request on only while the retry budget lasts', () => {
  const { service } = world(['a', 'b', 'c']);
  const get = { method: 'GET', replayable: true, buffered: true };
  const steps: string[] = [];
  for (let i = 0; i < 6; i++) {
    const tries = new UpstreamTries(service, attemptPolicies.http);
    steps.push(tries.failed(admitted(tries), 'reset', get));
  }
  // No deposits: minRetries (3) is all the budget there is.
  assert.deepEqual(steps, ['another', 'another', 'another', 'answer', 'answer', 'answer']);
});

test('a full endpoint is passed for one with room; when all are full the request queues and goes when granted', () => {
  const { service, runtimes } = world(['a', 'b'], { capacity: 1 });
  const held = [admitted(new UpstreamTries(service, attemptPolicies.http))];
  const second = admitted(new UpstreamTries(service, attemptPolicies.http));
  assert.notEqual(second.endpoint, held[0]!.endpoint, 'the full endpoint was passed over');
  held.push(second);
  const granted: Lease[] = [];
  const tries = new UpstreamTries(service, attemptPolicies.http);
  const waiter: GateWaiter = { proceed: (slot) => granted.push(slot), expire: () => assert.fail('no expiry') };
  assert.equal(tries.admit(waiter), 'queued');
  assert.equal(tries.queued, true);
  held[0]!.end();
  assert.equal(granted.length, 1);
  const attempt = tries.granted(granted[0]!);
  assert.equal(attempt.endpoint.gate.active, 1);
  attempt.end();
  held[1]!.end();
  for (const r of runtimes) assert.deepEqual([r.load.inFlight, r.gate.active], [0, 0]);
});

test('a full queue refuses at once and is counted', () => {
  const { service, overload } = world(['a'], { capacity: 1, maxPending: 0 });
  admitted(new UpstreamTries(service, attemptPolicies.http));
  assert.equal(new UpstreamTries(service, attemptPolicies.http).admit(noWaiting), 'queue-full');
  assert.equal(overload.counts.queueFull, 1);
});

test('stickiness sends the first try to its endpoint even when it is full, and only the first', () => {
  const { service, runtimes } = world(['a', 'b'], { capacity: 1 });
  const b = runtimes[1]!;
  const busy = new UpstreamTries(service, attemptPolicies.http, { preferred: b });
  const sticky = admitted(busy);
  assert.equal(sticky.endpoint, b);
  assert.equal(sticky.sticky, true);
  assert.equal(b.load.stickyRequests, 1);
  const waiter: GateWaiter = { proceed: () => undefined, expire: () => undefined };
  assert.equal(new UpstreamTries(service, attemptPolicies.http, { preferred: b }).admit(waiter), 'queued');
  busy.failed(sticky, 'nothing-sent', anyRequest);
  const retry = admitted(busy);
  assert.equal(retry.endpoint, runtimes[0]);
  assert.equal(retry.sticky, false);
});

test('L4 tries pass over endpoints at maxConnectionsPerEndpoint without counting them as tried', () => {
  const { service, runtimes } = world(['a', 'b', 'c'], { capacity: 1 });
  const tcp = (): UpstreamAttempt | undefined => new UpstreamTries(service, attemptPolicies.tcp).connect(true);
  const open = [tcp(), tcp(), tcp()];
  assert.deepEqual(new Set(open.map((a) => a?.endpoint.endpoint.id)), new Set(['a', 'b', 'c']));
  assert.equal(tcp(), undefined, 'every endpoint is full');
  open[1]!.end();
  assert.equal(tcp()?.endpoint, runtimes[1]);
});

test('answers feed passive health: 502–504 grow the streak, anything else ends it', () => {
  const { service, runtimes, failures } = world(['a']);
  const a = runtimes[0]!;
  for (const status of [503, 502, 200, 504]) {
    const attempt = admitted(new UpstreamTries(service, attemptPolicies.http));
    attempt.answer(status);
    attempt.end();
  }
  assert.deepEqual(failures, ['a:1', 'a:2', 'a:1']);
  assert.equal(a.load.consecutiveErrors, 1);
  assert.deepEqual(a.load.responses, [0, 0, 1, 0, 0, 3]);
});

test('a tunnel or connection counts in flight and bytes, not answers', () => {
  const { service, runtimes } = world(['a']);
  const tunnel = new UpstreamTries(service, attemptPolicies.websocket).connect(false)!;
  tunnel.answer(101);
  tunnel.sent(10);
  tunnel.received(32);
  tunnel.end();
  const a = runtimes[0]!;
  assert.deepEqual(a.load.responses, [0, 0, 0, 0, 0, 0]);
  assert.deepEqual([a.load.bytesOut, a.load.bytesIn, a.load.inFlight], [10, 32, 0]);
});

test('the service measures what its algorithm asked for: response times, reported loads', () => {
  const { service, runtimes } = world(['a']);
  const observed: number[] = [];
  const measuring: ServiceRuntime = {
    ...service,
    measures: {
      latency: () => ({ observe: (ms) => observed.push(ms), value: () => observed.at(-1) }),
      reportedLoad: true,
    },
  };
  const attempt = admitted(new UpstreamTries(measuring, attemptPolicies.http));
  attempt.answer(200, [Buffer.from('X-Load'), Buffer.from('0.75')]);
  attempt.end();
  assert.equal(observed.length, 1);
  assert.equal(runtimes[0]!.load.reportedLoad, 0.75);
});

test('with no endpoint at all the answer says none is registered; with none eligible, none is healthy', () => {
  const empty = world([]);
  const tries = new UpstreamTries(empty.service, attemptPolicies.http);
  assert.equal(tries.admit(noWaiting), undefined);
  assert.equal(tries.nobodyProblem(), proxyErrors.noEndpointRegistered);
  const { service } = world(['a']);
  const none = new UpstreamTries({ ...service, balancer: { pick: () => undefined } }, attemptPolicies.http);
  assert.equal(none.admit(noWaiting), undefined);
  assert.equal(none.nobodyProblem(), proxyErrors.noEndpoint);
});
