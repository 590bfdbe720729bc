import type { Workload } from './workload.js';

/** What every preset shares unless it says otherwise. */
const base = {
  endpointSpecs: [{ speed: 1, cores: 4, weight: 1 }],
  endpointCount: 4,
  durationMs: 60_000,
  clients: { count: 1000, skew: 0 },
  stickiness: 'off',
  loadMetric: 'in-flight',
  outages: [],
  slowdowns: [],
  windows: [],
  // Health checks every 2 s with fall 3 / rise 2 notice a change in about this long.
  detectMs: 6_000,
  heartbeatMs: 1_000,
  stepMs: 500,
} as const satisfies Partial<Workload>;

/** Short, similar requests from many clients: every algorithm spreads them well, round-robin included. */
const shortUniform: Workload = {
  ...base,
  name: 'short-uniform',
  description: 'short requests (5-15 ms of work) from 1000 clients, Poisson arrivals',
  expectation: 'round-robin is about as even as the best: with uniform short work there is nothing to outsmart',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 280 },
  classes: [
    { name: 'request', share: 1, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
  ],
};

/** Long-lived sessions (WebSockets) and an instance restart: counts of open connections matter. */
const longSessions: Workload = {
  ...base,
  name: 'long-sessions',
  durationMs: 90_000,
  description:
    'WebSocket-like sessions open 5 s to 2 min (heavy-tailed), 5 new a second per endpoint; one endpoint restarts',
  expectation:
    'least-connections refills the restarted endpoint; round-robin gives it only its 1/n of new sessions, so it stays light',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 5 },
  classes: [
    {
      name: 'session',
      share: 1,
      costMs: { kind: 'uniform', min: 2, max: 8 },
      memoryMb: { kind: 'fixed', value: 2 },
      holdMs: { kind: 'pareto', min: 5_000, max: 120_000, alpha: 1.5 },
    },
  ],
  outages: [{ endpoint: 1, downAtMs: 20_000, upAtMs: 30_000 }],
};

/** Mostly tiny requests and a few huge ones: connection counts lie about memory, reported load does not. */
const unevenCost: Workload = {
  ...base,
  name: 'uneven-cost',
  endpointSpecs: [{ speed: 1, cores: 8, weight: 1 }],
  description: '98 % small requests (10 ms, 1 MB) and 2 % big ones (1-3 s, 100 MB), arriving in bursts',
  expectation:
    'least-load (memory reported by the instances) beats least-connections (which counts a 100 MB request as one)',
  arrivals: { kind: 'bursty', perEndpointPerSecond: 80, burstFactor: 2, burstMs: 2_000, calmMs: 8_000 },
  classes: [
    { name: 'small', share: 98, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
    {
      name: 'big',
      share: 2,
      costMs: { kind: 'uniform', min: 1000, max: 3000 },
      memoryMb: { kind: 'fixed', value: 100 },
    },
  ],
  loadMetric: 'memory',
};

/** A few chatty clients pinned by stickiness: the endpoints that drew them carry more. */
const sticky: Workload = {
  ...base,
  name: 'sticky',
  description:
    '40 clients with Zipf-distributed activity (the busiest sends about a quarter), each algorithm with and without stickiness',
  expectation: 'stickiness pins the chatty clients, so load follows clients instead of requests and skews',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 200 },
  classes: [
    { name: 'request', share: 1, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
  ],
  clients: { count: 40, skew: 1 },
  stickiness: 'compare',
};

/**
 * The setup of traefik/traefik#12306: five identical single-core instances doing CPU-bound jobs of three sizes, about
 * 1,500 requests. Traefik's least-time gave one instance 5 of them and the others about 370 each.
 */
const identical: Workload = {
  ...base,
  name: 'identical',
  endpointSpecs: [{ speed: 1, cores: 1, weight: 1 }],
  endpointCount: 5,
  durationMs: 30_000,
  description:
    'five identical single-core instances, CPU-bound jobs of three sizes (20, 50, 100 ms), about 1,500 requests (traefik#12306)',
  expectation:
    'every algorithm keeps the most ÷ fewest requests per instance near 1 (≤ 1.25 for peak-ewma); no identical instance starves',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 10 },
  classes: [
    { name: 'a', share: 1, costMs: { kind: 'fixed', value: 20 }, memoryMb: { kind: 'fixed', value: 1 } },
    { name: 'b', share: 1, costMs: { kind: 'fixed', value: 50 }, memoryMb: { kind: 'fixed', value: 1 } },
    { name: 'c', share: 1, costMs: { kind: 'fixed', value: 100 }, memoryMb: { kind: 'fixed', value: 1 } },
  ],
};

