import type { EndpointId } from '../../core/endpoint.js';
import { proxyErrors, type ProxyError } from '../../core/errors.js';
import type { PickContext } from '../balancing/balancer.js';
import type { EndpointRuntime, ServiceRuntime } from '../runtime.js';
import type { AttemptPolicy, FailureKind, NextStep, RequestFacts } from './attempt-policy.js';
import { nextStep, reportsFailure } from './attempt-policy.js';
import type { GateTicket, GateWaiter } from './endpoint-gate.js';
import type { Lease } from './lease.js';

const noExclusions: PickContext = {};

/** What stickiness and hashing ask of the tries: the endpoint to try first, and the hash key (read when needed). */
export interface AttemptChoice {
  /** The endpoint stickiness chose: the first try goes there, whatever its load. */
  readonly preferred?: EndpointRuntime | undefined;
  /** For hash algorithms: the request's key (read at most once a pick, only when the algorithm uses one). */
  readonly hashKey?: (() => string | undefined) | undefined;
}

/** What `admit` decided: an attempt to send now, a place in the endpoint's queue, a full queue, or nobody left. */
export type Admission = UpstreamAttempt | 'queued' | 'queue-full' | undefined;

/**
 * The tries of one request, tunnel, connection or session at its service's endpoints (DESIGN §7, docs/lifecycle.md
 * "upstream"): pick (stickiness first, the hash key as input, endpoints already tried excluded), admit (the endpoint's
 * gate and queue for HTTP; endpoints at `maxConnectionsPerEndpoint` passed over for L4), then one `UpstreamAttempt`
 * per try, which holds the endpoint's lease. After a failure the attempt policy says whether another endpoint is
 * tried. Protocol code never touches a counter: it tells the attempt how its try went.
 */
export class UpstreamTries {
  readonly #service: ServiceRuntime;
  readonly #policy: AttemptPolicy;
  readonly #preferred: EndpointRuntime | undefined;
  readonly #hashKey: (() => string | undefined) | undefined;
  /** Endpoints this one may not pick again: those tried, and those passed over as full. */
  #excluded: Set<EndpointId> | undefined;
  #tries = 0;
  #ticket: GateTicket | undefined;
  #queuedAt: EndpointRuntime | undefined;

  constructor(service: ServiceRuntime, policy: AttemptPolicy, choice: AttemptChoice = {}) {
    this.#service = service;
    this.#policy = policy;
    this.#preferred = choice.preferred;
    this.#hashKey = choice.hashKey;
  }

  /** Tries begun so far. */
  get tries(): number {
    return this.#tries;
  }

  /**
   * What to answer when no endpoint is left before any try failed: the service has no endpoint at all, or none of
   * its endpoints is eligible.
   */
  nobodyProblem(): ProxyError {
    return this.#service.snapshot.endpoints.length === 0 ? proxyErrors.noEndpointRegistered : proxyErrors.noEndpoint;
  }

  /** True while waiting in an endpoint's queue. */
  get queued(): boolean {
    return this.#ticket !== undefined;
  }

  /**
   * The next HTTP attempt. When the picked endpoint's pool is at capacity, another endpoint with room is taken (not
   * for a sticky client); when none has room, `waiter` queues at the first choice (`maxPendingPerEndpoint`,
   * `queueMs`) and is told `proceed` (then call `granted`) or `expire`.
   */
  admit(waiter: GateWaiter): Admission {
    let runtime = this.#pick();
    if (runtime === undefined) return undefined;
    let slot = runtime.gate.take();
    const sticky = runtime === this.#preferred && this.#tries === 0;
    if (slot === undefined && !sticky) {
      const free = this.#withRoom(runtime);
      if (free !== undefined) {
        runtime = free.runtime;
        slot = free.slot;
      }
    }
    if (slot !== undefined) return this.#begin(runtime, sticky, slot);
    const { maxPendingPerEndpoint, timeouts } = this.#service.snapshot;
    const ticket = runtime.gate.enqueue(waiter, maxPendingPerEndpoint, timeouts.queueMs);
    if (ticket === undefined) {
      this.#service.overload.counts.queueFull++;
      return 'queue-full';
    }
    this.#ticket = ticket;
    this.#queuedAt = runtime;
    return 'queued';
  }