/** When e3 slows down and when it recovers, in the slow-instance preset. */
const slowFromMs = 20_000;
const slowUntilMs = 40_000;

/** One of five instances becomes ten times slower for 20 s, then recovers: what peak-ewma exists for. */
const slowInstance: Workload = {
  ...base,
  name: 'slow-instance',
  endpointCount: 5,
  description: `short requests (10 ms); e3 works 10x slower from ${slowFromMs / 1000} s to ${slowUntilMs / 1000} s (a noisy neighbour), then recovers`,
  expectation:
    'peak-ewma moves e3 down to a few % of its fair share within 200 requests and back to it within 2 s of recovery; the others keep sending it its share and queue up on it',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 100 },
  classes: [{ name: 'request', share: 1, costMs: { kind: 'fixed', value: 10 }, memoryMb: { kind: 'fixed', value: 1 } }],
  slowdowns: [{ endpoint: 2, fromMs: slowFromMs, toMs: slowUntilMs, factor: 10 }],
  chart: 'requests',
  windows: [
    { label: 'before', endpoint: 2, fromMs: 10_000, untilMs: slowFromMs },
    { label: 'first 200', endpoint: 2, fromMs: slowFromMs, count: 200 },
    { label: 'next 200', endpoint: 2, fromMs: slowFromMs, skip: 200, count: 200 },
    { label: 'while slow', endpoint: 2, fromMs: slowFromMs + 1_000, untilMs: slowUntilMs },
    { label: 'after +0-1 s', endpoint: 2, fromMs: slowUntilMs, untilMs: slowUntilMs + 1_000 },
    { label: '+1-2 s', endpoint: 2, fromMs: slowUntilMs + 1_000, untilMs: slowUntilMs + 2_000 },
    { label: '+2-10 s', endpoint: 2, fromMs: slowUntilMs + 2_000, untilMs: slowUntilMs + 10_000 },
  ],
};

/** Instances of three sizes with weights to match: shares follow the weights, load per unit of weight stays even. */
const unequalWeights: Workload = {
  ...base,
  name: 'unequal-weights',
  endpointSpecs: [
    { speed: 1, cores: 8, weight: 4 },
    { speed: 1, cores: 4, weight: 2 },
    { speed: 1, cores: 2, weight: 1 },
    { speed: 1, cores: 2, weight: 1 },
  ],
  description: 'short requests (5-15 ms) on instances of 8, 4, 2 and 2 cores, with weights 4, 2, 1 and 1',
  expectation:
    'every weighted algorithm gives e1 half the work and e3, e4 an eighth each; round-robin and weighted-round-robin are one algorithm when weights differ',
  // 70 % of 16 cores, spread over 4 endpoints' worth of arrivals.
  arrivals: { kind: 'poisson', perEndpointPerSecond: 280 },
  classes: [
    { name: 'request', share: 1, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
  ],
};

/** Loads reported only by heartbeats, once a second: between two reports every pick sees the same numbers. */
const heartbeatLoad: Workload = {
  ...base,
  name: 'heartbeat-load',
  description:
    'short requests (5-15 ms) from 1000 clients; instances report their load (requests in progress) only in heartbeats, once a second',
  expectation:
    'least-load projects each report with the requests sent and finished since, so it stays about as even as least-connections instead of herding onto the lowest reporter for a second',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 280 },
  classes: [
    { name: 'request', share: 1, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
  ],
  loadOnResponses: false,
};

/** The shipped workloads, by name (`switchyard simulate --preset NAME`). */
export const presets: Readonly<Record<string, Workload>> = {
  'short-uniform': shortUniform,
  'long-sessions': longSessions,
  'uneven-cost': unevenCost,
  sticky,
  identical,
  'slow-instance': slowInstance,
  'unequal-weights': unequalWeights,
  'heartbeat-load': heartbeatLoad,
};

export const presetNames = Object.keys(presets);