  /** The queue let this request go with `slot` (`GateWaiter.proceed`): the attempt at that endpoint. */
  granted(slot: Lease): UpstreamAttempt {
    const runtime = this.#queuedAt!;
    const sticky = runtime === this.#preferred && this.#tries === 0;
    this.#ticket = undefined;
    this.#queuedAt = undefined;
    return this.#begin(runtime, sticky, slot);
  }

  /** The request waited `queueMs` (`GateWaiter.expire`): counted; it is answered 503, no failure is reported. */
  expired(): void {
    this.#ticket = undefined;
    this.#queuedAt = undefined;
    this.#service.overload.counts.queueTimeout++;
  }

  /** Leaves the queue (the client went away while waiting). */
  leaveQueue(): void {
    if (this.#ticket !== undefined) this.#queuedAt?.gate.cancel(this.#ticket);
    this.#ticket = undefined;
    this.#queuedAt = undefined;
  }

  /**
   * The next attempt of a tunnel, connection or session. With `limit`, endpoints at `maxConnectionsPerEndpoint`
   * are passed over (not a failure of theirs, just not this connection's). Undefined when nobody is left.
   */
  connect(limit: boolean): UpstreamAttempt | undefined {
    const max = this.#service.snapshot.maxConnectionsPerEndpoint;
    for (;;) {
      const runtime = this.#pick();
      if (runtime === undefined) return undefined;
      if (!limit || runtime.load.inFlight < max) {
        return this.#begin(runtime, runtime === this.#preferred && this.#tries === 0, undefined);
      }
      (this.#excluded ??= new Set()).add(runtime.endpoint.id);
    }
  }

  /**
   * A try failed with `kind` (its attempt already ended or not): reported against the endpoint when it says something
   * about it, and the policy's next step given what the request is. `another-within-budget` is withdrawn from the
   * service's retry budget here and becomes `another` or `answer`.
   */
  failed(
    attempt: UpstreamAttempt,
    kind: FailureKind,
    request: RequestFacts,
  ): Exclude<NextStep, 'another-within-budget'> {
    attempt.end();
    // Made only now: a request whose first try goes well allocates no set.
    (this.#excluded ??= new Set()).add(attempt.endpoint.endpoint.id);
    if (reportsFailure(kind)) attempt.failed();
    const step = nextStep(this.#policy, this.#tries, kind, request);
    if (step !== 'another-within-budget') return step;
    const { budgetPercent, minRetries } = this.#service.snapshot.retries;
    return this.#service.retryBudget.withdraw(budgetPercent, minRetries) ? 'another' : 'answer';
  }

  /** The endpoint for the next try: stickiness' choice first, then the algorithm with tried ones excluded. */
  #pick(): EndpointRuntime | undefined {
    if (this.#tries === 0 && this.#excluded === undefined && this.#preferred !== undefined) return this.#preferred;
    return this.#algorithmPick(this.#excluded);
  }

  #algorithmPick(exclude: ReadonlySet<EndpointId> | undefined): EndpointRuntime | undefined {
    const service = this.#service;
    let ctx: PickContext = exclude === undefined ? noExclusions : { exclude };
    if (service.hashKey !== undefined && this.#hashKey !== undefined) {
      const hashKey = this.#hashKey();
      if (hashKey !== undefined) ctx = { ...ctx, hashKey };
    }
    const picked = service.balancer.pick(ctx);
    return picked === undefined ? undefined : service.endpoints.get(picked.id);
  }

  /** The first endpoint with room in the algorithm's order (tried ones left out), with its slot taken. */
  #withRoom(full: EndpointRuntime): { runtime: EndpointRuntime; slot: Lease } | undefined {
    const skip = new Set(this.#excluded);
    skip.add(full.endpoint.id);
    for (let left = this.#service.endpoints.size - 1; left > 0; left--) {
      const next = this.#algorithmPick(skip);
      if (next === undefined) return undefined;
      const slot = next.gate.take();
      if (slot !== undefined) return { runtime: next, slot };
      skip.add(next.endpoint.id);
    }
    return undefined;
  }

  #begin(runtime: EndpointRuntime, sticky: boolean, slot: Lease | undefined): UpstreamAttempt {
    const retry = this.#tries > 0;
    this.#tries++;
    if (retry && this.#policy.countsRequests) this.#service.counters.retries++;
    return new UpstreamAttempt(this.#service, runtime, sticky, retry, this.#policy.countsRequests, slot);
  }
}

/**
 * One try at one endpoint. It holds the endpoint's in-flight lease (and the gate slot, for HTTP) from the moment it
 * is made until `end()`, which releases both exactly once however often it is called; the protocol code calls it on
 * every path that ends the try (and the close of what it serves does too). While it runs it measures what the
 * service's algorithm asked for (response time, reported load), the answer's class, its duration and bytes, and
 * reports gateway errors to passive health.
 */
export class UpstreamAttempt {
  readonly endpoint: EndpointRuntime;
  /** Stickiness chose this endpoint. */
  readonly sticky: boolean;
  /** An earlier try of the same request failed. */
  readonly retry: boolean;
  /** When the try began (epoch ms). */
  readonly startedAt = Date.now();
  readonly #service: ServiceRuntime;
  readonly #countsRequests: boolean;
  readonly #lease: Lease;
  readonly #slot: Lease | undefined;
  #answered = false;

  constructor(
    service: ServiceRuntime,
    endpoint: EndpointRuntime,
    sticky: boolean,
    retry: boolean,
    countsRequests: boolean,
    slot: Lease | undefined,
  ) {
    this.#service = service;
    this.endpoint = endpoint;
    this.sticky = sticky;
    this.retry = retry;
    this.#countsRequests = countsRequests;
    this.#slot = slot;
    this.#lease = endpoint.load.enter(sticky);
  }

  /** True until `end()`. */
  get running(): boolean {
    return this.#lease.held;
  }

  /** True once a final response head came back. */
  get answered(): boolean {
    return this.#answered;
  }

  /**
   * The endpoint answered `status` (a final one). 502–504 count as a gateway error for outlier detection, anything
   * else ends a streak; the response time and the `X-Load` header feed the algorithm when it measures them.
   */
  answer(status: number, rawHeaders?: readonly Buffer[]): void {
    this.#answered = true;
    const load = this.endpoint.load;
    if (this.#countsRequests) load.answered(status);
    if (status >= 502 && status <= 504) this.failed();
    else load.succeeded();
    const measures = this.#service.measures;
    if (measures.latency !== undefined) {
      const now = Date.now();
      load.observeLatency(now - this.startedAt, now, measures.latency);
    }
    if (measures.reportedLoad && rawHeaders !== undefined) reportedLoadOf(rawHeaders, load);
  }

  /** An L4 connect succeeded or a UDP reply came: the endpoint's error streak ends. */
  connected(): void {
    this.endpoint.load.succeeded();
  }

  /** Bytes sent to the endpoint (request bodies, tunnel and L4 bytes, datagrams). */
  sent(bytes: number): void {
    this.endpoint.load.sent(bytes);
  }

  /** Bytes received from the endpoint. */
  received(bytes: number): void {
    this.endpoint.load.received(bytes);
  }

  /** A gateway error: counted against the endpoint and its streak told to the control plane (which may eject it). */
  failed(): void {
    const load = this.endpoint.load;
    const streak = load.failed();
    this.#service.facts.upstreamFailure(this.#service.snapshot.name, this.endpoint.endpoint.id, streak);
  }

  /** The try is over: its lease and gate slot are given back (once, whatever calls this and how often). */
  end(): void {
    if (!this.#lease.release()) return;
    if (this.#countsRequests)
      this.endpoint.load.finished(this.#answered ? (Date.now() - this.startedAt) / 1000 : undefined);
    this.#slot?.release();
  }
}

/** Reads an instance's `X-Load` response header (a non-negative number) into its gauge. */
function reportedLoadOf(rawHeaders: readonly Buffer[], load: EndpointRuntime['load']): void {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 6 || rawHeaders[i]!.toString('latin1').toLowerCase() !== 'x-load') continue;
    const value = Number(rawHeaders[i + 1]!.toString('latin1'));
    if (Number.isFinite(value) && value >= 0) load.reportLoad(value, Date.now(), 'header');
    return;
  }
}
